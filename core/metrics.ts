/**
 * Herald's Prometheus metrics: one registry per process, the metric objects every layer counts on, and the
 * text `/metrics` answers (api: a route; worker: cli/metrics-server.ts). Counters are per process and count
 * at the transitions (pushes/, gateway/, delivery/): an activity retried after a crash may count twice.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'herald_' });

let appLabel = false;

/** HERALD_METRICS_APP_LABEL: label push metrics with the app id (one series per app). */
export function configureMetrics(opts: { appLabel: boolean }): void {
  appLabel = opts.appLabel;
}

/** The `app` label's value: empty (no label for Prometheus) unless app labels are on. */
export const appOf = (appId: string): string => (appLabel ? appId : '');

export type PushStatusLabel = 'scheduled' | 'running' | 'completed' | 'canceled' | 'failed';

export const pushesTotal = new Counter({
  name: 'herald_pushes_total',
  help: 'Pushes that reached a status: scheduled (created), running (snapshotted), completed, canceled, failed',
  labelNames: ['status', 'app'] as const,
  registers: [registry],
});

export type RecipientEvent =
  | 'snapshotted'
  | 'capped'
  | 'delivered_online'
  | 'stored'
  | 'synced'
  | 'acked'
  | 'expired';

export const recipientsTotal = new Counter({
  name: 'herald_push_recipients_total',
  help:
    'Recipients of pushes by event: snapshotted (audience), capped (accounts the frequency cap left out), ' +
    'stored (offline copies at the snapshot), delivered_online (live frames marked), synced (copies sent by a ' +
    'connect-time sync), acked, expired',
  labelNames: ['event', 'app'] as const,
  registers: [registry],
});

export function countPush(status: PushStatusLabel, appId: string): void {
  pushesTotal.inc({ status, app: appOf(appId) });
}

export function countRecipients(event: RecipientEvent, appId: string, n: number): void {
  if (n > 0) recipientsTotal.inc({ event, app: appOf(appId) }, n);
}

export const notificationsTotal = new Counter({
  name: 'herald_notifications_total',
  help: 'Provider notifications by channel and outcome (sent, invalid token, failed)',
  labelNames: ['channel', 'outcome'] as const,
  registers: [registry],
});

export const providerRequestSeconds = new Histogram({
  name: 'herald_provider_request_seconds',
  help: 'One request to a provider (APNs, FCM, Xiaomi, OPPO, vivo, Web Push), by origin host (Web Push: its allowed entry) and result (2xx, 4xx, 5xx, error)',
  labelNames: ['origin', 'result'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const wsConnections = new Gauge({
  name: 'herald_ws_connections',
  help: 'Open WebSocket connections on this process',
  registers: [registry],
});

export const wsFramesTotal = new Counter({
  name: 'herald_ws_frames_total',
  help: 'WebSocket frames received (in) and written (out)',
  labelNames: ['direction'] as const,
  registers: [registry],
});

export const wsSlowConsumerClosesTotal = new Counter({
  name: 'herald_ws_slow_consumer_closes_total',
  help: 'Sockets closed because their client did not read fast enough (their send buffer was full)',
  registers: [registry],
});

export const fanoutSeconds = new Histogram({
  name: 'herald_gateway_fanout_seconds',
  help: "One push's live fan-out on this process: from the bus event until its frames are written and marked",
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

export const dbPoolMax = new Gauge({
  name: 'herald_db_pool_max_connections',
  help: 'The size of a PostgreSQL pool of this process (postgres.js reports no in-use or waiting count)',
  labelNames: ['pool'] as const,
  registers: [registry],
});

export const activitySeconds = new Histogram({
  name: 'herald_activity_duration_seconds',
  help: 'Temporal activity attempts run by this worker, by activity name and result (ok, error)',
  labelNames: ['activity', 'result'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
  registers: [registry],
});

/** Seconds since `start` (a `performance.now()`). */
export const secondsSince = (start: number): number => (performance.now() - start) / 1000;

const digest = (s: string) => createHash('sha256').update(s).digest();
/** Compared in time that does not depend on where they differ. */
const sameSecret = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b));

/** More Prometheus text for `/metrics` (the Temporal SDK's own worker metrics, which its runtime serves). */
const sources: (() => Promise<string>)[] = [];
export function addMetricsSource(source: () => Promise<string>): void {
  sources.push(source);
}

/** The `/metrics` answer: 401 when a token is configured and the request's bearer is not it. */
export async function metricsResponse(
  authorization: string | undefined,
  token: string | undefined,
): Promise<{ status: number; contentType: string; body: string }> {
  if (token && !sameSecret(authorization ?? '', `Bearer ${token}`))
    return { status: 401, contentType: 'text/plain', body: 'metrics need the bearer token\n' };
  const texts = await Promise.all([
    registry.metrics(),
    // A source that does not answer leaves out its part, not the whole page.
    ...sources.map((s) => s().catch(() => '')),
  ]);
  return { status: 200, contentType: registry.contentType, body: texts.filter(Boolean).join('\n') };
}
