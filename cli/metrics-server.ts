import { createServer, type Server } from 'node:http';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { Logger } from '../core/log.ts';
import { activitySeconds, metricsResponse, secondsSince } from '../core/metrics.ts';

/** Times every activity attempt this worker runs, by name and result (herald_activity_duration_seconds). */
export const timeActivities: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const started = performance.now();
      const activity = ctx.info.activityType;
      try {
        const out = await next(input);
        activitySeconds.observe({ activity, result: 'ok' }, secondsSince(started));
        return out;
      } catch (err) {
        activitySeconds.observe({ activity, result: 'error' }, secondsSince(started));
        throw err;
      }
    },
  },
});

/**
 * `herald worker`'s `/metrics` (HERALD_WORKER_METRICS_PORT): a listener of its own, as the worker serves no HTTP
 * otherwise. `herald start` and `herald api` answer `/metrics` on the API's port.
 */
export async function startMetricsServer(opts: {
  host: string;
  port: number;
  token: string | undefined;
  log: Logger;
}): Promise<{ port: number; stop(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    metricsResponse(req.headers.authorization, opts.token).then(
      (answer) => res.writeHead(answer.status, { 'content-type': answer.contentType }).end(answer.body),
      (err) => {
        opts.log.error({ err }, 'metrics failed');
        res.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  opts.log.info({ port }, 'worker metrics listening');
  return {
    port,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
