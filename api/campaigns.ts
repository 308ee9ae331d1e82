import { createRoute, z } from '@hono/zod-openapi';
import { type CampaignRow, listCampaigns } from '../db/campaigns.ts';
import type { PushRow } from '../db/pushes.ts';
import { type WaveRow, wavesOf } from '../db/waves.ts';
import {
  campaignInputSchema,
  campaignPushes,
  cancelCampaign,
  createCampaign,
  getCampaign,
  rescheduleCampaign,
} from '../pushes/campaigns.ts';
import { type ApiDeps, router } from './context.ts';
import { PushSchema, pushView } from './push-view.ts';
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

const tags = ['Campaigns'];
const idParam = z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) });

const CampaignSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(['active', 'completed', 'canceled']),
    createdAt: z.string(),
    canceledAt: z.string().nullable(),
    workflowId: z.string(),
    steps: z.array(z.object({ index: z.number(), at: z.string().nullable(), push: PushSchema })),
  })
  .openapi('Campaign');

function campaignView(c: CampaignRow, steps: PushRow[], waves: WaveRow[]) {
  return {
    id: c.id,
    name: c.name,
    status: c.status,
    createdAt: c.createdAt.toISOString(),
    canceledAt: c.canceledAt?.toISOString() ?? null,
    workflowId: c.workflowId,
    steps: steps.map((p) => ({
      index: p.campaignStep ?? 0,
      at: p.sendAt?.toISOString() ?? null,
      push: pushView(p, waves),
    })),
  };
}

const create = createRoute({
  method: 'post',
  path: '/',
  tags,
  security,
  summary: 'Create a campaign: pushes at absolute times, e.g. an announcement a week ahead, then the blast',
  request: {
    headers: idempotencyKeyHeader('campaign'),
    body: jsonBodyOf(campaignInputSchema.openapi('CampaignInput')),
  },
  responses: {
    201: jsonContent(CampaignSchema, 'Created'),
    200: jsonContent(CampaignSchema, 'The campaign this Idempotency-Key already created'),
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
  summary: 'List campaigns, newest first',
  request: {
    query: z.object({
      ...uuidPageQuery(100, 20),
    }),
  },
  responses: {
    200: jsonContent(
      z.object({ campaigns: z.array(CampaignSchema), nextCursor: z.string().nullable() }),
      'A page',
    ),
    ...commonErrors,
  },
});

const get = createRoute({
  method: 'get',
  path: '/{id}',
  tags,
  security,
  summary: 'A campaign with every step and its push’s status',
  request: { params: idParam },
  responses: { 200: jsonContent(CampaignSchema, 'The campaign'), ...commonErrors, ...notFoundError },
});

const reschedule = createRoute({
  method: 'patch',
  path: '/{id}',
  tags,
  security,
  summary: 'Reschedule steps that have not started',
  request: {
    params: idParam,
    body: jsonBodyOf(
      z.strictObject({
        steps: z
          .array(z.strictObject({ index: z.number().int().min(0), at: z.iso.datetime({ offset: true }) }))
          .min(1),
      }),
    ),
  },
  responses: {
    200: jsonContent(CampaignSchema, 'The campaign, rescheduled'),
    ...commonErrors,
    ...notFoundError,
    ...conflictError('`step_not_waiting`, `unknown_step`, `campaign_not_active`'),
  },
});

const cancel = createRoute({
  method: 'post',
  path: '/{id}/cancel',
  tags,
  security,
  summary: 'Cancel the steps still to come (and, with includeRunning, the one running now)',
  request: {
    params: idParam,
    query: z.object({ includeRunning: z.enum(['true', 'false']).default('false') }),
  },
  responses: { 202: jsonContent(CampaignSchema, 'Canceled'), ...commonErrors, ...notFoundError },
});

export function campaignsRoutes(deps: ApiDeps) {
  const r = router();
  /** The view with the waves of its local-time steps. */
  const withWaves = async (c: CampaignRow, steps: PushRow[]) => {
    const waved = steps.filter((p) => p.localDelivery).map((p) => p.id);
    return campaignView(c, steps, await wavesOf(deps.database.db, c.appId, waved));
  };
  const view = async (appId: string, id: string) => {
    const c = await getCampaign(deps, appId, id);
    return withWaves(c, await campaignPushes(deps, c));
  };

  r.openapi(create, async (c) => {
    const { campaign, created } = await createCampaign(deps, c.get('app'), c.req.valid('json'), {
      idempotencyKey: c.req.valid('header')['idempotency-key'],
    });
    return c.json(await view(campaign.appId, campaign.id), created ? 201 : 200);
  });
  r.openapi(list, async (c) => {
    const q = c.req.valid('query');
    const rows = await listCampaigns(deps.database.db, c.get('app').id, q.cursor, q.limit);
    const views = await Promise.all(rows.map(async (row) => withWaves(row, await campaignPushes(deps, row))));
    return c.json(
      { campaigns: views, nextCursor: rows.length === q.limit ? (rows.at(-1)?.id ?? null) : null },
      200,
    );
  });
  r.openapi(get, async (c) => c.json(await view(c.get('app').id, c.req.valid('param').id), 200));
  r.openapi(reschedule, async (c) => {
    const { id } = c.req.valid('param');
    const campaign = await getCampaign(deps, c.get('app').id, id);
    await rescheduleCampaign(deps, campaign, c.req.valid('json').steps);
    return c.json(await view(campaign.appId, id), 200);
  });
  r.openapi(cancel, async (c) => {
    const { id } = c.req.valid('param');
    const campaign = await getCampaign(deps, c.get('app').id, id);
    await cancelCampaign(deps, campaign, c.req.valid('query').includeRunning === 'true');
    return c.json(await view(campaign.appId, id), 202);
  });
  return r;
}
