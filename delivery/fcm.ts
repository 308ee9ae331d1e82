import http from 'node:http';
import https from 'node:https';
import { importPKCS8, SignJWT } from 'jose';
import type { FcmCredentials } from '../db/schema.ts';
import { backoff, createLimiter, failed, sleep } from './limits.ts';
import type { DeviceTarget, Notification, ProviderClient, SendOutcome } from './provider.ts';

export interface FcmClientOptions {
  credentials: FcmCredentials;
  /** Default https://fcm.googleapis.com */
  baseUrl?: string;
  /** Max requests in flight; default 200. */
  concurrency?: number;
  /** Retries after 429, 5xx and network errors; default 3. */
  maxRetries?: number;
}

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
const REQUEST_TIMEOUT_MS = 15_000;
/** A Retry-After longer than this is not worth holding a send for; the message fails instead. */
const MAX_RETRY_AFTER_MS = 60_000;
/** FCM's longest Android TTL (4 weeks). */
const MAX_TTL_SECONDS = 28 * 24 * 3600;

export function createFcmClient(opts: FcmClientOptions): ProviderClient {
  const { credentials } = opts;
  const maxRetries = opts.maxRetries ?? 3;
  const baseUrl = (opts.baseUrl ?? 'https://fcm.googleapis.com').replace(/\/+$/, '');
  const url = `${baseUrl}/v1/projects/${encodeURIComponent(credentials.projectId)}/messages:send`;
  const accessToken = createAccessTokenSource(credentials);
  const concurrency = opts.concurrency ?? 200;
  const limit = createLimiter(concurrency);
  const sendUrl = new URL(url);
  const agent = new (sendUrl.protocol === 'https:' ? https.Agent : http.Agent)({
    keepAlive: true,
    maxSockets: concurrency,
  });
  let closed = false;

  async function sendOne(token: string, message: Record<string, unknown>): Promise<SendOutcome> {
    const body = JSON.stringify({ message: { token, ...message } });
    let reauthorized = false;
    for (let attempt = 0; ; ) {
      if (closed) return failed(token, 'ClientClosed');
      let bearer: string;
      let res: { status: number; body: string; retryAfterMs?: number };
      try {
        bearer = await accessToken.get();
      } catch (err) {
        if (attempt >= maxRetries) return failed(token, `AuthError: ${errorMessage(err)}`);
        await sleep(backoff(attempt++));
        continue;
      }
      try {
        res = await limit(() => post(agent, sendUrl, bearer, body));
      } catch (err) {
        if (attempt >= maxRetries) return failed(token, errorMessage(err));
        await sleep(backoff(attempt++));
        continue;
      }
      if (res.status === 200) return { token, outcome: 'sent' };
      const error = parseGoogleError(res.body);
      // An access token can be revoked or expire early; one fresh token per message is enough to tell.
      if (res.status === 401 && !reauthorized) {
        reauthorized = true;
        accessToken.expire(bearer);
        continue;
      }
      if (isDeadToken(res.status, error)) {
        return { token, outcome: 'invalid', reason: error.code ?? 'UNREGISTERED' };
      }
      const retryable = res.status === 429 || res.status >= 500;
      const wait = Math.max(res.retryAfterMs ?? 0, backoff(attempt));
      if (!retryable || attempt >= maxRetries || wait > MAX_RETRY_AFTER_MS) {
        return failed(token, error.code ?? error.status ?? `HTTP ${res.status}`);
      }
      await sleep(wait);
      attempt++;
    }
  }

  return {
    async send(targets: readonly DeviceTarget[], notification: Notification): Promise<SendOutcome[]> {
      const message = fcmMessage(notification);
      return Promise.all(targets.map((t) => sendOne(t.token, message)));
    },
    async close() {
      closed = true;
      agent.destroy();
    },
  };
}

/** The v1 `message` without its `token`: the same for every device of a push. */
export function fcmMessage(n: Notification, now = Date.now()): Record<string, unknown> {
  const ttl = n.expiresAt ? Math.floor((n.expiresAt.getTime() - now) / 1000) : 0;
  const androidNotification = omitUndefined({ channel_id: n.channelId, sound: n.sound });
  return {
    notification: omitUndefined({ title: n.title, body: n.body, image: n.image }),
    // pushId last so that custom data can never hide which push this is.
    data: omitUndefined({ ...n.data, ext: n.ext, pushId: n.pushId }),
    android: omitUndefined({
      ttl: `${Math.min(MAX_TTL_SECONDS, Math.max(0, ttl))}s`,
      priority: n.priority === 'normal' ? 'NORMAL' : 'HIGH',
      collapse_key: n.collapseId,
      notification: Object.keys(androidNotification).length > 0 ? androidNotification : undefined,
    }),
  };
}

interface GoogleError {
  code?: string;
  status?: string;
  message?: string;
  /** Fields named in google.rpc.BadRequest details. */
  fields: string[];
}

