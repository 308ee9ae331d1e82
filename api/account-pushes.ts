/**
 * `GET /v1/accounts/{id}/pushes`: the recent pushes an account is a recipient of, and what happened to its
 * copy: still waiting for it (stored, within retention), delivered online, synced on connect, acked, withdrawn
 * by a recall, expired. Read through the recipients' account index, over the app's 500 latest pushes.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { accountPushes } from '../db/recipients.ts';
import { existingAccountIds } from '../db/sessions.ts';
import { accountNotFound, accountParam, forOne, ONE_ID } from './accounts.ts';
import { type ApiDeps, router } from './context.ts';
import { commonErrors, jsonContent, notFoundError, security } from './schemas.ts';

const STATES = [
  'pending',
  'online',
  'awaitingLive',
  'synced',
  'acked',
  'withdrawn',
  'expired',
  'skipped',
] as const;

const AccountPushSchema = z
  .object({
    id: z.string(),
    state: z.enum(STATES).openapi({
      description:
        '`pending` / `awaitingLive`: not delivered yet (a stored copy while retention lasts); `online`, `synced`, ' +
        '`acked`: delivered; `withdrawn`: recalled; `expired`: retention ended first; `skipped`: not sent',
    }),
    waiting: z.boolean().openapi({ description: 'A stored copy waits for the account’s next connect' }),
    status: z.string(),
    snapshotAt: z.string().nullable(),
    expiresAt: z.string().nullable(),
  })
  .openapi('AccountPush');

const route = createRoute({
  method: 'get',
  path: '/{id}/pushes',
  tags: ['Accounts'],
  security,
  summary: 'The recent pushes an account is a recipient of, and what happened to its copy',
  request: {
    params: accountParam,
    query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }),
  },
  responses: {
    200: jsonContent(z.object({ pushes: z.array(AccountPushSchema) }), 'Newest first'),
    ...commonErrors,
    ...notFoundError,
  },
});

/** Mounted at /v1/accounts. */
export function accountPushesRoutes(deps: ApiDeps) {
  const r = router();
  r.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    const appId = c.get('app').id;
    const db = deps.database.db;
    const exists = await forOne(ONE_ID, () => existingAccountIds(db, appId, [id]));
    if (!exists.has(id)) throw accountNotFound(id);
    const rows = await accountPushes(db, appId, id, c.req.valid('query').limit);
    const now = Date.now();
    return c.json(
      {
        pushes: rows.map((p) => ({
          id: p.pushId,
          state: p.state,
          waiting:
            (p.state === 'pending' || p.state === 'awaitingLive') &&
            p.recalledAt === null &&
            (p.expiresAt?.getTime() ?? 0) > now,
          status: p.status,
          snapshotAt: p.snapshotAt?.toISOString() ?? null,
          expiresAt: p.expiresAt?.toISOString() ?? null,
        })),
      },
      200,
    );
  });
  return r;
}
