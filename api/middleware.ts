import type { MiddlewareHandler } from 'hono';
import { findAppByApiKey } from '../db/apps.ts';
import type { Database } from '../db/client.ts';
import type { AppEnv } from './context.ts';
import { ApiError } from './errors.ts';

const bearer = (header: string | undefined): string | undefined => {
  const m = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return m?.[1];
};

/** Every /v1 request carries the app's admin key; the app it names is all the request can see. */
export function appAuth(database: Database): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = bearer(c.req.header('authorization'));
    if (!key)
      throw new ApiError(401, 'unauthorized', 'Send the app admin key as `Authorization: Bearer <key>`');
    const app = await findAppByApiKey(database.db, key);
    if (!app) throw new ApiError(401, 'unauthorized', 'The API key is not valid for any app');
    c.set('app', app);
    await next();
  };
}

/** The operator key guards app creation; without HERALD_ROOT_KEY the endpoint does not exist. */
export function rootAuth(rootKey: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (!rootKey)
      throw new ApiError(404, 'not_found', 'App creation over HTTP is disabled: set HERALD_ROOT_KEY');
    if (bearer(c.req.header('authorization')) !== rootKey) {
      throw new ApiError(401, 'unauthorized', 'Send HERALD_ROOT_KEY as `Authorization: Bearer <key>`');
    }
    await next();
  };
}

/**
 * Requests with a body must be JSON and must parse: a wrong content type or broken JSON is a 400 that says
 * so, before any validator sees it.
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
    try {
      await c.req.json();
    } catch {
      throw new ApiError(400, 'invalid_json', 'The request body is not valid JSON');
    }
    await next();
  };
}
