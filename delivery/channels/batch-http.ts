import { parseRetryAfter } from '../batch-sender.ts';
import type { DeviceTarget, SendOutcome } from '../channel.ts';
import { createHttp1Pool, type HttpResponse } from '../http1-pool.ts';
import { backoff, failed } from '../limits.ts';

/**
 * What the phone makers' batch APIs (Xiaomi, OPPO, vivo) have in common: HTTPS POSTs over HTTP/1.1 keep-alive
 * (delivery/http1-pool.ts), one request carrying hundreds of devices, a business code in a 200 answer, and
 * per-device results inside it. A client sends a page as chunks of the API's limit; each chunk is retried as a
 * whole with the rules below. (delivery/batch-sender.ts does this for Huawei and Honor, one request per batch
 * with an OAuth token; vivo's save-then-send, Xiaomi's static key and the daily quotas need the steps here.)
 */

export type VendorResponse = HttpResponse;

export interface VendorHttp {
  /** POSTs `body` to the base URL's path + `path`; rejects on network errors, timeouts and a closed client. */
  post(path: string, headers: Record<string, string>, body: string): Promise<VendorResponse>;
  /** Waits for the requests in flight, then closes the sockets. */
  close(): Promise<void>;
}

const REQUEST_TIMEOUT_MS = 15_000;

