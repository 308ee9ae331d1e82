/**
 * One server span per request (`POST /v1/pushes`: the route's pattern, never path values), continuing a
 * caller's `traceparent` when one is sent. The workflow start and the statements run inside it, so they join
 * its trace (core/tracing.ts). Off, the global tracer is a no-op.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { MiddlewareHandler } from 'hono';
import { routeOf } from './request-log.ts';

export function traceRequests(): MiddlewareHandler {
  const tracer = trace.getTracer('herald');
  return async (c, next) => {
    const parent = propagation.extract(context.active(), c.req.header());
    const method = c.req.method;
    const span = tracer.startSpan(
      method,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': method } },
      parent,
    );
    try {
      await context.with(trace.setSpan(parent, span), next);
    } finally {
      const route = routeOf(c);
      const status = c.res.status;
      span.updateName(`${method} ${route}`);
      span.setAttributes({ 'http.route': route, 'http.response.status_code': status });
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
  };
}
