/**
 * Operator ceilings on what a tenant may set itself: the largest daily push quota
 * (HERALD_MAX_DAILY_PUSH_QUOTA) and the smallest interval between pushes (HERALD_MIN_PUSH_INTERVAL_MS). Every
 * push creates a table partition and a workflow on shared infrastructure; only the operator (the root API,
 * `PATCH /v1/apps/{id}/limits`) gives an app more.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Config } from '../core/config.ts';
import { HeraldError } from '../core/errors.ts';
import { findAppById, updateAppSettings } from '../db/apps.ts';
import { type ApiDeps, router } from './context.ts';
import { commonErrors, jsonBodyOf, jsonContent, notFoundError } from './schemas.ts';

export interface PushLimits {
  dailyPushQuota?: number | undefined;
  minPushIntervalMs?: number | undefined;
}

/** The hard bounds of the columns, for the root API as for everyone. */
export const MAX_DAILY_PUSH_QUOTA = 1_000_000;
export const MAX_PUSH_INTERVAL_MS = 3_600_000;

/**
 * Refuses (400 `limit_above_ceiling`) a quota above the operator's ceiling or an interval below its floor, unless
 * it is no more than the app already has (an app the operator raised may keep or lower its limits).
 */
export function checkCeilings(config: Config, wanted: PushLimits, current?: Required<PushLimits>): void {
  const quota = wanted.dailyPushQuota;
  const ceiling = config.HERALD_MAX_DAILY_PUSH_QUOTA;
  if (quota !== undefined && quota > ceiling && quota > (current?.dailyPushQuota ?? 0)) {
    throw new HeraldError(
      'limit_above_ceiling',
      'invalid',
      `at most ${ceiling} on this installation (HERALD_MAX_DAILY_PUSH_QUOTA); the operator can raise an app's limits`,
      { path: ['dailyPushQuota'], details: { limit: ceiling } },
    );
  }
  const interval = wanted.minPushIntervalMs;
  const floor = config.HERALD_MIN_PUSH_INTERVAL_MS;
  if (
    interval !== undefined &&
    interval < floor &&
    interval < (current?.minPushIntervalMs ?? Number.POSITIVE_INFINITY)
  ) {
    throw new HeraldError(
      'limit_above_ceiling',
      'invalid',
      `at least ${floor} on this installation (HERALD_MIN_PUSH_INTERVAL_MS); the operator can lower an app's limits`,
      { path: ['minPushIntervalMs'], details: { limit: floor } },
    );
  }
}

const LimitsSchema = z
  .object({ id: z.string(), dailyPushQuota: z.number(), minPushIntervalMs: z.number() })
  .openapi('AppLimits');

const setLimits = createRoute({
  method: 'patch',
  path: '/{id}/limits',
  tags: ['Apps'],
  summary: 'Set an app’s push limits, beyond the ceilings (operator only: Bearer $HERALD_ROOT_KEY)',
  security: [{ rootKey: [] }],
  request: {
    params: z.object({ id: z.string().regex(/^[\w-]{1,64}$/, 'must be an app id') }),
    body: jsonBodyOf(
      z.strictObject({
        dailyPushQuota: z.number().int().min(1).max(MAX_DAILY_PUSH_QUOTA).optional(),
        minPushIntervalMs: z.number().int().min(0).max(MAX_PUSH_INTERVAL_MS).optional(),
      }),
    ),
  },
  responses: { 200: jsonContent(LimitsSchema, 'The app’s limits'), ...commonErrors, ...notFoundError },
});

/** `PATCH /{id}/limits` of the operator's router (mounted under /v1/apps behind the root key). */
export function limitsRoutes({ database }: ApiDeps) {
  const r = router();
  r.openapi(setLimits, async (c) => {
    const { id } = c.req.valid('param');
    if (!(await findAppById(database.db, id)))
      throw new HeraldError('not_found', 'not_found', `app ${id} does not exist`);
    const app = await updateAppSettings(database.db, id, c.req.valid('json'));
    return c.json(
      { id: app.id, dailyPushQuota: app.dailyPushQuota, minPushIntervalMs: app.minPushIntervalMs },
      200,
    );
  });
  return r;
}
