/**
 * Starting a push's or a campaign's workflow for a stored row, and recording that it exists. Shared by the
 * services and the reconciler (which runs in the worker: this module defines no request schemas).
 */
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/client';
import { type CampaignRow, markCampaignWorkflowStarted } from '../db/campaigns.ts';
import { markWorkflowStarted, type PushRow } from '../db/pushes.ts';
import { type CampaignWorkflowInput, campaignWorkflow } from '../workflows/campaign.ts';
import { type PushWorkflowInput, pushWorkflow } from '../workflows/push.ts';
import { HeraldAppId, HeraldCampaignId, pushSearchAttributes } from '../workflows/search-attributes.ts';
import type { PushDeps } from './deps.ts';
import { markFailed } from './lifecycle.ts';
import { localTimeStart } from './local-delivery.ts';

/**
 * The line the Temporal UI's list shows for a push: its audience, when, its retention, its language variants and
 * whether the frequency cap leaves it alone.
 */
export function pushSummary(push: PushRow): string {
  const audience = push.audience === null ? 'all accounts' : 'a condition';
  const local = push.localDelivery;
  const when = local?.localTime
    ? `at ${local.localTime} local time`
    : push.sendAt
      ? `at ${push.sendAt.toISOString()}`
      : 'now';
  const window = local?.window ? ` · window ${local.window.from}–${local.window.to}` : '';
  const step = push.campaignId ? ` · campaign step ${push.campaignStep ?? 0}` : '';
  const schedule = push.scheduleId ? ` · schedule ${push.scheduleId}` : '';
  const throttle = push.throttlePerMinute ? ` · ${push.throttlePerMinute}/min` : '';
  const languages = push.localized?.length ? ` · ${push.localized.length + 1} variants` : '';
  const uncapped = push.capped ? '' : ' · not capped';
  return `Push to ${audience} · ${when}${window} · keeps ${push.retentionSeconds} s${throttle}${languages}${uncapped}${step}${schedule}`;
}

/** Markdown the Temporal UI shows on the workflow's page: ids only (no message text, no condition values). */
function pushDetails(push: PushRow): string {
  return [
    `**app** ${push.appId}`,
    `**push** ${push.id}`,
    ...(push.campaignId ? [`**campaign** ${push.campaignId} (step ${push.campaignStep ?? 0})`] : []),
    ...(push.scheduleId ? [`**schedule** ${push.scheduleId}`] : []),
    ...(push.throttlePerMinute ? [`**throttle** ${push.throttlePerMinute} recipients per minute`] : []),
    `**source** ${push.source}`,
  ].join('\n\n');
}

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
    ...(push.localDelivery ? { waves: true } : {}),
  };
  try {
    await deps.temporal.workflow.start(pushWorkflow, {
      workflowId: push.workflowId,
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      args: [args],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      // A finished push is never run twice, whatever retries arrive later.
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      memo: {
        app: push.appId,
        push: push.id,
        campaign: push.campaignId ?? '',
        ...(push.scheduleId ? { schedule: push.scheduleId } : {}),
      },
      ...(deps.config.HERALD_SEARCH_ATTRIBUTES
        ? {
            typedSearchAttributes: pushSearchAttributes({
              appId: push.appId,
              pushId: push.id,
              campaignId: push.campaignId,
              scheduleId: push.scheduleId,
            }),
          }
        : {}),
      staticSummary: pushSummary(push),
      staticDetails: pushDetails(push),
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
        // A local-time step's push plans its waves when the time first comes anywhere (UTC+14).
        at:
          p.sendAt?.toISOString() ??
          (p.localDelivery?.localTime ? localTimeStart(p.localDelivery.localTime) : new Date().toISOString()),
        retentionSeconds: p.retentionSeconds,
        ...(p.localDelivery ? { waves: true } : {}),
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
      ...(deps.config.HERALD_SEARCH_ATTRIBUTES
        ? {
            typedSearchAttributes: [
              { key: HeraldAppId, value: campaign.appId },
              { key: HeraldCampaignId, value: campaign.id },
            ],
          }
        : {}),
      staticSummary: `Campaign ${campaign.id} · ${stepRows.length} steps · app ${campaign.appId}`,
    });
  } catch (err) {
    if ((err as Error).name !== 'WorkflowExecutionAlreadyStartedError') throw err;
  }
  await markCampaignWorkflowStarted(deps.database.db, campaign.appId, campaign.id);
}
