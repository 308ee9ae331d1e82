/**
 * Key rotation: `POST /v1/apps/{id}/keys/rotate` and `…/keys/revoke-previous`, where `{id}` is an app id (the
 * operator, with HERALD_ROOT_KEY) or `current` (the app itself, with its API key). The replaced key keeps
 * working for the overlap so app servers and devices can move over; revoking ends it at once.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { HeraldError } from '../core/errors.ts';
import { findAppById, revokePreviousKey, rotateAppKey } from '../db/apps.ts';
import { type ApiDeps, type AppEnv, router } from './context.ts';
import { appAuth, rootAuth } from './middleware.ts';
import { commonErrors, jsonBodyOf, jsonContent, notFoundError } from './schemas.ts';

/** The longest a replaced key may keep working: 30 days. */
export const MAX_OVERLAP_SECONDS = 30 * 24 * 3600;

const params = z.object({
  id: z
    .string()
    .regex(/^[\w-]{1,64}$/, 'must be an app id or `current`')
    .openapi({
      param: { name: 'id', in: 'path' },
      description: 'An app id (root key) or `current` (API key)',
    }),
});
const kind = z.enum(['api', 'secret']).openapi({
  description: '`api`: the admin API key of /v1; `secret`: the key that signs user tokens and UserSigs',
});
const security: Record<string, string[]>[] = [{ appKey: [] }, { rootKey: [] }];
const keyRoute = { tags: ['Apps'], security };

const rotate = createRoute({
  ...keyRoute,
  method: 'post',
  path: '/{id}/keys/rotate',
  summary: 'Give the app a new API key or secret key; the old one keeps working for the overlap',
  request: {
    params,
    body: jsonBodyOf(
      z.strictObject({
        kind,
        overlapSeconds: z.number().int().min(0).max(MAX_OVERLAP_SECONDS).default(86_400).openapi({
          description:
            'How long the replaced key still works (0: it stops now); a key replaced before is dropped',
        }),
      }),
    ),
  },
  responses: {
    200: jsonContent(
      z
        .object({
          kind,
          key: z.string().openapi({ description: 'The new key; shown only now' }),
          previousExpiresAt: z.string().nullable(),
        })
        .openapi('RotatedKey'),
      'The new key',
    ),
    ...commonErrors,
    ...notFoundError,
  },
});

const revoke = createRoute({
  ...keyRoute,
  method: 'post',
  path: '/{id}/keys/revoke-previous',
  summary: 'End a rotation’s overlap now: only the newest key works',
  request: { params, body: jsonBodyOf(z.strictObject({ kind })) },
  responses: {
    200: jsonContent(z.object({ kind, previousExpiresAt: z.null() }), 'Only the newest key works'),
    ...commonErrors,
    ...notFoundError,
  },
});

/** `current` is the app of the API key; any other id needs the root key. */
export function keysAuth({ config, database }: ApiDeps): MiddlewareHandler<AppEnv> {
  const asApp = appAuth(database, config.HERALD_ROOT_KEY);
  const asRoot = rootAuth(config.HERALD_ROOT_KEY);
  return (c, next) => (c.req.param('id') === 'current' ? asApp(c, next) : asRoot(c, next));
}

/** Mounted on the operator's router under /v1/apps, behind keysAuth. */
export function keysRoutes({ database }: ApiDeps) {
  const r = router();
  const appIdOf = async (id: string, current: () => string): Promise<string> => {
    if (id === 'current') return current();
    if (!(await findAppById(database.db, id)))
      throw new HeraldError('not_found', 'not_found', `app ${id} does not exist`);
    return id;
  };
  const gone = (id: string) => new HeraldError('not_found', 'not_found', `app ${id} does not exist`);
  r.openapi(rotate, async (c) => {
    const { id } = c.req.valid('param');
    const appId = await appIdOf(id, () => c.get('app').id);
    const body = c.req.valid('json');
    const rotated = await rotateAppKey(database.db, appId, body.kind, body.overlapSeconds);
    if (!rotated) throw gone(appId);
    return c.json({ ...rotated, previousExpiresAt: rotated.previousExpiresAt?.toISOString() ?? null }, 200);
  });
  r.openapi(revoke, async (c) => {
    const { id } = c.req.valid('param');
    const appId = await appIdOf(id, () => c.get('app').id);
    const { kind } = c.req.valid('json');
    if (!(await revokePreviousKey(database.db, appId, kind))) throw gone(appId);
    return c.json({ kind, previousExpiresAt: null }, 200);
  });
  return r;
}
