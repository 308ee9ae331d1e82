import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  defineQuery,
  defineUpdate,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { PushActivities } from '../activities/index.ts';
import { cancelPushSignal, pushWorkflow } from './push.ts';
import { HeraldCampaignId, pushSearchAttributes } from './search-attributes.ts';

export interface CampaignStepState {
  index: number;
  pushId: string;
  workflowId: string;
  /** ISO time the step's push starts. */
  at: string;
  retentionSeconds: number;
  /** Local-time delivery or a send window: the step's push goes out in waves. */
  waves?: boolean | undefined;
  state: 'waiting' | 'started' | 'canceled';
}

export interface CampaignWorkflowInput {
  appId: string;
  campaignId: string;
  steps: CampaignStepState[];
}

export interface RescheduleRequest {
  steps: { index: number; at: string }[];
}

export interface CancelCampaignRequest {
  /** Also cancel the step whose push is running now. */
  includeRunning?: boolean;
}

export const rescheduleCampaignUpdate = defineUpdate<CampaignStepState[], [RescheduleRequest]>('reschedule');
export const cancelCampaignUpdate = defineUpdate<CampaignStepState[], [CancelCampaignRequest]>('cancel');
export const campaignStepsQuery = defineQuery<CampaignStepState[]>('steps');

const activities = proxyActivities<PushActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/**
 * A named series of pushes at absolute times. Each step's push starts as a child workflow at its time and
 * outlives the campaign (its retention may run for days); rescheduling and cancelling are updates, so the
 * caller learns at once whether they were accepted.
 */
export async function campaignWorkflow(input: CampaignWorkflowInput): Promise<CampaignStepState[]> {
  const { appId, campaignId } = input;
  const steps = input.steps.map((s) => ({ ...s }));
  let canceled = false;
  let version = 0;

  setHandler(campaignStepsQuery, () => steps);

  setHandler(
    rescheduleCampaignUpdate,
    async ({ steps: changes }) => {
      const moved = changes.map((c) => ({ step: steps.find((s) => s.index === c.index), at: c.at }));
      for (const { step, at } of moved) if (step) step.at = at;
      await activities.reschedulePushes({
        appId,
        pushes: moved.flatMap(({ step, at }) => (step ? [{ pushId: step.pushId, at }] : [])),
      });
      version++;
      return steps;
    },
    {
      validator: ({ steps: changes }) => {
        if (canceled) throw ApplicationFailure.nonRetryable('the campaign is canceled', 'campaign_canceled');
        for (const c of changes) {
          const step = steps.find((s) => s.index === c.index);
          if (!step) throw ApplicationFailure.nonRetryable(`no step ${c.index}`, 'unknown_step');
          if (step.state !== 'waiting') {
            throw ApplicationFailure.nonRetryable(
              `step ${c.index} has already ${step.state}`,
              'step_not_waiting',
            );
          }
          if (Date.parse(c.at) <= Date.now()) {
            throw ApplicationFailure.nonRetryable(
              `step ${c.index}: the new time is in the past`,
              'step_in_past',
            );
          }
        }
      },
    },
  );

  setHandler(cancelCampaignUpdate, async ({ includeRunning }) => {
    if (canceled) return steps;
    canceled = true;
    const waiting = steps.filter((s) => s.state === 'waiting');
    for (const s of waiting) s.state = 'canceled';
    await activities.cancelCampaignPushes({ appId, campaignId, pushIds: waiting.map((s) => s.pushId) });
    if (includeRunning) {
      for (const s of steps.filter((x) => x.state === 'started')) {
        await getExternalWorkflowHandle(s.workflowId).signal(cancelPushSignal);
      }
    }
    return steps;
  });

  while (!canceled) {
    const next = steps
      .filter((s) => s.state === 'waiting')
      .sort((a, b) => Date.parse(a.at) - Date.parse(b.at))[0];
    if (!next) break;
    const seen = version;
    const wait = Date.parse(next.at) - Date.now();
    if (wait > 0 && (await condition(() => canceled || version !== seen, wait))) continue;
    if (canceled) break;
    next.state = 'started';
    await startChild(pushWorkflow, {
      workflowId: next.workflowId,
      args: [
        {
          appId,
          pushId: next.pushId,
          retentionSeconds: next.retentionSeconds,
          ...(next.waves ? { waves: true } : {}),
        },
      ],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      memo: { app: appId, push: next.pushId, campaign: campaignId },
      // Herald's search attributes only when the campaign started with them (they are registered).
      ...(workflowInfo().typedSearchAttributes.get(HeraldCampaignId) === undefined
        ? {}
        : { typedSearchAttributes: pushSearchAttributes({ appId, pushId: next.pushId, campaignId }) }),
      staticSummary: `Campaign ${campaignId} · step ${next.index}`,
    });
  }
  // A cancel update that woke the loop is still cancelling the waiting pushes; let it finish and answer its
  // caller before the campaign closes (a closed workflow cannot return an update's result).
  await condition(allHandlersFinished);
  await activities.finishCampaign({ appId, campaignId, canceled });
  return steps;
}
