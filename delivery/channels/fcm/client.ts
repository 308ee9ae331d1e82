import type http2 from 'node:http2';
import { FCM_CONCURRENCY, PROVIDER_CONNECTIONS } from '../../../core/tunables.ts';
import type { Bearer } from '../../bearer.ts';
import type { ChannelClient, DeviceTarget, SendOutcome } from '../../channel.ts';
import { createSessionPool } from '../../http2-pool.ts';
import { backoff, createGate, failed } from '../../limits.ts';
import { createAccessTokenSource } from './access-token.ts';
import { readFcmAnswer } from './answers.ts';
import type { FcmCredentials } from './credentials.ts';
import { type FcmNotification, fcmBodies, fcmMessage } from './payload.ts';

export interface FcmClientOptions {
  credentials: FcmCredentials;
  /** Default https://fcm.googleapis.com; an http:// URL is spoken to as h2c with prior knowledge. */
  baseUrl?: string;
  /** HTTP/2 sessions; default PROVIDER_CONNECTIONS (core/tunables.ts). */
  connections?: number;
  /** Max requests in flight; default FCM_CONCURRENCY. */
  concurrency?: number;
  /** Retries after 429, 5xx and network errors; default 3. */
  maxRetries?: number;
  /** Extra trusted CA, for messages:send and the token endpoint (tests). */
  ca?: string | Buffer;
  /** Token endpoints allowed besides Google's (HERALD_ALLOWED_TOKEN_URIS). */
  allowedTokenUris?: readonly string[];
}

const REQUEST_TIMEOUT_MS = 15_000;
/** A Retry-After longer than this is not worth holding a send for; the message fails instead. */
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * FCM HTTP v1 over HTTP/2: fcm.googleapis.com multiplexes many requests on one TLS session, where HTTP/1.1
 * took a socket and a write of its own per request.
 */
export function createFcmClient(opts: FcmClientOptions): ChannelClient<FcmNotification> {
  const { credentials } = opts;
  const maxRetries = opts.maxRetries ?? 3;
  const base = new URL(opts.baseUrl ?? 'https://fcm.googleapis.com');
  const origin = base.origin;
  const path = `${base.pathname.replace(/\/+$/, '')}/v1/projects/${encodeURIComponent(credentials.projectId)}/messages:send`;
  const accessToken = createAccessTokenSource(credentials, opts.ca, opts.allowedTokenUris);
  const gate = createGate(opts.concurrency ?? FCM_CONCURRENCY);
  const pool = createSessionPool(opts.connections ?? PROVIDER_CONNECTIONS, REQUEST_TIMEOUT_MS, opts.ca);
  let closed = false;

  /**
   * Sends one page from one loop with callbacks, and calls `resolve` once with the outcomes in target order.
   * Each body is the page's JSON halves with the device's token between them (fcmBodies); the headers object is
   * the page's, with the current access token set per request.
   */
  function sendPage(
    targets: readonly DeviceTarget[],
    bodyFor: (token: string) => string,
    resolve: (outcomes: SendOutcome[]) => void,
  ): void {
    const outcomes: SendOutcome[] = new Array(targets.length);
    let pending = targets.length;
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': path,
      authorization: '',
      'content-type': 'application/json',
    };
    const settle = (i: number, outcome: SendOutcome) => {
      outcomes[i] = outcome;
      if (--pending === 0) resolve(outcomes);
    };
    /** `reauthorized`: this message already had its one fresh token after a 401. */
    const attempt = (i: number, n: number, reauthorized: boolean) =>
      gate.enter(() => issue(i, n, reauthorized));

    /** Runs inside the gate, so the access token is the one current when the request really leaves. */
    function issue(i: number, n: number, reauthorized: boolean): void {
      const token = (targets[i] as DeviceTarget).token;
      if (closed) {
        gate.leave();
        settle(i, failed(token, 'ClientClosed'));
        return;
      }
      const bearer = accessToken.current();
      if (bearer) {
        post(i, n, reauthorized, bearer);
        return;
      }
      accessToken.get().then(
        (fetched) => post(i, n, reauthorized, fetched),
        (err: unknown) => {
          gate.leave();
          if (n >= maxRetries) settle(i, failed(token, `AuthError: ${errorMessage(err)}`));
          else setTimeout(attempt, backoff(n), i, n + 1, reauthorized);
        },
      );
    }

    function post(i: number, n: number, reauthorized: boolean, bearer: Bearer): void {
      const body = bodyFor((targets[i] as DeviceTarget).token);
      headers.authorization = bearer.authorization;
      pool.request(origin, headers, body, (err, status, responseHeaders, text) => {
        gate.leave();
        answered(i, n, reauthorized, bearer, err, status, responseHeaders, text);
      });
    }

    function answered(
      i: number,
      n: number,
      reauthorized: boolean,
      bearer: Bearer,
      err: Error | undefined,
      status: number,
      responseHeaders: http2.IncomingHttpHeaders | undefined,
      text: string,
    ): void {
      const token = (targets[i] as DeviceTarget).token;
      if (err) {
        if (n >= maxRetries) settle(i, failed(token, errorMessage(err)));
        else setTimeout(attempt, backoff(n), i, n + 1, reauthorized);
        return;
      }
      const retryAfter = responseHeaders?.['retry-after'];
      const answer = readFcmAnswer(
        status,
        typeof retryAfter === 'string' ? retryAfter : undefined,
        text,
        !reauthorized,
      );
      if (answer.outcome !== 'failed') settle(i, { token, ...answer });
      else if (answer.retry === 'reauthorize') {
        accessToken.expire(bearer);
        attempt(i, n, true);
      } else {
        const wait = Math.max(answer.retryAfterMs ?? 0, backoff(n));
        if (!answer.retry || n >= maxRetries || wait > MAX_RETRY_AFTER_MS)
          settle(i, failed(token, answer.reason));
        else setTimeout(attempt, wait, i, n + 1, reauthorized);
      }
    }

    for (let i = 0; i < targets.length; i++) attempt(i, 0, false);
  }

  return {
    async send(targets: readonly DeviceTarget[], notification: FcmNotification): Promise<SendOutcome[]> {
      if (targets.length === 0) return [];
      const bodyFor = fcmBodies(fcmMessage(notification));
      return new Promise((resolve) => sendPage(targets, bodyFor, resolve));
    },
    async close() {
      closed = true;
      await pool.close();
    },
  };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err);
}
