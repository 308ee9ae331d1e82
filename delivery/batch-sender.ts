import type { Bearer } from './bearer.ts';
import type { DeviceTarget, SendOutcome } from './channel.ts';
import type { ClientCredentialsToken } from './client-credentials.ts';
import type { Http1Pool, HttpResponse } from './http1-pool.ts';
import { backoff, createGate, failed } from './limits.ts';

/**
 * A provider's answer to one batch request: an outcome per token of the batch (in its order), or a failure of
 * the whole request that may be retried — after a backoff (at least `retryAfterMs` when the provider said),
 * or once with a fresh access token.
 */
export type BatchAnswer =
  | { outcome: 'done'; outcomes: SendOutcome[] }
  | { outcome: 'failed'; reason: string; retry?: 'backoff' | 'reauthorize'; retryAfterMs?: number };

export interface BatchSenderOptions<Page> {
  pool: Http1Pool;
  accessToken: ClientCredentialsToken;
  /** Tokens per request: the API's limit. */
  maxTokens: number;
  /** Requests in flight at once (the client's share of the provider). */
  concurrency: number;
  /** Retries of a request after a network error, throttling or a server error. */
  maxRetries: number;
  /** A wait the provider asks for beyond this fails the batch instead of holding the page. */
  maxRetryAfterMs: number;
  timeoutMs: number;
  /** The request carrying `tokens` of `page` (what the page's requests share), with the current access token. */
  request(
    tokens: string[],
    bearer: Bearer,
    page: Page,
  ): { url: URL; headers: Record<string, string>; body: string };
  /** What the answer means for each token; `canReauthorize`: this batch has not had its fresh token yet. */
  read(res: HttpResponse, tokens: string[], canReauthorize: boolean): BatchAnswer;
}

/**
 * Sends one page's devices in requests of up to `maxTokens` tokens (each token once), retrying a request as
 * its answer allows, and maps the per-token results back onto the page's targets in order.
 */
export function createBatchSender<Page>(opts: BatchSenderOptions<Page>) {
  const gate = createGate(opts.concurrency);
  let closed = false;

  const enter = () => new Promise<void>((resolve) => gate.enter(resolve));
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const all = (tokens: string[], reason: string): SendOutcome[] => tokens.map((t) => failed(t, reason));

  async function sendBatch(tokens: string[], page: Page): Promise<SendOutcome[]> {
    let reauthorized = false;
    for (let n = 0; ; n++) {
      if (closed) return all(tokens, 'ClientClosed');
      await enter();
      let answer: BatchAnswer;
      let bearer: Bearer | undefined;
      try {
        if (closed) return all(tokens, 'ClientClosed');
        // Inside the gate, so the access token is the one current when the request really leaves.
        bearer = opts.accessToken.current() ?? (await opts.accessToken.get());
        const { url, headers, body } = opts.request(tokens, bearer, page);
        const res = await opts.pool.post(url, headers, body, opts.timeoutMs);
        answer = opts.read(res, tokens, !reauthorized);
      } catch (err) {
        const reason = bearer ? errorMessage(err) : `AuthError: ${errorMessage(err)}`;
        answer = { outcome: 'failed', reason, retry: 'backoff' };
      } finally {
        gate.leave();
      }
      if (answer.outcome === 'done') return answer.outcomes;
      if (answer.retry === 'reauthorize' && bearer) {
        // One fresh token per batch is enough to tell a revoked token from a refused credential.
        opts.accessToken.expire(bearer);
        reauthorized = true;
        n--;
        continue;
      }
      const wait = Math.max(answer.retryAfterMs ?? 0, backoff(n));
      if (!answer.retry || n >= opts.maxRetries || wait > opts.maxRetryAfterMs)
        return all(tokens, answer.reason);
      await sleep(wait);
    }
  }

  return {
    async send(targets: readonly DeviceTarget[], page: Page): Promise<SendOutcome[]> {
      if (targets.length === 0) return [];
      const unique = [...new Set(targets.map((t) => t.token))];
      const batches: string[][] = [];
      for (let i = 0; i < unique.length; i += opts.maxTokens)
        batches.push(unique.slice(i, i + opts.maxTokens));
      const byToken = new Map<string, SendOutcome>();
      for (const outcomes of await Promise.all(batches.map((tokens) => sendBatch(tokens, page))))
        for (const o of outcomes) byToken.set(o.token, o);
      return targets.map((t) => byToken.get(t.token) ?? failed(t.token, 'NoResult'));
    },
    /** Batches waiting for a slot or a retry fail with ClientClosed; requests in flight finish. */
    close() {
      closed = true;
    },
  };
}

/** Retry-After is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || !value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err);
}
