/**
 * One log line per request (method, route pattern, status, duration, app id, request id) and the request's
 * latency metric. Only the route's pattern is logged (`/v1/accounts/:id/tags`): no path values, no query
 * string, no header; secrets never reach the line. The request id is answered in `x-request-id` and, by the
 * error handler, in error bodies (`error.requestId`).
 */
import { randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { Histogram } from 'prom-client';
import type { Logger } from '../core/log.ts';
import { registry, secondsSince } from '../core/metrics.ts';
import type { App } from '../db/apps.ts';

export const REQUEST_ID_HEADER = 'x-request-id';

/** A caller's own id is kept when it is a plain token (a proxy's), so one id follows the request through. */
const USABLE_ID = /^[A-Za-z0-9._:-]{8,128}$/;

const httpSeconds = new Histogram({
  name: 'herald_http_request_seconds',
  help: 'HTTP requests to the API by method, route pattern and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

/** By context, not by Request: the body limit replaces `c.req.raw` with a request over a counting stream. */
const requestIds = new WeakMap<Context, string>();

/** The request's id (set by requestLog), for error bodies. */
export const requestIdOf = (c: Context): string | undefined => requestIds.get(c);

/** The pattern of the route that answered; `(unmatched)` for a 404 no route matched. */
export function routeOf(c: Context): string {
  const handlers = matchedRoutes(c).filter((r) => r.method !== 'ALL');
  return handlers.at(-1)?.path ?? '(unmatched)';
}

export function requestLog(log: Logger): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    const given = c.req.header(REQUEST_ID_HEADER);
    const requestId = given && USABLE_ID.test(given) ? given : randomUUID();
    requestIds.set(c, requestId);
    try {
      await next();
    } finally {
      c.header(REQUEST_ID_HEADER, requestId);
      const route = routeOf(c);
      const status = c.res.status;
      const seconds = secondsSince(started);
      httpSeconds.observe({ method: c.req.method, route, status: String(status) }, seconds);
      const app = (c.get as (key: string) => unknown)('app') as App | undefined;
      log.info(
        {
          method: c.req.method,
          route,
          status,
          durationMs: Math.round(seconds * 10_000) / 10,
          appId: app?.id,
          requestId,
        },
        'request',
      );
    }
  };
}
