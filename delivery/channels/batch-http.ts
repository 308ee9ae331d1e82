import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { providerRequestSeconds, secondsSince } from '../../core/metrics.ts';
import type { DeviceTarget, SendOutcome } from '../channel.ts';
import { backoff, failed } from '../limits.ts';

/**
 * What the phone makers' batch APIs (Xiaomi, OPPO, vivo) have in common: HTTPS POSTs over HTTP/1.1 keep-alive,
 * one request carrying hundreds of devices, a business code in a 200 answer, and per-device results inside it.
 * A client sends a page as chunks of the API's limit; each chunk is retried as a whole with the rules below.
 */

export interface VendorResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface VendorHttp {
  /** POSTs `body` to the base URL's path + `path`; rejects on network errors, timeouts and a closed client. */
  post(path: string, headers: Record<string, string>, body: string): Promise<VendorResponse>;
  close(): Promise<void>;
}

const REQUEST_TIMEOUT_MS = 15_000;
/** A vendor's answer is a small JSON document; anything bigger is not one, and is not kept. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * One keep-alive agent per client: a batch request costs one socket write for up to 1,000 devices, so a few
 * sockets carry a whole push. An http:// base URL (a local fake or gateway) is spoken to in plain HTTP/1.1.
 */
export function createVendorHttp(
  baseUrl: string,
  opts: { ca?: string | Buffer | undefined; maxSockets?: number } = {},
): VendorHttp {
  const base = new URL(baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const secure = base.protocol === 'https:';
  const agentOptions: https.AgentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? 8 };
  if (opts.ca) agentOptions.ca = [...rootCertificates, opts.ca.toString()];
  const agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  const host = base.host;
  let closed = false;

  return {
    post(path, headers, body) {
      if (closed) return Promise.reject(new Error('ClientClosed'));
      const started = performance.now();
      const options: https.RequestOptions = {
        method: 'POST',
        protocol: base.protocol,
        hostname: base.hostname,
        port: base.port,
        path: `${prefix}${path}`,
        agent,
        timeout: REQUEST_TIMEOUT_MS,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      };
      return new Promise<VendorResponse>((resolve, reject) => {
        const done = (err: Error | undefined, response?: VendorResponse) => {
          const result = err || !response ? 'error' : `${Math.floor(response.status / 100)}xx`;
          providerRequestSeconds.observe({ origin: host, result }, secondsSince(started));
          if (err || !response) reject(err ?? new Error('no response'));
          else resolve(response);
        };
        const onResponse = (res: http.IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_RESPONSE_BYTES) res.destroy(new Error('ResponseTooLarge'));
            else chunks.push(c);
          });
          res.on('end', () =>
            done(undefined, {
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.on('error', (err) => done(err));
        };
        const req = secure ? https.request(options, onResponse) : http.request(options, onResponse);
        req.on('timeout', () =>
          req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })),
        );
        req.on('error', (err) => done(err));
        req.end(body);
      });
    },
    async close() {
      closed = true;
      agent.destroy();
    },
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
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return answer;
  if (/^\d+$/.test(value.trim())) return { ...answer, retryAfterMs: Number(value) * 1000 };
  const date = Date.parse(value);
  return Number.isNaN(date) ? answer : { ...answer, retryAfterMs: Math.max(0, date - Date.now()) };
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
