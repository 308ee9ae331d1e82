import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { unstorableTextAt } from '../core/text.ts';
import { findAppByApiKey, findAppById } from '../db/apps.ts';
import type { Database } from '../db/client.ts';
import type { AppEnv } from './context.ts';
import { ApiError } from './errors.ts';
import { DOMAIN_CHECKED_TEXT, rememberUnstorableText, unstorableTextError } from './text-check.ts';

const bearer = (header: string | undefined): string | undefined => {
  const m = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return m?.[1];
};

/** With the root key, this header names the app a /v1 request acts as (the operator's console, support). */
export const ACT_AS_APP_HEADER = 'x-herald-app';

/**
 * Every /v1 request carries the app's admin key; the app it names is all the request can see. The operator may
 * instead send HERALD_ROOT_KEY with `X-Herald-App: <app id>` and act as that app (the root key can already
 * rotate any app's keys, so this gives it nothing new).
 */
export function appAuth(database: Database, rootKey?: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = bearer(c.req.header('authorization'));
    if (!key)
      throw new ApiError(401, 'unauthorized', 'Send the app admin key as `Authorization: Bearer <key>`');
    const actAs = c.req.header(ACT_AS_APP_HEADER);
    if (actAs !== undefined) {
      if (!rootKey || !isRootKey(key, rootKey))
        throw new ApiError(401, 'unauthorized', 'X-Herald-App is for HERALD_ROOT_KEY only');
      const app = /^[\w-]{1,64}$/.test(actAs) ? await findAppById(database.db, actAs) : undefined;
      if (!app) throw new ApiError(404, 'not_found', `X-Herald-App: app ${actAs} does not exist`);
      c.set('app', app);
      return next();
    }
    const app = await findAppByApiKey(database.db, key);
    if (!app) throw new ApiError(401, 'unauthorized', 'The API key is not valid for any app');
    c.set('app', app);
    await next();
  };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Whether `given` is the root key, in time that does not depend on where they differ (or on their lengths). */
export function isRootKey(given: string | undefined, rootKey: string): boolean {
  return timingSafeEqual(digest(given ?? ''), digest(rootKey)) && given !== undefined;
}

/**
 * The operator key guards app creation and app limits; without HERALD_ROOT_KEY those endpoints do not exist.
 */
export function rootAuth(rootKey: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (!rootKey)
      throw new ApiError(404, 'not_found', 'Operator endpoints are disabled: set HERALD_ROOT_KEY');
    if (!isRootKey(bearer(c.req.header('authorization')), rootKey)) {
      throw new ApiError(401, 'unauthorized', 'Send HERALD_ROOT_KEY as `Authorization: Bearer <key>`');
    }
    await next();
  };
}

/**
 * A request whose body was refused before it was all read (401, 404, 413, a v4 refusal) leaves bytes on the
 * connection that the server drains only so far, then drops the connection: the answer says
 * `Connection: close`, so a client does not send its next request on a connection about to close.
 */
export function closeAfterUnreadBody(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const sent =
      c.req.header('transfer-encoding') !== undefined || Number(c.req.header('content-length')) > 0;
    if (!sent) return;
    // Over HTTP (@hono/node-server) the request says whether all of it arrived; in process, guess.
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const unread = incoming ? !incoming.complete : c.res.status === 413 || !c.req.raw.bodyUsed;
    if (unread) c.header('connection', 'close');
  };
}

/**
 * The body may be at most `maxBytes(c)` bytes: a larger one is refused (413 `payload_too_large`) as soon as its
 * Content-Length says so, or, when it is chunked, as soon as that many bytes have streamed in; nothing is
 * parsed before. Mount it after authentication, so an unauthenticated body is never read at all.
 */
export function limitBody(maxBytes: (c: Context) => number): MiddlewareHandler {
  const limits = new Map<number, MiddlewareHandler>();
  return (c, next) => {
    const max = maxBytes(c);
    let limit = limits.get(max);
    if (!limit) {
      limit = bodyLimit({
        maxSize: max,
        onError: () => {
          throw new ApiError(
            413,
            'payload_too_large',
            `The request body is larger than this route takes (${max} bytes)`,
            { limit: max },
          );
        },
      });
      limits.set(max, limit);
    }
    return limit(c, next);
  };
}

/**
 * Requests with a body must be JSON and must parse: a wrong content type or broken JSON is a 400 that says
 * so, before any validator sees it. Text PostgreSQL cannot store (NUL, a lone surrogate) is refused here too,
 * with the path of the field as zod's messages give it (`message.elements.0.text`): api/text-check.ts.
 */
export function jsonBody(): MiddlewareHandler {
  return async (c, next) => {
    if (!['POST', 'PUT', 'PATCH'].includes(c.req.method)) return next();
    const length = c.req.header('content-length');
    const hasBody =
      c.req.header('transfer-encoding') !== undefined || (length !== undefined && length !== '0');
    if (!hasBody) return next();
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/(.+\+)?json\b/i.test(type)) {
      throw new ApiError(
        400,
        'unsupported_content_type',
        `Send the body as application/json (got ${type || 'none'})`,
      );
    }
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new ApiError(400, 'invalid_json', 'The request body is not valid JSON');
    }
    const bad = unstorableTextAt(body);
    if (bad) {
      if (!DOMAIN_CHECKED_TEXT.test(c.req.path)) throw unstorableTextError(bad);
      rememberUnstorableText(c, bad);
    }
    await next();
  };
}
