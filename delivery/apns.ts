import http2 from 'node:http2';
import { rootCertificates } from 'node:tls';
import { importPKCS8, SignJWT } from 'jose';
import type { ApnsCredentials } from '../db/schema.ts';
import { backoff, createLimiter, failed, sleep } from './limits.ts';
import type { DeviceTarget, Notification, ProviderClient, SendOutcome } from './provider.ts';

export interface ApnsClientOptions {
  credentials: ApnsCredentials;
  /** Default https://api.push.apple.com */
  productionUrl?: string;
  /** Default https://api.sandbox.push.apple.com */
  sandboxUrl?: string;
  /** HTTP/2 sessions per origin; default 2. */
  connections?: number;
  /** Max in-flight streams across all sessions; default 500. */
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
/** Reasons that mean the device token itself is dead, not the request. */
const INVALID_TOKEN_REASONS = new Set(['BadDeviceToken', 'DeviceTokenNotForTopic', 'Unregistered']);

export function createApnsClient(opts: ApnsClientOptions): ProviderClient {
  const { credentials } = opts;
  const maxRetries = opts.maxRetries ?? 3;
  const origins = {
    production: opts.productionUrl ?? 'https://api.push.apple.com',
    sandbox: opts.sandboxUrl ?? 'https://api.sandbox.push.apple.com',
  };
  const providerToken = createProviderToken(credentials);
  const limit = createLimiter(opts.concurrency ?? 500);
  const pool = createSessionPool(opts.connections ?? 2, opts.ca);
  let closed = false;

  async function sendOne(target: DeviceTarget, headers: http2.OutgoingHttpHeaders, body: string) {
    const { token } = target;
    const origin = origins[target.environment];
    const path = `/3/device/${encodeURIComponent(token)}`;
    const topic = target.topic ?? credentials.topic;
    for (let attempt = 0; ; attempt++) {
      if (closed) return failed(token, 'ClientClosed');
      let jwt: string;
      try {
        jwt = await providerToken.get();
      } catch (err) {
        return failed(token, `ProviderTokenError: ${errorMessage(err)}`);
      }
      const request = { ...headers, ':path': path, authorization: `bearer ${jwt}`, 'apns-topic': topic };
      let res: { status: number; body: string };
      try {
        res = await limit(() => post(pool.session(origin), request, body));
      } catch (err) {
        if (attempt >= maxRetries) return failed(token, errorMessage(err));
        await sleep(backoff(attempt));
        continue;
      }
      const reason = parseReason(res.body);
      if (res.status === 200) return { token, outcome: 'sent' } as const;
      if (res.status === 410 || (res.status === 400 && INVALID_TOKEN_REASONS.has(reason ?? ''))) {
        return { token, outcome: 'invalid', reason: reason ?? 'Unregistered' } as const;
      }
      const retryable = res.status === 429 || res.status >= 500;
      const expiredJwt = res.status === 403 && reason === 'ExpiredProviderToken';
      if (!(retryable || expiredJwt) || attempt >= maxRetries) {
        return failed(token, reason ?? `HTTP ${res.status}`);
      }
      if (expiredJwt) providerToken.expire(jwt);
      else await sleep(backoff(attempt));
    }
  }

  return {
    async send(targets: readonly DeviceTarget[], notification: Notification): Promise<SendOutcome[]> {
      const body = JSON.stringify(apnsPayload(notification));
      // Checked before sending: Apple would answer 413 anyway, for every single device.
      if (Buffer.byteLength(body) > APNS_MAX_PAYLOAD_BYTES) {
        return targets.map((t) => failed(t.token, 'PayloadTooLarge'));
      }
      const headers = apnsHeaders(notification);
      return Promise.all(targets.map((t) => sendOne(t, headers, body)));
    },
    async close() {
      closed = true;
      await pool.close();
    },
  };
}

/** The JSON body Apple receives: `aps` plus the custom keys beside it. */
export function apnsPayload(n: Notification): Record<string, unknown> {
  const aps = omitUndefined({
    alert: omitUndefined({ title: n.title, subtitle: n.subtitle, body: n.body }),
    badge: n.badge,
    sound: n.sound,
    'mutable-content': n.mutableContent ? 1 : undefined,
  });
  // Custom data first so that it can never overwrite `aps` or `ext`.
  return omitUndefined({ ...n.data, aps, ext: n.ext });
}

function apnsHeaders(n: Notification): http2.OutgoingHttpHeaders {
  return omitUndefined({
    ':method': 'POST',
    'apns-push-type': 'alert',
    'apns-priority': n.priority === 'normal' ? '5' : '10',
    // 0 = deliver now or never; otherwise Apple stores it until this epoch second.
    'apns-expiration': n.expiresAt ? String(Math.floor(n.expiresAt.getTime() / 1000)) : '0',
    'apns-collapse-id': n.collapseId,
    'content-type': 'application/json',
  });
}

/** One ES256 provider token shared by every request, re-signed every 50 minutes or when Apple says it expired. */
function createProviderToken(credentials: ApnsCredentials) {
  let key: ReturnType<typeof importPKCS8> | undefined;
  let current: { jwt: string; issuedAt: number } | undefined;
  let pending: Promise<string> | undefined;

  async function sign(): Promise<string> {
    key ??= importPKCS8(credentials.privateKey, 'ES256');
    const issuedAt = Date.now();
    const jwt = await new SignJWT({ iss: credentials.teamId, iat: Math.floor(issuedAt / 1000) })
      .setProtectedHeader({ alg: 'ES256', kid: credentials.keyId })
      .sign(await key);
    current = { jwt, issuedAt };
    return jwt;
  }

  return {
    get(): Promise<string> {
      if (current && Date.now() - current.issuedAt < TOKEN_REFRESH_MS) return Promise.resolve(current.jwt);
      pending ??= sign().finally(() => {
        pending = undefined;
      });
      return pending;
    },
    /** Only the first of many concurrent 403s for the same token causes a new one. */
    expire(jwt: string): void {
      if (current?.jwt === jwt) current = undefined;
    },
  };
}

/** `size` HTTP/2 sessions per origin, used round-robin and replaced once closed or sent GOAWAY. */
function createSessionPool(size: number, ca: string | Buffer | undefined) {
  const pools = new Map<string, { slots: (http2.ClientHttp2Session | undefined)[]; next: number }>();
  const trusted = ca ? [...rootCertificates, ca.toString()] : undefined;

  function connect(origin: string, slots: (http2.ClientHttp2Session | undefined)[], i: number) {
    const session = http2.connect(origin, trusted ? { ca: trusted } : {});
    // Errors surface on the streams; a broken session is replaced on next use.
    session.on('error', () => {});
    session.on('close', () => {
      if (slots[i] === session) slots[i] = undefined;
    });
    slots[i] = session;
    return session;
  }

  return {
    session(origin: string): http2.ClientHttp2Session {
      let pool = pools.get(origin);
      if (!pool) {
        pool = { slots: new Array(size).fill(undefined), next: 0 };
        pools.set(origin, pool);
      }
      const i = pool.next++ % size;
      const session = pool.slots[i];
      // Node closes a session by itself after GOAWAY, so `closed` covers that too.
      if (session && !session.closed && !session.destroyed) return session;
      return connect(origin, pool.slots, i);
    },
    async close(): Promise<void> {
      const open = [...pools.values()].flatMap((p) => p.slots).filter((s) => s && !s.destroyed);
      pools.clear();
      await Promise.all(open.map((s) => new Promise<void>((resolve) => s?.close(() => resolve()))));
    },
  };
}

function post(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers);
    let status = 0;
    let data = '';
    stream.setEncoding('utf8');
    stream.setTimeout(REQUEST_TIMEOUT_MS, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    stream.on('response', (h) => {
      status = Number(h[':status']);
    });
    stream.on('data', (chunk: string) => {
      data += chunk;
    });
    stream.on('end', () => resolve({ status, body: data }));
    stream.on('error', reject);
    // Covers resets and our own timeout, which end the stream without 'end' or 'error'.
    stream.on('close', () => reject(new Error(`APNs stream closed (code ${stream.rstCode})`)));
    stream.end(body);
  });
}

function parseReason(body: string): string | undefined {
  if (!body) return undefined;
  try {
    const reason: unknown = (JSON.parse(body) as { reason?: unknown }).reason;
    return typeof reason === 'string' ? reason : undefined;
  } catch {
    return undefined;
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err);
}

function omitUndefined<T extends Record<string, unknown>>(value: T): T {
  for (const key of Object.keys(value)) if (value[key] === undefined) delete value[key];
  return value;
}
