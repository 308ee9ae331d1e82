/**
 * The campaign service: a named series of scheduled pushes, created in one transaction and driven by the
 * campaign workflow; rescheduled and canceled through its updates. Refusals are domain errors (pushes/errors.ts).
 */
import { createHash } from 'node:crypto';
// The OpenAPI-aware zod: the API names these schemas (.openapi), whichever module loads them first.
import { z } from '@hono/zod-openapi';
import { ApplicationFailure, WorkflowUpdateFailedError } from '@temporalio/client';
import { newId } from '../core/ids.ts';
import { messageSchema } from '../core/messages.ts';
import { countPush } from '../core/metrics.ts';
import type { App } from '../db/apps.ts';
import {
  type CampaignRow,
  type CampaignStep,
  campaignWorkflowId,
  findCampaign,
  findCampaignByIdempotencyKey,
  releaseCampaignIdempotencyKey,
} from '../db/campaigns.ts';
import type { Condition } from '../db/conditions.ts';
import { pgErrorCode, SQLSTATE } from '../db/errors.ts';
import { listCampaignPushes, type PushRow } from '../db/pushes.ts';
import { campaigns, pushes } from '../db/schema.ts';
import { offlineOptionsSchema } from '../delivery/offline-options.ts';
import {
  type CampaignStepState,
  cancelCampaignUpdate,
  rescheduleCampaignUpdate,
} from '../workflows/campaign.ts';
import type { PushDeps } from './deps.ts';
import { PushError } from './errors.ts';
import {
  checkLocalTime,
  localDeliveryFields,
  localTimeSchema,
  resolveLocalDelivery,
} from './local-delivery.ts';
import { localizedSchema } from './localized.ts';
import {
  cancelPush,
  checkAudience,
  checkFutureTime,
  MAX_RETENTION_SECONDS,
  newPushRow,
  resolveAudienceSlots,
  takeQuota,
} from './service.ts';
import { isClosedWorkflowError } from './temporal.ts';
import { throttleSchema } from './throttle.ts';
import { emitCampaignEvent, emitPushEvents } from './webhook-events.ts';

export const MAX_STEPS = 20;

export const stepSchema = z.strictObject({
  at: z.union([
    z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2026-12-01T09:00:00Z' }),
    localTimeSchema,
  ]),
  ...localDeliveryFields,
  audience: z.union([z.literal('all'), z.record(z.string(), z.unknown())]).default('all'),
  message: messageSchema,
  offline: offlineOptionsSchema.default({ push: true }),
  localized: localizedSchema,
  capped: z.boolean().default(true),
  retentionSeconds: z.number().int().min(0).max(MAX_RETENTION_SECONDS).default(0),
  throttlePerMinute: throttleSchema.nullable().optional(),
});

export const campaignInputSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  steps: z.array(stepSchema).min(1).max(MAX_STEPS, `a campaign has at most ${MAX_STEPS} steps`),
});
export type CampaignInput = z.infer<typeof campaignInputSchema>;

const IDEMPOTENCY_WINDOW_MS = 7 * 24 * 3600 * 1000;

export interface CreateCampaignOptions {
  /** Same key within 7 days and same body: the same campaign (created = false); another body: refused. */
  idempotencyKey?: string | undefined;
}

/**
 * Writes the campaign and one scheduled push per step in one transaction (every step counts against today's
 * quota, as scheduled pushes do), then starts the campaign workflow. A step whose time has passed is refused.
 * The idempotency key works as a push's does; a crash between the commit and the start is repaired by the
 * retry with the same key or, within a minute, by the reconciler (pushes/reconcile.ts).
 */
export async function createCampaign(
  deps: PushDeps,
  app: App,
  input: CampaignInput,
  opts: CreateCampaignOptions = {},
): Promise<{ campaign: CampaignRow; created: boolean }> {
  const localDeliveries = input.steps.map((s, i) => {
    if (typeof s.at === 'string') checkFutureTime(s.at, ['steps', i, 'at']);
    else checkLocalTime(s.at.localTime, ['steps', i, 'at', 'localTime']);
    const localTime = typeof s.at === 'string' ? undefined : s.at.localTime;
    return resolveLocalDelivery(app, { ...s, localTime }, ['steps', i]);
  });
  const conditions: (Condition | null)[] = [];
  for (const [i, s] of input.steps.entries()) {
    conditions.push(await checkAudience(deps, app.id, s.audience, ['steps', i, 'audience']));
  }
  const requestHash = createHash('sha256').update(JSON.stringify(input)).digest('hex');
  const earlier = await sameCampaignRequest(deps, app.id, requestHash, opts.idempotencyKey);
  if (earlier) return earlier;
  const steps: CampaignStep[] = input.steps;
  const id = newId();
  const workflowId = campaignWorkflowId(app.id, id);
  let written: { campaign: CampaignRow; stepRows: PushRow[] };
  try {
    written = await deps.database.db.transaction(async (tx) => {
      await takeQuota(tx, app.id, input.steps.length);
      const [campaign] = await tx
        .insert(campaigns)
        .values({
          appId: app.id,
          id,
          name: input.name,
          steps,
          workflowId,
          idempotencyKey: opts.idempotencyKey,
          requestHash,
        })
        .returning();
      const values = [];
      for (const [i, s] of input.steps.entries()) {
        const condition = conditions[i] ?? null;
        const slots = await resolveAudienceSlots(tx, app.id, condition, ['steps', i, 'audience']);
        values.push(
          newPushRow(
            app.id,
            { ...s, sendAt: typeof s.at === 'string' ? s.at : undefined },
            condition,
            createHash('sha256').update(JSON.stringify(s)).digest('hex'),
            {
              source: 'campaign',
              campaign: { id, step: i },
              defaultThrottlePerMinute: app.defaultThrottlePerMinute,
            },
            slots,
            localDeliveries[i] ?? null,
          ),
        );
      }
      const stepRows = await tx.insert(pushes).values(values).returning();
      if (!campaign) throw new Error('campaign insert returned nothing');
      await emitCampaignEvent(tx, app.id, id, 'campaign.created');
      await emitPushEvents(
        tx,
        app.id,
        stepRows.map((r) => r.id),
        'push.created',
      );
      return { campaign, stepRows };
    });
  } catch (err) {
    // Two requests with one new key raced: the loser answers with the winner's campaign (see createPush).
    const raced =
      pgErrorCode(err) === SQLSTATE.uniqueViolation || (err instanceof PushError && err.kind === 'too_many');
    if (opts.idempotencyKey && raced) {
      const winner = await sameCampaignRequest(deps, app.id, requestHash, opts.idempotencyKey);
      if (winner) return winner;
    }
    throw err;
  }
  for (const step of written.stepRows) countPush('scheduled', step.appId);
  await startCampaignWorkflow(deps, written.campaign, written.stepRows);
  return { campaign: written.campaign, created: true };
}

