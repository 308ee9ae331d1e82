import { Context } from '@temporalio/activity';
import { type SweepOptions, type SweepResult, sweepStranded } from '../pushes/reconcile.ts';
import { pruneOutbox } from '../pushes/webhook-delivery.ts';
import type { ActivityDeps } from './deps.ts';

export function reconcileActivities({ database, log, searchAttributes }: ActivityDeps) {
  return {
    /**
     * Starts the workflow of every push and campaign row that has none (or fails a push that is too late),
     * pushes/reconcile.ts. It starts them on this worker's task queue, with this worker's client.
     */
    async reconcileStranded(opts: SweepOptions): Promise<SweepResult> {
      const ctx = Context.current();
      const result = await sweepStranded(
        {
          database,
          temporal: ctx.client,
          config: {
            TEMPORAL_TASK_QUEUE: ctx.info.taskQueue,
            HERALD_SEARCH_ATTRIBUTES: searchAttributes ?? false,
          },
          log,
        },
        opts,
      );
      if (result.started.length || result.failed.length) log.warn(result, 'reconciled stranded rows');
      // The same sweep retires webhook events past the outbox's retention (7 days).
      await pruneOutbox(database.db);
      return result;
    },
  };
}
