import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cancelPushUpdate,
  type PushWorkflowInput,
  pushPhaseQuery,
  recallPushUpdate,
} from '../../workflows/push.ts';
import { eventually, mockActivities, openWorkflowEnv, TEST_APP_ID, type WorkflowTestEnv } from './env.ts';

// The push workflow's snapshot phase against mocked activities: a stop reaches a snapshot in flight, and a
// snapshot that can never succeed ends the push failed instead of retrying forever.
let t: WorkflowTestEnv;
beforeAll(async () => {
  t = await openWorkflowEnv();
});
afterAll(async () => {
  await t?.teardown();
});

const appId = TEST_APP_ID;

const start = (taskQueue: string, input: Partial<PushWorkflowInput> = {}) => t.startPush(taskQueue, input);

/** A snapshot that runs until it is cancelled (a statement over a huge audience), heartbeating as the real one. */
function endlessSnapshot() {
  const seen = { canceled: false };
  const snapshotAudience = async (): Promise<{ audience: number; capped: number }> => {
    const ctx = Context.current();
    try {
      for (;;) {
        ctx.heartbeat();
        await ctx.sleep(50);
      }
    } catch (err) {
      seen.canceled = err instanceof CancelledFailure;
      throw err;
    }
  };
  return { seen, snapshotAudience };
}

describe('push workflow: the snapshot', () => {
  for (const how of ['cancel', 'recall'] as const) {
    it(`a ${how} during the snapshot cancels it and ends the push; nothing is published`, async () => {
      const { seen, snapshotAudience } = endlessSnapshot();
      const mock = mockActivities({ snapshotAudience });
      await t.withWorker(mock.activities, async (taskQueue) => {
        const handle = await start(taskQueue);
        await eventually(
          () => mock.inputs('snapshotAudience').length,
          (n) => n > 0,
          'the snapshot in flight',
        );
        expect(await handle.query(pushPhaseQuery)).toBe('snapshot');
        const update = how === 'cancel' ? cancelPushUpdate : recallPushUpdate;
        expect(await handle.executeUpdate(update)).toEqual({ accepted: true, phase: 'snapshot' });
        expect(await handle.result()).toBe('done');
      });
      expect(seen.canceled).toBe(true);
      expect(mock.calls.map((c) => c.name)).toEqual([
        'snapshotAudience',
        how === 'cancel' ? 'markPushCanceled' : 'recallPush',
      ]);
    });
  }

  it('a snapshot that can never succeed fails the push with its reason; the workflow completes', async () => {
    const mock = mockActivities({
      snapshotAudience: async () => {
        throw ApplicationFailure.nonRetryable(
          'the audience names attribute "city", which no longer exists',
          'audience_unresolvable',
        );
      },
    });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await start(taskQueue);
      expect(await handle.result()).toBe('done');
    });
    expect(mock.calls.map((c) => c.name)).toEqual(['snapshotAudience', 'markPushFailed']);
    expect(mock.inputs('markPushFailed')).toEqual([
      {
        appId,
        pushId: expect.stringMatching(/^push-/),
        reason: 'snapshot failed: the audience names attribute "city", which no longer exists',
      },
    ]);
  });
});
