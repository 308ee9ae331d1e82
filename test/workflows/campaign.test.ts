import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CampaignStepState,
  campaignStepsQuery,
  campaignWorkflow,
  cancelCampaignUpdate,
  rescheduleCampaignUpdate,
} from '../../workflows/campaign.ts';
import { eventually, mockActivities, openWorkflowEnv, type WorkflowTestEnv } from './env.ts';

// The real campaign workflow (and the real push workflow of each step, as its child) against mocked activities.
let t: WorkflowTestEnv;
beforeAll(async () => {
  t = await openWorkflowEnv();
});
afterAll(async () => {
  await t?.teardown();
});

const appId = 'app-1';
const HOUR = 3600_000;

/** Times from the server's clock, which a time-skipping server may have moved ahead of the machine's. */
async function inFromNow(ms: number): Promise<string> {
  return new Date((await t.env.currentTimeMs()) + ms).toISOString();
}

async function start(taskQueue: string, stepTimes: string[]) {
  const campaignId = `campaign-${randomUUID()}`;
  const steps: CampaignStepState[] = stepTimes.map((at, index) => ({
    index,
    pushId: `${campaignId}-push-${index}`,
    workflowId: `wf-${campaignId}-push-${index}`,
    at,
    retentionSeconds: 60,
    state: 'waiting',
  }));
  const handle = await t.env.client.workflow.start(campaignWorkflow, {
    taskQueue,
    workflowId: `wf-${campaignId}`,
    args: [{ appId, campaignId, steps }],
  });
  return { handle, campaignId, steps };
}

describe('campaign workflow', () => {
  it('a waiting step rescheduled starts at its new time', async () => {
    const mock = mockActivities();
    await t.withWorker(mock.activities, async (taskQueue) => {
      const { handle, campaignId, steps } = await start(taskQueue, [await inFromNow(HOUR)]);
      // Far enough ahead that the update lands before it on a loaded machine.
      const newAt = await inFromNow(5_000);
      const answered = await handle.executeUpdate(rescheduleCampaignUpdate, {
        args: [{ steps: [{ index: 0, at: newAt }] }],
      });
      expect(answered).toEqual([{ ...steps[0], at: newAt }]);
      expect(mock.inputs('reschedulePushes')).toEqual([
        { appId, pushes: [{ pushId: steps[0]?.pushId, at: newAt }] },
      ]);
      expect((await handle.query(campaignStepsQuery))[0]?.state).toBe('waiting');

      const done = await handle.result();
      expect(done.map((s) => s.state)).toEqual(['started']);
      const child = await t.env.client.workflow.getHandle(steps[0]?.workflowId ?? '').describe();
      expect(child.startTime.getTime()).toBeGreaterThanOrEqual(Date.parse(newAt));
      expect(await t.env.client.workflow.getHandle(steps[0]?.workflowId ?? '').result()).toBe('done');
      expect(mock.inputs('finishCampaign')).toEqual([{ appId, campaignId, canceled: false }]);
    });
    expect(mock.inputs('snapshotAudience')).toHaveLength(1);
  });

  it('a cancel cancels the waiting steps and finishes the campaign as canceled', async () => {
    const mock = mockActivities();
    await t.withWorker(mock.activities, async (taskQueue) => {
      const { handle, campaignId, steps } = await start(taskQueue, [
        await inFromNow(HOUR),
        await inFromNow(2 * HOUR),
      ]);
      await handle.query(campaignStepsQuery);
      const answered = await handle.executeUpdate(cancelCampaignUpdate, { args: [{}] });
      expect(answered.map((s) => s.state)).toEqual(['canceled', 'canceled']);
      expect((await handle.result()).map((s) => s.state)).toEqual(['canceled', 'canceled']);
      expect(mock.inputs('cancelCampaignPushes')).toEqual([
        { appId, campaignId, pushIds: steps.map((s) => s.pushId) },
      ]);
      expect(mock.inputs('finishCampaign')).toEqual([{ appId, campaignId, canceled: true }]);
    });
    expect(mock.inputs('snapshotAudience')).toHaveLength(0);
  });

  it('a reschedule of a step that has started is refused (step_not_waiting)', async () => {
    const mock = mockActivities();
    await t.withWorker(mock.activities, async (taskQueue) => {
      const { handle } = await start(taskQueue, [await inFromNow(-1000), await inFromNow(HOUR)]);
      await eventually(
        async () => (await handle.query(campaignStepsQuery))[0]?.state,
        (s) => s === 'started',
        'the first step to start',
      );
      const refused = await handle
        .executeUpdate(rescheduleCampaignUpdate, {
          args: [{ steps: [{ index: 0, at: await inFromNow(HOUR) }] }],
        })
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
      const cause = (refused as WorkflowUpdateFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect((cause as ApplicationFailure).type).toBe('step_not_waiting');
      expect(mock.inputs('reschedulePushes')).toHaveLength(0);

      await handle.executeUpdate(cancelCampaignUpdate, { args: [{}] });
      expect((await handle.result()).map((s) => s.state)).toEqual(['started', 'canceled']);
    });
  });
});