/** The campaign an earlier request with this key made (started, in case it was not), or undefined. */
async function sameCampaignRequest(
  deps: PushDeps,
  appId: string,
  requestHash: string,
  key: string | undefined,
): Promise<{ campaign: CampaignRow; created: false } | undefined> {
  if (!key) return undefined;
  const { db } = deps.database;
  const existing = await findCampaignByIdempotencyKey(db, appId, key);
  if (!existing) return undefined;
  if (Date.now() - existing.createdAt.getTime() > IDEMPOTENCY_WINDOW_MS) {
    await releaseCampaignIdempotencyKey(db, appId, existing.id);
    return undefined;
  }
  if (existing.requestHash !== requestHash) {
    throw new PushError(
      'idempotency_key_reused',
      'conflict',
      'This Idempotency-Key was used for a different campaign in the last 7 days',
    );
  }
  if (existing.status === 'active') {
    await startCampaignWorkflow(deps, existing, await listCampaignPushes(db, appId, existing.id));
  }
  return { campaign: existing, created: false };
}

import { startCampaignWorkflow } from './start.ts';

export { startCampaignWorkflow };

/** The campaign, or not_found (an id that is not a UUID names no campaign either). */
export async function getCampaign(deps: PushDeps, appId: string, id: string): Promise<CampaignRow> {
  const row = z.uuid().safeParse(id).success ? await findCampaign(deps.database.db, appId, id) : undefined;
  if (!row) throw new PushError('not_found', 'not_found', `Campaign ${id} does not exist in this app`);
  return row;
}

export async function campaignPushes(deps: PushDeps, campaign: CampaignRow): Promise<PushRow[]> {
  return listCampaignPushes(deps.database.db, campaign.appId, campaign.id);
}

const notActive = (problem: string) => new PushError('campaign_not_active', 'conflict', problem);

/** Runs a campaign update; a refusal by its validator is a conflict with the workflow's reason code. */
async function updateCampaign(
  deps: PushDeps,
  campaign: CampaignRow,
  run: (handle: ReturnType<PushDeps['temporal']['workflow']['getHandle']>) => Promise<CampaignStepState[]>,
): Promise<void> {
  if (campaign.status !== 'active') throw notActive(`The campaign is ${campaign.status}; it cannot change`);
  try {
    await run(deps.temporal.workflow.getHandle(campaign.workflowId));
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
      throw new PushError(
        cause?.type ?? 'campaign_update_refused',
        'conflict',
        cause?.message ?? err.message,
      );
    }
    // The campaign closed between reading its row and the update: its last step started meanwhile.
    if (isClosedWorkflowError(err)) throw notActive('The campaign has just finished; it cannot change');
    throw err;
  }
}

/** Moves steps that have not started; `steps[k].at` is the new time of the step numbered `steps[k].index`. */
export async function rescheduleCampaign(
  deps: PushDeps,
  campaign: CampaignRow,
  steps: { index: number; at: string }[],
) {
  for (const [k, s] of steps.entries()) {
    checkFutureTime(s.at, ['steps', k, 'at']);
    if (typeof campaign.steps[s.index]?.at === 'object')
      throw new PushError(
        'step_at_local_time',
        'conflict',
        `step ${s.index} is sent at a local time; cancel the campaign and create it again to change it`,
      );
  }
  await updateCampaign(deps, campaign, (h) =>
    h.executeUpdate(rescheduleCampaignUpdate, { args: [{ steps }] }),
  );
}

/** Idempotent: a canceled campaign stays so; a finished one can still stop its running pushes. */
export async function cancelCampaign(deps: PushDeps, campaign: CampaignRow, includeRunning: boolean) {
  if (campaign.status === 'canceled') return;
  if (campaign.status === 'completed') {
    if (includeRunning) for (const p of await campaignPushes(deps, campaign)) await cancelPush(deps, p);
    return;
  }
  try {
    await updateCampaign(deps, campaign, (h) =>
      h.executeUpdate(cancelCampaignUpdate, { args: [{ includeRunning }] }),
    );
  } catch (err) {
    // It finished while we asked: cancel answers for a finished campaign as above.
    const now =
      err instanceof PushError &&
      err.code === 'campaign_not_active' &&
      (await findCampaign(deps.database.db, campaign.appId, campaign.id));
    if (now && now.status !== 'active') return cancelCampaign(deps, now, includeRunning);
    throw err;
  }
}