/** Reads `{ error: { status, message, details: [FcmError | BadRequest] } }`. */
function parseGoogleError(body: string): GoogleError {
  const out: GoogleError = { fields: [] };
  let error: Record<string, unknown> | undefined;
  try {
    error = (JSON.parse(body) as { error?: Record<string, unknown> }).error;
  } catch {
    return out;
  }
  if (typeof error !== 'object' || error === null) return out;
  if (typeof error.status === 'string') out.status = error.status;
  if (typeof error.message === 'string') out.message = error.message;
  for (const detail of Array.isArray(error.details) ? (error.details as Record<string, unknown>[]) : []) {
    if (typeof detail?.errorCode === 'string') out.code = detail.errorCode;
    if (Array.isArray(detail?.fieldViolations)) {
      for (const v of detail.fieldViolations as { field?: unknown }[]) {
        if (typeof v?.field === 'string') out.fields.push(v.field);
      }
    }
  }
  out.code ??= out.status;
  return out;
}

/** UNREGISTERED, a malformed registration token, or a token that belongs to another sender. */
function isDeadToken(status: number, error: GoogleError): boolean {
  if (error.code === 'UNREGISTERED' || error.code === 'SENDER_ID_MISMATCH') return true;
  if (status !== 400 || error.code !== 'INVALID_ARGUMENT') return false;
  return error.fields.includes('message.token') || /registration token/i.test(error.message ?? '');
}

type Response = { status: number; body: string; retryAfterMs?: number | undefined };

/**
 * One POST over a keep-alive agent. On the 2-core development machine node:http with a pooled agent made
 * about 5,500 requests a second against a local server where the global fetch made about 1,600, at 200 in
 * flight each.
 */
function post(agent: http.Agent, url: URL, bearer: string, body: string): Promise<Response> {
  const request = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        timeout: REQUEST_TIMEOUT_MS,
        headers: {
          authorization: `Bearer ${bearer}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const retryAfter = res.headers['retry-after'];
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            retryAfterMs: parseRetryAfter(typeof retryAfter === 'string' ? retryAfter : null),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('ETIMEDOUT')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Retry-After is either delta-seconds or an HTTP date. */
function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * OAuth2 access tokens for the service account (JWT bearer grant, RFC 7523), fetched from the key's own
 * `token_uri`, shared by all sends and renewed shortly before they expire.
 */
function createAccessTokenSource(credentials: FcmCredentials) {
  const account = credentials.serviceAccount;
  const privateKey = stringField(account, 'private_key');
  const clientEmail = stringField(account, 'client_email') ?? credentials.clientEmail;
  const tokenUri = stringField(account, 'token_uri') ?? GOOGLE_TOKEN_URI;
  const keyId = stringField(account, 'private_key_id');
  let key: ReturnType<typeof importPKCS8> | undefined;
  let current: { token: string; renewAt: number } | undefined;
  let pending: Promise<string> | undefined;

  async function fetchToken(): Promise<string> {
    if (!privateKey) throw new Error('service account has no private_key');
    key ??= importPKCS8(privateKey, 'RS256');
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ scope: SCOPE })
      .setProtectedHeader(keyId ? { alg: 'RS256', typ: 'JWT', kid: keyId } : { alg: 'RS256', typ: 'JWT' })
      .setIssuer(clientEmail)
      .setAudience(tokenUri)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(await key);
    const res = await fetch(tokenUri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = (await res.json().catch(() => ({}))) as {
      access_token?: unknown;
      expires_in?: unknown;
      error?: unknown;
    };
    if (!res.ok || typeof body.access_token !== 'string') {
      throw new Error(`token endpoint answered ${res.status} ${String(body.error ?? '')}`.trim());
    }
    const lifetimeMs = (typeof body.expires_in === 'number' ? body.expires_in : 3600) * 1000;
    // Renew 5 minutes early (or halfway for short-lived tokens) so no request carries a dying token.
    current = {
      token: body.access_token,
      renewAt: Date.now() + lifetimeMs - Math.min(5 * 60_000, lifetimeMs / 2),
    };
    return body.access_token;
  }

  return {
    get(): Promise<string> {
      if (current && Date.now() < current.renewAt) return Promise.resolve(current.token);
      pending ??= fetchToken().finally(() => {
        pending = undefined;
      });
      return pending;
    },
    /** Only the first of many concurrent 401s for the same token causes a new one. */
    expire(token: string): void {
      if (current?.token === token) current = undefined;
    },
  };
}

function stringField(record: Record<string, unknown>, name: string): string | undefined {
  const value = record[name];
  return typeof value === 'string' && value ? value : undefined;
}

function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as NodeJS.ErrnoException | undefined;
  // fetch wraps socket errors (ECONNREFUSED…) in `cause`; timeouts are a TimeoutError.
  return (
    cause?.code ??
    (err as NodeJS.ErrnoException).code ??
    (err.name === 'TimeoutError' ? err.name : err.message)
  );
}

function omitUndefined<T extends Record<string, unknown>>(value: T): T {
  for (const key of Object.keys(value)) if (value[key] === undefined) delete value[key];
  return value;
}
