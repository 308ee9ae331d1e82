import { createRoute, z } from '@hono/zod-openapi';
import { listPushes, type PushRow } from '../db/pushes.ts';
import { wavesOf } from '../db/waves.ts';
import { CHANNEL_NAMES } from '../delivery/registry.ts';
import { pushFunnel } from '../pushes/engagement.ts';
import { cancelPush, createPush, getPush, pushInputSchema, recallPush } from '../pushes/service.ts';
import { type ApiDeps, router } from './context.ts';
import { PushSchema, type PushView, pushView } from './push-view.ts';
import {
  commonErrors,
  conflictError,
  idempotencyKeyHeader,
  jsonBodyOf,
  jsonContent,
  notFoundError,
  security,
  tooManyError,
  uuidPageQuery,
} from './schemas.ts';

const tags = ['Pushes'];
const idParam = z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) });

const create = createRoute({
  method: 'post',
  path: '/',
  tags,
  security,
  summary: 'Create a push to all users, or to those a condition selects',
  request: {
    headers: idempotencyKeyHeader('push'),
    body: jsonBodyOf(pushInputSchema.openapi('PushInput')),
  },
  responses: {
    201: jsonContent(PushSchema, 'Created'),
    200: jsonContent(PushSchema, 'The push this Idempotency-Key already created'),
    ...commonErrors,
    ...conflictError('`idempotency_key_reused`: the key was used for another body'),
    ...tooManyError,
  },
});

const list = createRoute({
  method: 'get',
  path: '/',
  tags,
  security,
  summary: 'List pushes, newest first',
  request: {
    query: z.object({
      status: z.enum(['scheduled', 'running', 'completed', 'canceled', 'failed']).optional(),
      campaignId: z.string().optional(),
      scheduleId: z.string().optional(),
      createdFrom: z.iso.datetime({ offset: true }).optional(),
      createdTo: z.iso.datetime({ offset: true }).optional(),
      ...uuidPageQuery(200, 50),
    }),
  },
  responses: {
    200: jsonContent(
      z.object({ pushes: z.array(PushSchema), nextCursor: z.string().nullable() }),
      'A page of pushes',
    ),
    ...commonErrors,
  },
});

const get = createRoute({
  method: 'get',
  path: '/{id}',
  tags,
  security,
  summary: 'A push: status, timestamps and live counters',
  request: { params: idParam },
  responses: { 200: jsonContent(PushSchema, 'The push'), ...commonErrors, ...notFoundError },
});

const stage = z.object({
  delivered: z.number(),
  opened: z.number(),
  clicked: z.number(),
  openRate: z.number().nullable(),
  clickRate: z.number().nullable(),
});
const FunnelSchema = z
  .object({
    pushId: z.string(),
    status: z.string(),
    audience: z.number(),
    delivered: z.object({
      total: z.number(),
      online: z.number(),
      synced: z.number(),
      providers: z.record(z.string(), z.number()),
    }),
    opened: z.number(),
    clicked: z.number(),
    openRate: z.number().nullable(),
    clickRate: z.number().nullable(),
    byChannel: z.record(z.string(), stage).openapi({ description: '`online` and one entry per channel' }),
  })
  .openapi('PushFunnel');

const funnel = createRoute({
  method: 'get',
  path: '/{id}/funnel',
  tags,
  security,
  summary: 'audience → delivered (online + synced + provider sent) → opened → clicked, in all and by channel',
  request: { params: idParam },
  responses: { 200: jsonContent(FunnelSchema, 'The funnel'), ...commonErrors, ...notFoundError },
});

const stopRoute = (action: 'cancel' | 'recall', summary: string) =>
  createRoute({
    method: 'post',
    path: `/{id}/${action}`,
    tags,
    security,
    summary,
    request: { params: idParam },
    responses: {
      202: jsonContent(PushSchema, 'Accepted; the push as it stands now'),
      ...commonErrors,
      ...notFoundError,
      ...conflictError('`recall_window_passed`'),
    },
  });

export function pushesRoutes(deps: ApiDeps) {
  const r = router();
  /** The pushes' views, with the waves of the local-time ones (one query for the lot). */
  const views = async (appId: string, rows: PushRow[]): Promise<PushView[]> => {
    const waved = rows.filter((p) => p.localDelivery).map((p) => p.id);
    const waves = await wavesOf(deps.database.db, appId, waved);
    return rows.map((p) => pushView(p, waves));
  };
  const viewOf = async (appId: string, row: PushRow): Promise<PushView> =>
    (await views(appId, [row]))[0] as PushView;
  const reread = async (appId: string, id: string): Promise<PushView> =>
    viewOf(appId, await getPush(deps, appId, id));

  r.openapi(create, async (c) => {
    const { push, created } = await createPush(deps, c.get('app'), c.req.valid('json'), {
      idempotencyKey: c.req.valid('header')['idempotency-key'],
    });
    return c.json(await viewOf(c.get('app').id, push), created ? 201 : 200);
  });

  r.openapi(list, async (c) => {
    const q = c.req.valid('query');
    const rows = await listPushes(deps.database.db, c.get('app').id, {
      status: q.status,
      campaignId: q.campaignId,
      scheduleId: q.scheduleId,
      createdFrom: q.createdFrom ? new Date(q.createdFrom) : undefined,
      createdTo: q.createdTo ? new Date(q.createdTo) : undefined,
      after: q.cursor,
      limit: q.limit,
    });
    const next = rows.length === q.limit ? (rows.at(-1)?.id ?? null) : null;
    return c.json({ pushes: await views(c.get('app').id, rows), nextCursor: next }, 200);
  });

  r.openapi(get, async (c) => c.json(await reread(c.get('app').id, c.req.valid('param').id), 200));

  r.openapi(funnel, async (c) => {
    const push = await getPush(deps, c.get('app').id, c.req.valid('param').id);
    return c.json(await pushFunnel(deps.database.db, push, CHANNEL_NAMES), 200);
  });

  r.openapi(
    stopRoute('cancel', 'Cancel: a scheduled push never sends; a running one stops its remaining batches'),
    async (c) => {
      const app = c.get('app');
      await cancelPush(deps, await getPush(deps, app.id, c.req.valid('param').id));
      return c.json(await reread(app.id, c.req.valid('param').id), 202);
    },
  );

  r.openapi(
    stopRoute('recall', 'Recall (within 24 h): stop, withdraw stored copies, remove from connected clients'),
    async (c) => {
      const app = c.get('app');
      await recallPush(deps, await getPush(deps, app.id, c.req.valid('param').id));
      return c.json(await reread(app.id, c.req.valid('param').id), 202);
    },
  );
  return r;
}