/** A few keep-alive sockets per client: a batch request carries up to 1,000 devices. */
export function createVendorHttp(
  baseUrl: string,
  opts: { ca?: string | Buffer | undefined; maxSockets?: number } = {},
): VendorHttp {
  const base = new URL(baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const pool = createHttp1Pool({ maxSockets: opts.maxSockets ?? 8, ca: opts.ca });
  const urls = new Map<string, URL>();
  return {
    post(path, headers, body) {
      let url = urls.get(path);
      if (!url) {
        url = new URL(`${prefix}${path}`, base.origin);
        urls.set(path, url);
      }
      return pool.post(url, headers, body, REQUEST_TIMEOUT_MS);
    },
    close: () => pool.close(),
  };
}

/** What one attempt at one chunk came to. */
export type ChunkAnswer =
  /** The vendor answered for every device of the chunk (sent, invalid, or failed one by one). */
  | { outcome: 'done'; outcomes: SendOutcome[] }
  /** Worth another try after a backoff (at least `retryAfterMs` when the vendor said so). */
  | { outcome: 'retry'; reason: string; retryAfterMs?: number }
  /** The auth token was refused: the attempt has dropped it; one more try with a fresh one. */
  | { outcome: 'reauthorize'; reason: string }
  /**
   * No use trying again (a bad request, bad credentials): every device of the chunk failed. `quota`: the
   * vendor's daily quota is spent, so nothing more is sent on this channel until the vendor's day ends.
   */
  | { outcome: 'failed'; reason: string; quota?: true };

/** A Retry-After longer than this is not worth holding a page for; the chunk fails instead. */
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * Runs `attempt` until it gives per-device outcomes, retrying network errors, throttling and 5xx with backoff
 * (at least the vendor's Retry-After) up to `maxRetries` times, and an auth refusal once with a fresh token.
 */
export async function sendChunk(
  targets: readonly DeviceTarget[],
  attempt: () => Promise<ChunkAnswer>,
  opts: { maxRetries: number; closed: () => boolean; quota: DailyQuota },
): Promise<SendOutcome[]> {
  let reauthorized = false;
  for (let n = 0; ; n++) {
    if (opts.closed()) return targets.map((t) => failed(t.token, 'ClientClosed'));
    const spent = opts.quota.spent();
    if (spent) return targets.map((t) => failed(t.token, spent));
    let answer: ChunkAnswer;
    try {
      answer = await attempt();
    } catch (err) {
      answer = { outcome: 'retry', reason: errorMessage(err) };
    }
    if (answer.outcome === 'done') return answer.outcomes;
    if (answer.outcome === 'reauthorize' && !reauthorized) {
      reauthorized = true;
      n--; // a fresh token is not a retry of the vendor's capacity
      continue;
    }
    const reason = answer.reason;
    if (answer.outcome === 'failed' && answer.quota) opts.quota.spend(reason);
    if (answer.outcome !== 'retry' || n >= opts.maxRetries)
      return targets.map((t) => failed(t.token, reason));
    const wait = Math.max(answer.retryAfterMs ?? 0, backoff(n));
    if (wait > MAX_RETRY_AFTER_MS) return targets.map((t) => failed(t.token, reason));
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/**
 * The vendors' daily quotas reset at midnight in China (UTC+8), and all three ask senders not to keep calling
 * once one is spent (vivo lowers the quota of those who do): after a quota answer the client fails its chunks
 * at once, with that answer's reason, until then.
 */
export interface DailyQuota {
  /** The quota answer's reason while the quota is spent, else undefined. */
  spent(): string | undefined;
  spend(reason: string): void;
}

const CHINA_OFFSET_MS = 8 * 3600_000;
const DAY_MS = 24 * 3600_000;

export function createDailyQuota(): DailyQuota {
  let until = 0;
  let why = '';
  return {
    spent: () => (Date.now() < until ? why : undefined),
    spend(reason) {
      const now = Date.now();
      until = Math.floor((now + CHINA_OFFSET_MS) / DAY_MS) * DAY_MS + DAY_MS - CHINA_OFFSET_MS;
      why = reason;
    },
  };
}

/**
 * Splits `items` into the fewest chunks of at most `max`, of nearly equal sizes (so no chunk is a lone device
 * when a list API wants at least two, as vivo's does).
 */
export function chunked<T>(items: readonly T[], max: number): T[][] {
  if (items.length === 0) return [];
  const count = Math.ceil(items.length / max);
  const base = Math.floor(items.length / count);
  const larger = items.length % count; // the first `larger` chunks take one more
  const out: T[][] = [];
  for (let c = 0, i = 0; c < count; c++) {
    const size = base + (c < larger ? 1 : 0);
    out.push(items.slice(i, i + size));
    i += size;
  }
  return out;
}

/** The common handling of a non-200 answer: 429 and 5xx are retried (after Retry-After), the rest failed. */
export function httpFailure(response: VendorResponse): ChunkAnswer {
  const reason = `HTTP ${response.status}`;
  if (response.status !== 429 && response.status < 500) return { outcome: 'failed', reason };
  return withRetryAfter({ outcome: 'retry', reason }, response.headers['retry-after']);
}

/** Adds the answer's Retry-After (delta-seconds or an HTTP date) to a retry, when it has one. */
export function withRetryAfter(
  answer: { outcome: 'retry'; reason: string },
  header: string | string[] | undefined,
): ChunkAnswer {
  const retryAfterMs = parseRetryAfter(header);
  return retryAfterMs === undefined ? answer : { ...answer, retryAfterMs };
}

/** A JSON object body, or undefined when the body is not one. */
export function parseObject(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err);
}

/**
 * `text` cut to at most `max` units of `width` (1 per character unless said otherwise), with an ellipsis when
 * cut: vendors refuse a whole batch over a title or body that is too long.
 */
const ELLIPSIS = '…';

export function truncate(text: string, max: number, width: (ch: string) => number = () => 1): string {
  let used = 0;
  const chars = [...text];
  for (let i = 0; i < chars.length; i++) {
    used += width(chars[i] as string);
    if (used > max) {
      // Room for the ellipsis within max, as the vendor counts it.
      const room = max - width(ELLIPSIS);
      let out = '';
      let w = 0;
      for (const ch of chars) {
        if (w + width(ch) > room) break;
        out += ch;
        w += width(ch);
      }
      return `${out}${ELLIPSIS}`;
    }
  }
  return text;
}
