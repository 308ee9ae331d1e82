/**
 * The performance knobs that are constants rather than settings, in one place, with the measurement or the
 * reason behind each value (docs/performance.md has the runs). Settings an operator is expected to change are
 * environment variables in core/config.ts (e.g. HERALD_PAGE_SIZE) or gateway options (gateway/options.ts).
 */

/**
 * Offline pages whose provider notifications may be in flight at once while the next pages are claimed. Also
 * the crash loss bound: a worker killed mid-push loses at most this many pages' notifications. 4, 8 and 16
 * measured within the noise of each other at 1M recipients.
 */
export const PAGES_IN_FLIGHT = 4;

/**
 * Offline pages one deliverOfflinePages activity handles before handing its cursor back to the workflow; a
 * push's numbered rows are split into ranges of this many pages, which run in parallel.
 */
export const PAGES_PER_ACTIVITY = 50;

/**
 * Page ranges of one push at once per worker polling its task queue, when HERALD_PAGE_PARALLELISM is unset. One:
 * a range already keeps PAGES_IN_FLIGHT pages sending while it claims the next, so a second range on the same
 * worker only doubles the claims contending in PostgreSQL — at 1M on one worker, two ranges made each claim
 * take 22 ms against 13.7 ms with one, for no gain end to end (docs/performance.md, "Page ranges at 1M").
 */
export const PAGE_RANGES_PER_WORKER = 1;

/** The most page ranges of one push at once (HERALD_PAGE_PARALLELISM, or sized from the workers). */
export const MAX_PAGE_PARALLELISM = 32;

/**
 * How long one deliverOfflinePages activity of a throttled push runs (pacing, not sending, takes its time)
 * before handing its cursor back to the workflow: well inside the activity's 30-minute start-to-close timeout,
 * and few enough activities in the history for a push that runs for hours.
 */
export const PACED_ACTIVITY_MS = 5 * 60_000;

/** Connected accounts per live-delivery read of one push on one gateway (gateway/fanout.ts). */
export const GATEWAY_LIVE_CHUNK = 1_000;

/** Live pushes looked at per sync statement when a client connects (gateway/sync.ts). */
export const GATEWAY_SYNC_CHUNK = 50;

/** HTTP/2 sessions per provider origin and app (APNs, FCM). */
export const PROVIDER_CONNECTIONS = 2;

/** Requests in flight per app to APNs (Apple allows many concurrent streams per connection). */
export const APNS_CONCURRENCY = 500;

/** Requests in flight per app to FCM. */
export const FCM_CONCURRENCY = 200;

/** Batch requests in flight per app to a vendor's batch API (Huawei, Honor: up to 1,000 devices each). */
export const VENDOR_BATCH_CONCURRENCY = 8;

/** Web Push requests in flight per app, across every push service (each request is its own HTTP/1.1 exchange). */
export const WEBPUSH_CONCURRENCY = 200;

/** Keep-alive HTTP/1.1 sockets per push-service origin and app (an exchange holds its socket until answered). */
export const WEBPUSH_SOCKETS_PER_ORIGIN = 50;

/**
 * How long the api keeps an idle HTTP keep-alive connection: longer than clients' own idle timeouts (undici's,
 * load balancers' 60 s), so the client closes it first and never sends a request into a closing socket.
 */
export const API_KEEP_ALIVE_MS = 65_000;
