import { ApplicationFailure, Context } from '@temporalio/activity';
import { HeraldError } from '../core/errors.ts';
import { recordScheduleRun } from '../db/schedules.ts';
import { runSchedule, type ScheduledPushResult } from '../pushes/schedule-runs.ts';
import type { ActivityDeps } from './deps.ts';

/**
 * A refusal of the push service as the run's failure: the app's minimum interval is waited out (retried after
 * the time it names); every other refusal (quota used up, an attribute the template names was removed, the
 * schedule was deleted) can never pass on a retry, so it is not retried.
 */
function asFailure(err: unknown): unknown {
  if (!(err instanceof HeraldError)) return err;
  if (err.code === 'too_frequent')
    return ApplicationFailure.create({
      type: err.code,
      message: err.message,
      nextRetryDelay: `${Math.max(1, err.details.retryAfterSeconds ?? 1)} seconds`,
    });
  return ApplicationFailure.nonRetryable(err.message, err.code);
}

/** The steps of a recurring push's run (workflows/schedule.ts): thin wrappers of pushes/schedule-runs.ts. */
export function scheduleActivities({ database, log, searchAttributes }: ActivityDeps) {
  return {
    /** Creates and starts the run's push from the schedule's template, on this worker's task queue. */
    async startScheduledPush(run: {
      appId: string;
      scheduleId: string;
      runId: string;
    }): Promise<ScheduledPushResult> {
      const ctx = Context.current();
      try {
        return await runSchedule(
          {
            database,
            temporal: ctx.client,
            config: {
              TEMPORAL_TASK_QUEUE: ctx.info.taskQueue,
              HERALD_SEARCH_ATTRIBUTES: searchAttributes ?? false,
            },
            log,
          },
          run,
        );
      } catch (err) {
        throw asFailure(err);
      }
    },

    /** A run that made no push: the schedule's view shows why as its last run. */
    async recordScheduleRunFailure(run: { appId: string; scheduleId: string; error: string }): Promise<void> {
      log.warn(run, 'a scheduled run made no push');
      await recordScheduleRun(database.db, run.appId, run.scheduleId, { error: run.error });
    },
  };
}
