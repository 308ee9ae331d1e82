/**
 * One run of a recurring push (workflows/schedule.ts calls it through an activity): the schedule's template
 * becomes an ordinary push through createPush, as `POST /v1/pushes` does, with the run's own idempotency key,
 * so a retried run finds the push it already made.
 */
import { findAppById } from '../db/apps.ts';
import { findPushByIdempotencyKey } from '../db/pushes.ts';
import { findSchedule, recordScheduleRun } from '../db/schedules.ts';
import type { PushDeps } from './deps.ts';
import { PushError } from './errors.ts';
import { createPush, pushInputSchema, startPushWorkflow } from './service.ts';

/** What a run answers (its workflow's result in the Temporal UI). */
export interface ScheduledPushResult {
  pushId: string;
  /** The push's own workflow (`push-<app>-<push>`), which outlives the run. */
  pushWorkflowId: string;
}

/** The idempotency key of a run's push: `schedule:<schedule id>:<the run's Temporal run id>`. */
export const scheduleRunKey = (scheduleId: string, runId: string) => `schedule:${scheduleId}:${runId}`;

export async function runSchedule(
  deps: PushDeps,
  run: { appId: string; scheduleId: string; runId: string },
): Promise<ScheduledPushResult> {
  const { db } = deps.database;
  const { appId, scheduleId } = run;
  const schedule = await findSchedule(db, appId, scheduleId);
  if (!schedule)
    throw new PushError('schedule_deleted', 'not_found', `schedule ${scheduleId} no longer exists`);
  const app = await findAppById(db, appId);
  if (!app) throw new PushError('not_found', 'not_found', `app ${appId} no longer exists`);
  const idempotencyKey = scheduleRunKey(scheduleId, run.runId);
  // Looked up first: the template may have been updated since an earlier attempt made this run's push.
  const earlier = await findPushByIdempotencyKey(db, appId, idempotencyKey);
  if (earlier) await startPushWorkflow(deps, earlier);
  const push =
    earlier ??
    (
      await createPush(deps, app, pushInputSchema.parse(schedule.template), {
        idempotencyKey,
        source: 'schedule',
        scheduleId,
      })
    ).push;
  await recordScheduleRun(db, appId, scheduleId, { pushId: push.id });
  return { pushId: push.id, pushWorkflowId: push.workflowId };
}
