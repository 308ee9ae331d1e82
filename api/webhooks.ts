import { createRoute, z } from '@hono/zod-openapi';
import type { WebhookEndpointRow } from '../pushes/webhook-delivery.ts';
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listWebhooks,
  replayInputSchema,
  replayWebhook,
  updateWebhook,
  webhookInputSchema,
  webhookPatchSchema,
  webhookWorkflowId,
} from '../pushes/webhooks.ts';
import { type ApiDeps, router } from './context.ts';
import { commonErrors, conflictError, jsonBodyOf, jsonContent, notFoundError, security } from './schemas.ts';

const tags = ['Webhooks'];
const idParam = z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) });

export const WebhookSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    eventTypes: z.array(z.string()),
    status: z.enum(['enabled', 'disabled']),
    disabledAt: z.string().nullable(),
    disabledReason: z.string().nullable(),
    failingSince: z.string().nullable(),
    lastFailure: z.string().nullable(),
    lastSuccessAt: z.string().nullable(),
    replay: z.object({ from: z.string(), to: z.string() }).nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    workflowId: z.string(),
  })
  .openapi('WebhookEndpoint');

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function webhookView(w: WebhookEndpointRow): z.infer<typeof WebhookSchema> {
  return {
    id: w.id,
    url: w.url,
    description: w.description,
    eventTypes: w.eventTypes,
    status: w.status,
    disabledAt: iso(w.disabledAt),
    disabledReason: w.disabledReason,
    failingSince: iso(w.failingSince),
    lastFailure: w.lastFailure,
    lastSuccessAt: iso(w.lastSuccessAt),
    replay: w.replay ? { from: w.replay.from, to: w.replay.to } : null,
    createdAt: w.createdAt.toISOString(),
    updatedAt: w.updatedAt.toISOString(),
    workflowId: webhookWorkflowId(w.appId, w.id),
  };
}

const create = createRoute({
  method: 'post',
  path: '/',
  tags,
  security,
  summary: 'Create a webhook endpoint; its signing secret is in this answer only',
  request: { body: jsonBodyOf(webhookInputSchema.openapi('WebhookInput')) },
  responses: {
    201: jsonContent(WebhookSchema.extend({ secret: z.string() }), 'Created, with `secret` (whsec_…)'),
    ...commonErrors,
    ...conflictError('`webhook_limit`: the app has 10 endpoints'),
  },
});

const list = createRoute({
  method: 'get',
  path: '/',
  tags,
  security,
  summary: 'The app’s webhook endpoints',
  responses: {
    200: jsonContent(z.object({ webhooks: z.array(WebhookSchema) }), 'Endpoints'),
    ...commonErrors,
  },
});

const get = createRoute({
  method: 'get',
  path: '/{id}',
  tags,
  security,
  summary: 'A webhook endpoint: its delivery state, and why it was disabled',
  request: { params: idParam },
  responses: { 200: jsonContent(WebhookSchema, 'The endpoint'), ...commonErrors, ...notFoundError },
});

const patch = createRoute({
  method: 'patch',
  path: '/{id}',
  tags,
  security,
  summary: 'Change an endpoint’s URL, event types or description; enable or disable it',
  request: { params: idParam, body: jsonBodyOf(webhookPatchSchema.openapi('WebhookPatch')) },
  responses: { 200: jsonContent(WebhookSchema, 'The endpoint'), ...commonErrors, ...notFoundError },
});

const remove = createRoute({
  method: 'delete',
  path: '/{id}',
  tags,
  security,
  summary: 'Delete an endpoint: nothing more is sent to it',
  request: { params: idParam },
  responses: { 204: { description: 'Deleted' }, ...commonErrors, ...notFoundError },
});

const replay = createRoute({
  method: 'post',
  path: '/{id}/replay',
  tags,
  security,
  summary: 'Send the events of a time range again (events are kept 7 days)',
  request: { params: idParam, body: jsonBodyOf(replayInputSchema.openapi('WebhookReplay')) },
  responses: {
    202: jsonContent(WebhookSchema, 'Accepted; the replay runs before live delivery goes on'),
    ...commonErrors,
    ...notFoundError,
    ...conflictError('`webhook_disabled`: enable the endpoint first'),
  },
});

export function webhooksRoutes(deps: ApiDeps) {
  const r = router();
  r.openapi(create, async (c) => {
    const { endpoint, secret } = await createWebhook(deps, c.get('app').id, c.req.valid('json'));
    return c.json({ ...webhookView(endpoint), secret }, 201);
  });
  r.openapi(list, async (c) =>
    c.json({ webhooks: (await listWebhooks(deps, c.get('app').id)).map(webhookView) }, 200),
  );
  r.openapi(get, async (c) =>
    c.json(webhookView(await getWebhook(deps, c.get('app').id, c.req.valid('param').id)), 200),
  );
  r.openapi(patch, async (c) =>
    c.json(
      webhookView(await updateWebhook(deps, c.get('app').id, c.req.valid('param').id, c.req.valid('json'))),
      200,
    ),
  );
  r.openapi(remove, async (c) => {
    await deleteWebhook(deps, c.get('app').id, c.req.valid('param').id);
    return c.body(null, 204);
  });
  r.openapi(replay, async (c) =>
    c.json(
      webhookView(await replayWebhook(deps, c.get('app').id, c.req.valid('param').id, c.req.valid('json'))),
      202,
    ),
  );
  return r;
}
