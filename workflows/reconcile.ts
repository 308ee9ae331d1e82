import { proxyActivities } from '@temporalio/workflow';
import type { PushActivities } from '../activities/index.ts';
import type { SweepOptions, SweepResult } from '../pushes/reconcile.ts';

const activities = proxyActivities<PushActivities>({
  startToCloseTimeout: '2 minutes',
  // The next sweep comes in a minute: a failed one need not retry long.
  retry: { initialInterval: '2 seconds', maximumAttempts: 3 },
});

/**
 * One sweep for rows without a workflow (pushes/reconcile.ts). The worker's Schedule `herald-reconcile-<task
 * queue>` runs it every minute; it shows in the Temporal UI with what it started or failed as its result.
 */
export async function reconcileWorkflow(opts: SweepOptions = {}): Promise<SweepResult> {
  return activities.reconcileStranded(opts);
}
