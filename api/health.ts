import { Hono } from 'hono';
import type { ApiDeps } from './context.ts';

const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([
    p,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms).unref(),
    ),
  ]);

/**
 * `/readyz` is public: it says which dependency is down (`down`), never why — the error text (hosts, users,
 * driver messages) goes to the log at debug level.
 */
export function healthRoutes({ database, temporal, config, log }: ApiDeps) {
  const r = new Hono();
  r.get('/healthz', (c) => c.json({ status: 'ok' }));
  r.get('/readyz', async (c) => {
    const check = async (dependency: string, fn: () => Promise<unknown>) => {
      try {
        await withTimeout(fn(), 2000);
        return 'ok';
      } catch (err) {
        log.debug({ err, dependency }, 'readiness check failed');
        return 'down';
      }
    };
    const [postgres, temporalStatus] = await Promise.all([
      check('postgres', () => database.sql`select 1`),
      check('temporal', () => temporal.workflowService.getSystemInfo({})),
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
