/**
 * Starting a push's or a campaign's workflow for a stored row, and recording that it exists. Shared by the
 * services and the reconciler (which runs in the worker: this module defines no request schemas).
 */
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/client';
import { type CampaignRow, markCampaignWorkflowStarted } from '../db/campaigns.ts';
import { markWorkflowStarted, type PushRow } from '../db/pushes.ts';
import { type CampaignWorkflowInput, campaignWorkflow } from '../workflows/campaign.ts';
import { type PushWorkflowInput, pushWorkflow } from '../workflows/push.ts';
import type { PushDeps } from './deps.ts';
import { markFailed } from './lifecycle.ts';

/**
 * Starts the push's workflow (USE_EXISTING: a second start is the first one) and records that it exists. A row
 * whose start never happened (a crash between the insert and here) is the reconciler's (pushes/reconcile.ts).
 */
export async function startPushWorkflow(deps: PushDeps, push: PushRow): Promise<void> {
  const args: PushWorkflowInput = {
    appId: push.appId,
    pushId: push.id,
    sendAt: push.sendAt?.toISOString(),
    retentionSeconds: push.retentionSeconds,
  };
  try {
    await deps.temporal.workflow.start(pushWorkflow, {
      workflowId: push.workflowId,
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      args: [args],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      // A finished push is never run twice, whatever retries arrive later.
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      memo: { app: push.appId, push: push.id, campaign: push.campaignId ?? '' },
    });
  } catch (err) {
    if ((err as Error).name !== 'WorkflowExecutionAlreadyStartedError') {
      await markFailed(
        deps.database.db,
        { appId: push.appId, pushId: push.id },
        `could not start workflow: ${(err as Error).message}`,
      );
      throw err;
    }
  }
  await markWorkflowStarted(deps.database.db, push.appId, push.id);
}

/**
 * Starts the campaign's workflow over its step pushes (a second start is the first one) and records that it
 * exists. Steps whose push already ended (canceled meanwhile) start as canceled.
 */
export async function startCampaignWorkflow(
  deps: PushDeps,
  campaign: CampaignRow,
  stepRows: PushRow[],
): Promise<void> {
  const args: CampaignWorkflowInput = {
    appId: campaign.appId,
    campaignId: campaign.id,
    steps: [...stepRows]
      .sort((a, b) => (a.campaignStep ?? 0) - (b.campaignStep ?? 0))
      .map((p) => ({
        index: p.campaignStep ?? 0,
        pushId: p.id,
        workflowId: p.workflowId,
        at: p.sendAt?.toISOString() ?? new Date().toISOString(),
        retentionSeconds: p.retentionSeconds,
        state: p.status === 'scheduled' ? ('waiting' as const) : ('canceled' as const),
      })),
  };
  try {
    await deps.temporal.workflow.start(campaignWorkflow, {
      workflowId: campaign.workflowId,
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      args: [args],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      memo: { app: campaign.appId, campaign: campaign.id },
    });
  } catch (err) {
    if ((err as Error).name !== 'WorkflowExecutionAlreadyStartedError') throw err;
  }
  await markCampaignWorkflowStarted(deps.database.db, campaign.appId, campaign.id);
}
