import type http2 from 'node:http2';
import { importPKCS8, SignJWT } from 'jose';
import { APNS_CONCURRENCY, PROVIDER_CONNECTIONS } from '../../../core/tunables.ts';
import { type Bearer, createBearerCache } from '../../bearer.ts';
import type { ChannelClient, DeviceTarget, SendOutcome } from '../../channel.ts';
import { createSessionPool } from '../../http2-pool.ts';
import { backoff, createGate, failed } from '../../limits.ts';
import { readApnsAnswer } from './answers.ts';
import type { ApnsCredentials } from './credentials.ts';
import { type ApnsNotification, apnsHeaders, apnsPayload } from './payload.ts';

export interface ApnsClientOptions {
  credentials: ApnsCredentials;
  /** Default https://api.push.apple.com */
  productionUrl?: string;
  /** Default https://api.sandbox.push.apple.com */
  sandboxUrl?: string;
  /** HTTP/2 sessions per origin; default PROVIDER_CONNECTIONS (core/tunables.ts). */
  connections?: number;
  /** Max in-flight streams across all sessions; default APNS_CONCURRENCY. */
  concurrency?: number;
  /** Retries after 429, 5xx, network errors and ExpiredProviderToken; default 3. */
  maxRetries?: number;
  /** Extra trusted CA (tests). */
  ca?: string | Buffer;
}

/** Apple's limit for a regular (non-VoIP) notification payload. */
export const APNS_MAX_PAYLOAD_BYTES = 4096;
/** Apple rejects provider tokens older than an hour and throttles refreshes under 20 minutes. */
const TOKEN_REFRESH_MS = 50 * 60_000;
const REQUEST_TIMEOUT_MS = 15_000;

export function createApnsClient(opts: ApnsClientOptions): ChannelClient<ApnsNotification> {
  const { credentials } = opts;
  const maxRetries = opts.maxRetries ?? 3;
  const origins = {
    production: opts.productionUrl ?? 'https://api.push.apple.com',
    sandbox: opts.sandboxUrl ?? 'https://api.sandbox.push.apple.com',
  };
  const providerToken = createProviderToken(credentials);
  const gate = createGate(opts.concurrency ?? APNS_CONCURRENCY);
  const pool = createSessionPool(opts.connections ?? PROVIDER_CONNECTIONS, REQUEST_TIMEOUT_MS, opts.ca);
  let closed = false;

  /**
   * Sends one page from one loop with callbacks, and calls `resolve` once with the outcomes in target order.
   * What every device of the page shares (body, headers) is built once; each request only sets its path,
   * topic and the current provider token on the page's headers object.
   */
  function sendPage(
    targets: readonly DeviceTarget[],
    headers: http2.OutgoingHttpHeaders,
    body: Buffer,
    resolve: (outcomes: SendOutcome[]) => void,
  ): void {
    const outcomes: SendOutcome[] = new Array(targets.length);
    let pending = targets.length;
    const settle = (i: number, outcome: SendOutcome) => {
      outcomes[i] = outcome;
      if (--pending === 0) resolve(outcomes);
    };
    const attempt = (i: number, n: number) => gate.enter(() => issue(i, n));

    /** Runs inside the gate, so the provider token is the one current when the request really leaves. */
    function issue(i: number, n: number): void {
      const token = (targets[i] as DeviceTarget).token;
      if (closed) {
        gate.leave();
        settle(i, failed(token, 'ClientClosed'));
        return;
      }
      const jwt = providerToken.current();
      if (jwt) {
        post(i, n, jwt);
        return;
      }
      providerToken.get().then(
        (signed) => post(i, n, signed),
        (err: unknown) => {
          gate.leave();
          settle(i, failed(token, `ProviderTokenError: ${errorMessage(err)}`));
        },
      );
    }

    function post(i: number, n: number, jwt: Bearer): void {
      const target = targets[i] as DeviceTarget;
      headers[':path'] = `/3/device/${encodeURIComponent(target.token)}`;
      headers.authorization = jwt.authorization;
      headers['apns-topic'] = target.topic ?? credentials.topic;
      pool.request(origins[target.environment], headers, body, (err, status, _h, text) => {
        gate.leave();
        answered(i, n, jwt, err, status, text);
      });
    }

    function answered(
      i: number,
      n: number,
      jwt: Bearer,
      err: Error | undefined,
      status: number,
      text: string,
    ) {
      const token = (targets[i] as DeviceTarget).token;
      if (err) {
        if (n >= maxRetries) settle(i, failed(token, errorMessage(err)));
        else setTimeout(attempt, backoff(n), i, n + 1);
        return;
      }
      const answer = readApnsAnswer(status, text);
      if (answer.outcome !== 'failed') settle(i, { token, ...answer });
      else if (!answer.retry || n >= maxRetries) settle(i, failed(token, answer.reason));
      else if (answer.retry === 'reauthorize') {
        providerToken.expire(jwt);
        attempt(i, n + 1);
      } else setTimeout(attempt, backoff(n), i, n + 1);
    }

    for (let i = 0; i < targets.length; i++) attempt(i, 0);
  }

  return {
    async send(targets: readonly DeviceTarget[], notification: ApnsNotification): Promise<SendOutcome[]> {
      const body = Buffer.from(JSON.stringify(apnsPayload(notification)));
      // Checked before sending: Apple would answer 413 anyway, for every single device.
      if (body.length > APNS_MAX_PAYLOAD_BYTES) return targets.map((t) => failed(t.token, 'PayloadTooLarge'));
      if (targets.length === 0) return [];
      const headers = apnsHeaders(notification);
      return new Promise((resolve) => sendPage(targets, headers, body, resolve));
    },
    async close() {
      closed = true;
      await pool.close();
    },
  };
}

/** One ES256 provider token shared by every request, re-signed every 50 minutes or when Apple says it expired. */
function createProviderToken(credentials: ApnsCredentials) {
  let key: ReturnType<typeof importPKCS8> | undefined;
  return createBearerCache('bearer', async () => {
    key ??= importPKCS8(credentials.privateKey, 'ES256');
    const issuedAt = Date.now();
    const jwt = await new SignJWT({ iss: credentials.teamId, iat: Math.floor(issuedAt / 1000) })
      .setProtectedHeader({ alg: 'ES256', kid: credentials.keyId })
      .sign(await key);
    return { token: jwt, renewAt: issuedAt + TOKEN_REFRESH_MS };
  });
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err);
}
