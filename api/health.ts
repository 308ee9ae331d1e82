import { Hono } from 'hono';
import type { ApiDeps } from './context.ts';

const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([
    p,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms).unref(),
    ),
  ]);

export function healthRoutes({ database, temporal, config }: ApiDeps) {
  const r = new Hono();
  r.get('/healthz', (c) => c.json({ status: 'ok' }));
  r.get('/readyz', async (c) => {
    const check = async (fn: () => Promise<unknown>) => {
      try {
        await withTimeout(fn(), 2000);
        return 'ok';
      } catch (err) {
        return (err as Error).message;
      }
    };
    const [postgres, temporalStatus] = await Promise.all([
      check(() => database.sql`select 1`),
      check(() => temporal.workflowService.getSystemInfo({})),
    ]);
    const ready = postgres === 'ok' && temporalStatus === 'ok';
    return c.json(
      {
        status: ready ? 'ready' : 'unavailable',
        checks: { postgres, temporal: temporalStatus, namespace: config.TEMPORAL_NAMESPACE },
      },
      ready ? 200 : 503,
    );
  });
  return r;
}
