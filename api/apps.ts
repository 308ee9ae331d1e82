import { createRoute, z } from '@hono/zod-openapi';
import { createApp, listApps, SdkAppIdTakenError } from '../db/apps.ts';
import type { ApiDeps } from './context.ts';
import { router } from './context.ts';
import { ApiError } from './errors.ts';
import { keysAuth, keysRoutes } from './keys.ts';
import { checkCeilings, limitsRoutes, MAX_DAILY_PUSH_QUOTA, MAX_PUSH_INTERVAL_MS } from './limits.ts';
import { jsonBody, limitBody, rootAuth } from './middleware.ts';
import { commonErrors, conflictError, jsonBodyOf, jsonContent } from './schemas.ts';

export const CreatedAppSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    sdkAppId: z.number().int(),
    apiKey: z.string().openapi({ description: 'Admin API key for /v1; shown only now' }),
    secretKey: z.string().openapi({ description: 'Signs user tokens and Tencent UserSigs; shown only now' }),
  })
  .openapi('CreatedApp');

const createAppRoute = createRoute({
  method: 'post',
  path: '/',
  tags: ['Apps'],
  summary: 'Create an app (operator only: Authorization: Bearer $HERALD_ROOT_KEY)',
  security: [{ rootKey: [] }],
  request: {
    body: jsonBodyOf(
      z.strictObject({
        name: z.string().trim().min(1).max(100),
        dailyPushQuota: z.number().int().min(1).max(MAX_DAILY_PUSH_QUOTA).optional().openapi({
          description: 'At most HERALD_MAX_DAILY_PUSH_QUOTA (`limit_above_ceiling`); more by PATCH …/limits',
        }),
        minPushIntervalMs: z.number().int().min(0).max(MAX_PUSH_INTERVAL_MS).optional().openapi({
          description: 'At least HERALD_MIN_PUSH_INTERVAL_MS (`limit_above_ceiling`); less by PATCH …/limits',
        }),
        sdkAppId: z
          .number()
          .int()
          .min(1)
          .max(4_294_967_295)
          .optional()
          .openapi({ description: 'Keep a Tencent SDKAppID (default: a new one)' }),
        secretKey: z.string().min(32).max(128).optional().openapi({
          description: 'Keep a Tencent secret key, so existing UserSigs stay valid (default: a new one)',
        }),
      }),
    ),
  },
  responses: {
    201: jsonContent(CreatedAppSchema, 'The app and its keys'),
    ...commonErrors,
    ...conflictError('`sdk_app_id_taken`'),
  },
});

const listAppsRoute = createRoute({
  method: 'get',
  path: '/',
  tags: ['Apps'],
  summary: 'List the apps, oldest first (operator only: Authorization: Bearer $HERALD_ROOT_KEY)',
  security: [{ rootKey: [] }],
  request: {
    query: z.object({
      cursor: z
        .string()
        .regex(/^[\w-]{1,64}$/, 'cursor must be the nextCursor of a previous page')
        .optional(),
      limit: z.coerce.number().int().min(1).max(500).default(100),
    }),
  },
  responses: {
    200: jsonContent(
      z
        .object({
          apps: z.array(
            z.object({
              id: z.string(),
              name: z.string(),
              sdkAppId: z.number().int(),
              isDefault: z.boolean(),
              createdAt: z.string(),
            }),
          ),
          nextCursor: z.string().nullable(),
        })
        .openapi('AppList'),
      'A page of apps (no keys)',
    ),
    ...commonErrors,
  },
});

/**
 * The operator's endpoints: the root key first, then the body (at most HERALD_MAX_BODY_BYTES); key rotation
 * also for an app itself (`/v1/apps/current/keys/…`).
 */
export function appsRoutes(deps: ApiDeps) {
  const { config, database } = deps;
  const r = router();
  for (const path of ['/', '/:id/limits'])
    r.use(
      path,
      rootAuth(config.HERALD_ROOT_KEY),
      limitBody(() => config.HERALD_MAX_BODY_BYTES),
      jsonBody(),
    );
  r.openapi(listAppsRoute, async (c) => {
    const { cursor, limit } = c.req.valid('query');
    const rows = await listApps(database.db, cursor, limit);
    return c.json(
      {
        apps: rows.map((a) => ({ ...a, createdAt: a.createdAt.toISOString() })),
        nextCursor: rows.length === limit ? (rows.at(-1)?.id ?? null) : null,
      },
      200,
    );
  });
  r.openapi(createAppRoute, async (c) => {
    const body = c.req.valid('json');
    checkCeilings(config, body);
    try {
      return c.json(await createApp(database.db, body), 201);
    } catch (err) {
      if (err instanceof SdkAppIdTakenError) throw new ApiError(409, 'sdk_app_id_taken', err.message);
      throw err;
    }
  });
  r.route('/', limitsRoutes(deps));
  // Key rotation: `current` with the app's API key, any app id with the root key.
  r.use(
    '/:id/keys/*',
    keysAuth(deps),
    limitBody(() => config.HERALD_MAX_BODY_BYTES),
    jsonBody(),
  );
  r.route('/', keysRoutes(deps));
  return r;
}
