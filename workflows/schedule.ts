import { ActivityFailure, ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { PushActivities } from '../activities/index.ts';
import type { ScheduledPushResult } from '../pushes/schedule-runs.ts';

export type { ScheduledPushResult };

export interface ScheduledPushInput {
  appId: string;
  scheduleId: string;
}

/**
 * Creating the push: a refusal that cannot pass (quota used up, an attribute removed, the schedule deleted) is
 * not retried; the app's minimum interval between pushes is waited out (the activity says for how long); an
 * unreachable database is retried for about ten minutes.
 */
const create = proxyActivities<PushActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 15 },
});
const quick = proxyActivities<PushActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

/**
 * One run of a recurring push, started by its Temporal Schedule `sched-<app>-<schedule>` as the workflow
 * `sched-<app>-<schedule>-<scheduled time>`: it creates an ordinary push from the schedule's template, through
 * the same service as `POST /v1/pushes` (validation, quota, idempotency), and ends once the push's own workflow
 * has started. A refused run fails (visible in the Schedule's recent actions and the schedule's `lastRun`) and
 * the next run comes at its time as usual.
 */
export async function scheduledPushWorkflow(input: ScheduledPushInput): Promise<ScheduledPushResult> {
  const { appId, scheduleId } = input;
  try {
    // A retried activity finds the push it already made by the run's id (not its workflow id, which names
    // the scheduled time to the second: two triggers in one second share it).
    return await create.startScheduledPush({ appId, scheduleId, runId: workflowInfo().runId });
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
    const code = cause?.type ?? 'run_failed';
    const why = err.cause?.message ?? err.message;
    await quick.recordScheduleRunFailure({ appId, scheduleId, error: `${code}: ${why}` });
    throw ApplicationFailure.nonRetryable(`the run made no push: ${why}`, code);
  }
}
