/**
 * The reconciler: a push or campaign row is committed before its workflow starts, so a crash in between leaves
 * a row no workflow drives. A sweep (workflows/reconcile.ts, run every minute by a Temporal Schedule the worker
 * creates) finds such rows older than a minute and starts their workflow as the service would have — or fails a
 * push that can no longer be sent on time. Rows whose workflow is known to exist are marked and never looked at
 * again; campaign steps are their campaign's to start. A schedule row whose Temporal Schedule was never made
 * gets it.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { and, asc, eq, isNull, lt, type SQL, sql } from 'drizzle-orm';
import { type CampaignRow, markCampaignWorkflowStarted } from '../db/campaigns.ts';
import { listCampaignPushes, markWorkflowStarted, type PushRow } from '../db/pushes.ts';
import { campaigns, pushes, schedules } from '../db/schema.ts';
import type { PushDeps } from './deps.ts';
import { markFailed } from './lifecycle.ts';
import { repairSchedule } from './schedules.ts';
import { startCampaignWorkflow, startPushWorkflow } from './start.ts';

/** A row younger than this may still be between its commit and its workflow start: leave it be. */
export const STRANDED_AFTER_MS = 60_000;
/** A stranded push whose send time passed longer ago than this is failed, not sent late. */
export const TOO_LATE_MS = 3_600_000;
/** Rows of each kind one sweep looks at; the rest wait for the next sweep. */
export const SWEEP_LIMIT = 100;

export interface SweepOptions {
  /** Default STRANDED_AFTER_MS. */
  olderThanMs?: number | undefined;
  /** Default SWEEP_LIMIT. */
  limit?: number | undefined;
  /** Only this app's rows (tests). */
  appId?: string | undefined;
}

export interface SweepResult {
  /** Pushes and campaigns whose workflow this sweep started, schedules whose Temporal Schedule it created. */
  started: string[];
  /** Pushes this sweep failed, with the reason in their row; schedules it removed (a spec Temporal refuses). */
  failed: string[];
  /** Rows whose workflow turned out to exist: now marked. */
  found: number;
}

/** Whether the workflow exists (running or closed), and if closed how it ended. */
async function workflowState(deps: PushDeps, workflowId: string): Promise<'none' | 'running' | string> {
  try {
    const d = await deps.temporal.workflow.getHandle(workflowId).describe();
    return d.status.name === 'RUNNING' ? 'running' : d.status.name.toLowerCase();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'none';
    throw err;
  }
}

async function reconcilePush(deps: PushDeps, push: PushRow, result: SweepResult): Promise<void> {
  const { db } = deps.database;
  const ref = { appId: push.appId, pushId: push.id };
  const state = await workflowState(deps, push.workflowId);
  if (state === 'running') {
    await markWorkflowStarted(db, push.appId, push.id);
    result.found++;
  } else if (state !== 'none') {
    // Its workflow ended (terminated by hand, say) without taking the push to an end state.
    await markFailed(db, ref, `its workflow ended (${state}) before the push finished`);
    await markWorkflowStarted(db, push.appId, push.id);
    result.failed.push(push.id);
  } else if (Date.now() - (push.sendAt ?? push.createdAt).getTime() > TOO_LATE_MS) {
    await markFailed(
      db,
      ref,
      'its workflow never started (a crash after it was stored) and its send time passed more than an hour ago',
    );
    result.failed.push(push.id);
  } else {
    await startPushWorkflow(deps, push);
    result.started.push(push.id);
  }
}

async function reconcileCampaign(deps: PushDeps, campaign: CampaignRow, result: SweepResult) {
  const { db } = deps.database;
  const state = await workflowState(deps, campaign.workflowId);
  if (state === 'none') {
    // Steps whose time passed start at once, as the campaign workflow does with a late step.
    await startCampaignWorkflow(deps, campaign, await listCampaignPushes(db, campaign.appId, campaign.id));
    result.started.push(campaign.id);
  } else {
    await markCampaignWorkflowStarted(db, campaign.appId, campaign.id);
    result.found++;
  }
}

/** One sweep: at most `limit` pushes and `limit` campaigns, oldest first. */
export async function sweepStranded(deps: PushDeps, opts: SweepOptions = {}): Promise<SweepResult> {
  const { db } = deps.database;
  const cutoff = new Date(Date.now() - (opts.olderThanMs ?? STRANDED_AFTER_MS));
  const limit = opts.limit ?? SWEEP_LIMIT;
  const app = (
    column: typeof pushes.appId | typeof campaigns.appId | typeof schedules.appId,
  ): SQL | undefined => (opts.appId ? eq(column, opts.appId) : undefined);
  const result: SweepResult = { started: [], failed: [], found: 0 };
  const strandedPushes = await db
    .select()
    .from(pushes)
    .where(
      and(
        isNull(pushes.workflowStartedAt),
        isNull(pushes.campaignId),
        sql`${pushes.status} in ('scheduled', 'running')`,
        lt(pushes.createdAt, cutoff),
        app(pushes.appId),
      ),
    )
    .orderBy(asc(pushes.createdAt))
    .limit(limit);
  for (const push of strandedPushes) await reconcilePush(deps, push, result);
  const strandedCampaigns = await db
    .select()
    .from(campaigns)
    .where(
      and(
        isNull(campaigns.workflowStartedAt),
        eq(campaigns.status, 'active'),
        lt(campaigns.createdAt, cutoff),
        app(campaigns.appId),
      ),
    )
    .orderBy(asc(campaigns.createdAt))
    .limit(limit);
  for (const campaign of strandedCampaigns) await reconcileCampaign(deps, campaign, result);
  // Schedules whose Temporal Schedule was never made: made now (a second create is the first one).
  const strandedSchedules = await db
    .select()
    .from(schedules)
    .where(and(isNull(schedules.temporalCreatedAt), lt(schedules.createdAt, cutoff), app(schedules.appId)))
    .orderBy(asc(schedules.createdAt))
    .limit(limit);
  for (const schedule of strandedSchedules) {
    if ((await repairSchedule(deps, schedule)) === 'created') result.started.push(schedule.id);
    else result.failed.push(schedule.id);
  }
  return result;
}
