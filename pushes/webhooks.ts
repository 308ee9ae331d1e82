/**
 * The webhook endpoint service (docs/webhooks.md): create, read, change, delete an app's endpoints, replay a
 * time range; each endpoint's delivery is the workflow `webhook-<app>-<endpoint>` (workflows/webhook.ts), which
 * reads its state from the endpoint's row and may therefore be restarted whenever the endpoint changes.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowNotFoundError } from '@temporalio/client';
import { and, asc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Config } from '../core/config.ts';
import { newId } from '../core/ids.ts';
import { isPrivateAddress } from '../core/net-guard.ts';
import { seal } from '../core/secrets.ts';
import { webhookEndpoints } from '../db/schema.ts';
import { HeraldAppId } from '../workflows/search-attributes.ts';
import { type WebhookWorkflowInput, webhookEndpointWorkflow } from '../workflows/webhook.ts';
import type { PushDeps } from './deps.ts';
import { PushError } from './errors.ts';

export { webhookWorkflowId };

import { secretContext, type WebhookEndpointRow, webhookWorkflowId } from './webhook-delivery.ts';
import {
  CAMPAIGN_EVENT_TYPES,
  EVENT_TYPES,
  type EventType,
  PUSH_EVENT_TYPES,
  RECIPIENT_EVENT_TYPES,
} from './webhook-events.ts';

export const MAX_WEBHOOKS_PER_APP = 10;

export interface WebhookDeps extends PushDeps {
  config: PushDeps['config'] &
    Pick<Config, 'HERALD_WEBHOOK_ALLOW_PRIVATE' | 'HERALD_WEBHOOK_GIVE_UP_SECONDS'>;
}

const GROUPS: Record<string, readonly EventType[]> = {
  '*': EVENT_TYPES,
  'push.*': PUSH_EVENT_TYPES,
  'campaign.*': CAMPAIGN_EVENT_TYPES,
  'recipient.*': RECIPIENT_EVENT_TYPES.filter((t) => t.startsWith('recipient.')),
  'notification.*': RECIPIENT_EVENT_TYPES.filter((t) => t.startsWith('notification.')),
};

const eventTypeSchema = z.enum([...EVENT_TYPES, ...Object.keys(GROUPS)] as [string, ...string[]], {
  message: `must be an event type (${EVENT_TYPES.join(', ')}) or a group (${Object.keys(GROUPS).join(', ')})`,
});
const urlSchema = z
  .string()
  .max(2048, 'is at most 2048 characters')
  .refine(
    (u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol),
    'must be an http:// or https:// URL',
  )
  .refine((u) => {
    const url = new URL(u);
    return !url.username && !url.password && !url.hash;
  }, 'must not carry a user, a password or a #fragment');

export const webhookInputSchema = z.strictObject({
  url: urlSchema,
  eventTypes: z.array(eventTypeSchema).min(1, 'name at least one event type').max(50),
  description: z.string().trim().max(500).optional(),
});
export type WebhookInput = z.infer<typeof webhookInputSchema>;

export const webhookPatchSchema = z.strictObject({
  url: urlSchema.optional(),
  eventTypes: z.array(eventTypeSchema).min(1, 'name at least one event type').max(50).optional(),
  description: z.string().trim().max(500).nullable().optional(),
  /** true re-enables a disabled endpoint (delivery resumes where it stopped); false disables it. */
  enabled: z.boolean().optional(),
});
export type WebhookPatch = z.infer<typeof webhookPatchSchema>;

export const replayInputSchema = z
  .strictObject({
    from: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' }),
    to: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' }),
  })
  .refine((r) => Date.parse(r.from) < Date.parse(r.to), {
    message: 'from must be before to',
    path: ['from'],
  });

const expand = (types: readonly string[]): string[] => [
  ...new Set(types.flatMap((t): readonly string[] => GROUPS[t] ?? [t])),
];

/** Refuses what Herald must not call: loopback and private address literals, unless the installation allows. */
function checkUrl(deps: WebhookDeps, url: string): void {
  if (deps.config.HERALD_WEBHOOK_ALLOW_PRIVATE) return;
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const local = host === 'localhost' || host.endsWith('.localhost');
  if (local || (isIP(host) && isPrivateAddress(host)))
    throw new PushError(
      'webhook_url_forbidden',
      'invalid',
      `url: ${host} is a loopback or private address; Herald calls only public addresses unless HERALD_WEBHOOK_ALLOW_PRIVATE is set`,
    );
}

const notFound = (id: string) =>
  new PushError('not_found', 'not_found', `Webhook endpoint ${id} does not exist in this app`);

export async function getWebhook(deps: WebhookDeps, appId: string, id: string): Promise<WebhookEndpointRow> {
  if (!z.uuid().safeParse(id).success) throw notFound(id);
  const [row] = await deps.database.db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.appId, appId), eq(webhookEndpoints.id, id)));
  if (!row) throw notFound(id);
  return row;
}

export async function listWebhooks(deps: WebhookDeps, appId: string): Promise<WebhookEndpointRow[]> {
  return deps.database.db
    .select()
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.appId, appId))
    .orderBy(asc(webhookEndpoints.createdAt));
}

/**
 * Starts (or, `restart`, restarts) the endpoint's delivery workflow. Its state is in the endpoint's row, so a
 * restart loses nothing; it cuts short a backoff after the operator fixed or re-enabled the endpoint.
 */
