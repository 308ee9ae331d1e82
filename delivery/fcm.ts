import http from 'node:http';
import type http2 from 'node:http2';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { importPKCS8, SignJWT } from 'jose';
import type { FcmCredentials } from '../db/schema.ts';
import { type Bearer, createBearerCache } from './bearer.ts';
import { createSessionPool, request } from './http2-pool.ts';
import { backoff, createGate, failed } from './limits.ts';
import type { DeviceTarget, Notification, ProviderClient, SendOutcome } from './provider.ts';

export interface FcmClientOptions {
  credentials: FcmCredentials;
  /** Default https://fcm.googleapis.com; an http:// URL is spoken to as h2c with prior knowledge. */
  baseUrl?: string;
  /** HTTP/2 sessions; default 2. */
  connections?: number;
  /** Max requests in flight; default 200. */
  concurrency?: number;
  /** Retries after 429, 5xx and network errors; default 3. */
  maxRetries?: number;
  /** Extra trusted CA, for messages:send and the token endpoint (tests). */
  ca?: string | Buffer;
}

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
const REQUEST_TIMEOUT_MS = 15_000;
/** A Retry-After longer than this is not worth holding a send for; the message fails instead. */
const MAX_RETRY_AFTER_MS = 60_000;
/** FCM's longest Android TTL (4 weeks). */
const MAX_TTL_SECONDS = 28 * 24 * 3600;

/**
 * FCM HTTP v1 over HTTP/2: fcm.googleapis.com multiplexes many requests on one TLS session, where HTTP/1.1
 * took a socket and a write of its own per request.
 */
export function createFcmClient(opts: FcmClientOptions): ProviderClient {
  const { credentials } = opts;
  const maxRetries = opts.maxRetries ?? 3;
  const base = new URL(opts.baseUrl ?? 'https://fcm.googleapis.com');
  const origin = base.origin;
  const path = `${base.pathname.replace(/\/+$/, '')}/v1/projects/${encodeURIComponent(credentials.projectId)}/messages:send`;
  const accessToken = createAccessTokenSource(credentials, opts.ca);
  const gate = createGate(opts.concurrency ?? 200);
  const pool = createSessionPool(opts.connections ?? 2, opts.ca);
  let closed = false;

  /**
   * Sends one page from one loop with callbacks, and calls `resolve` once with the outcomes in target order.
   * Each body is the page's JSON with the device's token spliced in; the headers object is the page's, with
   * the current access token set per request.
   */
  function sendPage(
    targets: readonly DeviceTarget[],
    bodyPrefix: string,
    bodySuffix: string,
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
      const body = `${bodyPrefix}${JSON.stringify((targets[i] as DeviceTarget).token)}${bodySuffix}`;
      headers.authorization = bearer.authorization;
      request(pool, origin, headers, body, REQUEST_TIMEOUT_MS, (err, status, responseHeaders, text) => {
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
      if (status === 200) {
        settle(i, { token, outcome: 'sent' });
        return;
      }
      const error = parseGoogleError(text);
      // An access token can be revoked or expire early; one fresh token per message is enough to tell.
      if (status === 401 && !reauthorized) {
        accessToken.expire(bearer);
        attempt(i, n, true);
        return;
      }
      if (isDeadToken(status, error)) {
        settle(i, { token, outcome: 'invalid', reason: error.code ?? 'UNREGISTERED' });
        return;
      }
      const retryable = status === 429 || status >= 500;
      const retryAfter = responseHeaders?.['retry-after'];
      const wait = Math.max(
        parseRetryAfter(typeof retryAfter === 'string' ? retryAfter : undefined) ?? 0,
        backoff(n),
      );
      if (!retryable || n >= maxRetries || wait > MAX_RETRY_AFTER_MS) {
        settle(i, failed(token, error.code ?? error.status ?? `HTTP ${status}`));
      } else setTimeout(attempt, wait, i, n + 1, reauthorized);
    }

    for (let i = 0; i < targets.length; i++) attempt(i, 0, false);
  }

  return {
    async send(targets: readonly DeviceTarget[], notification: Notification): Promise<SendOutcome[]> {
      if (targets.length === 0) return [];
      // {"message":{"token":<token>,<the rest of the message>}}, the same bytes as stringifying it whole.
      const rest = JSON.stringify(fcmMessage(notification)).slice(1);
      const suffix = rest === '}' ? '}}' : `,${rest}}`;
      return new Promise((resolve) => sendPage(targets, '{"message":{"token":', suffix, resolve));
    },
    async close() {
      closed = true;
      await pool.close();
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

/** Retry-After is either delta-seconds or an HTTP date. */
function parseRetryAfter(value: string | undefined): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * OAuth2 access tokens for the service account (JWT bearer grant, RFC 7523), fetched from the key's own
 * `token_uri`, shared by all sends and renewed shortly before they expire.
 */
function createAccessTokenSource(credentials: FcmCredentials, ca: string | Buffer | undefined) {
  const account = credentials.serviceAccount;
  const privateKey = stringField(account, 'private_key');
  const clientEmail = stringField(account, 'client_email') ?? credentials.clientEmail;
  const tokenUri = stringField(account, 'token_uri') ?? GOOGLE_TOKEN_URI;
  const keyId = stringField(account, 'private_key_id');
  const trusted = ca ? [...rootCertificates, ca.toString()] : undefined;
  let key: ReturnType<typeof importPKCS8> | undefined;

  return createBearerCache('Bearer', async () => {
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
    const form = new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion,
    });
    const res = await postForm(tokenUri, form.toString(), trusted);
    let body: { access_token?: unknown; expires_in?: unknown; error?: unknown } = {};
    try {
      body = JSON.parse(res.body) as typeof body;
    } catch {
      // not JSON: reported below by status
    }
    if (res.status !== 200 || typeof body.access_token !== 'string') {
      throw new Error(`token endpoint answered ${res.status} ${String(body.error ?? '')}`.trim());
    }
    const lifetimeMs = (typeof body.expires_in === 'number' ? body.expires_in : 3600) * 1000;
    // Renew 5 minutes early (or halfway for short-lived tokens) so no request carries a dying token.
    return {
      token: body.access_token,
      renewAt: Date.now() + lifetimeMs - Math.min(5 * 60_000, lifetimeMs / 2),
    };
  });
}

/**
 * The token request: HTTP/1.1 like any OAuth client (once an hour, so no pooled connection), trusting the
 * client's extra CA as the sends do.
 */
function postForm(
  url: string,
  form: string,
  ca: string[] | undefined,
): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  const options: https.RequestOptions = {
    method: 'POST',
    agent: false,
    timeout: REQUEST_TIMEOUT_MS,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': Buffer.byteLength(form),
    },
  };
  if (ca) options.ca = ca;
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    };
    const req =
      target.protocol === 'https:'
        ? https.request(target, options, onResponse)
        : http.request(target, options, onResponse);
    req.on('timeout', () =>
      req.destroy(Object.assign(new Error('token request timed out'), { code: 'ETIMEDOUT' })),
    );
    req.on('error', reject);
    req.end(form);
  });
}

function stringField(record: Record<string, unknown>, name: string): string | undefined {
  const value = record[name];
  return typeof value === 'string' && value ? value : undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err);
}

function omitUndefined<T extends Record<string, unknown>>(value: T): T {
  for (const key of Object.keys(value)) if (value[key] === undefined) delete value[key];
  return value;
}