export async function startWebhookWorkflow(
  deps: WebhookDeps,
  appId: string,
  endpointId: string,
  restart: boolean,
): Promise<void> {
  const args: WebhookWorkflowInput = {
    appId,
    endpointId,
    giveUpSeconds: deps.config.HERALD_WEBHOOK_GIVE_UP_SECONDS,
  };
  await deps.temporal.workflow.start(webhookEndpointWorkflow, {
    workflowId: webhookWorkflowId(appId, endpointId),
    taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
    args: [args],
    workflowIdConflictPolicy: restart
      ? WorkflowIdConflictPolicy.TERMINATE_EXISTING
      : WorkflowIdConflictPolicy.USE_EXISTING,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    ...(deps.config.HERALD_SEARCH_ATTRIBUTES
      ? { typedSearchAttributes: [{ key: HeraldAppId, value: appId }] }
      : {}),
    staticSummary: `Webhook endpoint ${endpointId} · app ${appId}`,
  });
}

async function stopWebhookWorkflow(deps: WebhookDeps, appId: string, endpointId: string, why: string) {
  try {
    await deps.temporal.workflow.getHandle(webhookWorkflowId(appId, endpointId)).terminate(why);
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
}

/** A new endpoint and its secret (`whsec_` + 24 random bytes, base64), which is shown this once. */
export async function createWebhook(
  deps: WebhookDeps,
  appId: string,
  input: WebhookInput,
): Promise<{ endpoint: WebhookEndpointRow; secret: string }> {
  checkUrl(deps, input.url);
  const id = newId();
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const endpoint = await deps.database.db.transaction(async (tx) => {
    // Serialised per app, so two creations cannot both pass the limit.
    await tx.execute(sql`select 1 from apps where id = ${appId} for update`);
    const [count] = await tx.execute<{ n: number }>(
      sql`select count(*)::int as n from webhook_endpoints where app_id = ${appId}`,
    );
    if ((count?.n ?? 0) >= MAX_WEBHOOKS_PER_APP)
      throw new PushError(
        'webhook_limit',
        'conflict',
        `An app has at most ${MAX_WEBHOOKS_PER_APP} webhook endpoints; delete one first`,
      );
    // A new endpoint starts after the events already in the outbox: it gets what happens from now on.
    const [row] = await tx
      .insert(webhookEndpoints)
      .values({
        appId,
        id,
        url: input.url,
        description: input.description ?? null,
        eventTypes: expand(input.eventTypes),
        secret: seal(secret, secretContext(appId, id)),
        cursorTxid: sql`(pg_current_xact_id()::text)::bigint`,
        cursorSeq: 0,
      })
      .returning();
    if (!row) throw new Error('webhook insert returned nothing');
    return row;
  });
  await startWebhookWorkflow(deps, appId, id, false);
  return { endpoint, secret };
}

export async function updateWebhook(
  deps: WebhookDeps,
  appId: string,
  id: string,
  patch: WebhookPatch,
): Promise<WebhookEndpointRow> {
  await getWebhook(deps, appId, id);
  if (patch.url !== undefined) checkUrl(deps, patch.url);
  const set: Partial<typeof webhookEndpoints.$inferInsert> = { updatedAt: new Date() };
  if (patch.url !== undefined) set.url = patch.url;
  if (patch.eventTypes !== undefined) set.eventTypes = expand(patch.eventTypes);
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.enabled === true)
    Object.assign(set, { status: 'enabled', disabledAt: null, disabledReason: null, failingSince: null });
  if (patch.enabled === false)
    Object.assign(set, {
      status: 'disabled',
      disabledAt: new Date(),
      disabledReason: 'disabled by the operator',
    });
  const [row] = await deps.database.db
    .update(webhookEndpoints)
    .set(set)
    .where(and(eq(webhookEndpoints.appId, appId), eq(webhookEndpoints.id, id)))
    .returning();
  if (!row) throw notFound(id);
  if (row.status === 'enabled') await startWebhookWorkflow(deps, appId, id, true);
  else await stopWebhookWorkflow(deps, appId, id, 'endpoint disabled by the operator');
  return row;
}

export async function deleteWebhook(deps: WebhookDeps, appId: string, id: string): Promise<void> {
  await getWebhook(deps, appId, id);
  await deps.database.db
    .delete(webhookEndpoints)
    .where(and(eq(webhookEndpoints.appId, appId), eq(webhookEndpoints.id, id)));
  await stopWebhookWorkflow(deps, appId, id, 'endpoint deleted');
}

/**
 * Sends the events of [from, to) that are still in the outbox (7 days) again, in order and in batches, before
 * the endpoint's live delivery goes on; it replaces a replay still running. Event ids are the original ones.
 */
export async function replayWebhook(
  deps: WebhookDeps,
  appId: string,
  id: string,
  range: { from: string; to: string },
): Promise<WebhookEndpointRow> {
  const endpoint = await getWebhook(deps, appId, id);
  if (endpoint.status !== 'enabled')
    throw new PushError(
      'webhook_disabled',
      'conflict',
      'The endpoint is disabled: enable it first (PATCH enabled: true)',
    );
  const [row] = await deps.database.db
    .update(webhookEndpoints)
    .set({
      replay: {
        from: new Date(range.from).toISOString(),
        to: new Date(range.to).toISOString(),
        after: { txid: 0, seq: 0 },
      },
      updatedAt: new Date(),
    })
    .where(and(eq(webhookEndpoints.appId, appId), eq(webhookEndpoints.id, id)))
    .returning();
  if (!row) throw notFound(id);
  await startWebhookWorkflow(deps, appId, id, true);
  return row;
}
