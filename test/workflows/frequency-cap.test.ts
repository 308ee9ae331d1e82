import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelPushUpdate, pushPhaseQuery, recallPushUpdate } from '../../workflows/push.ts';
import { eventually, mockActivities, openWorkflowEnv, type WorkflowTestEnv } from './env.ts';

// The push workflow keeps a push's recipient rows past its retention while the app's frequency cap still
// counts the push (the activities say until when), then drops them; a recall meanwhile withdraws it instead.
let t: WorkflowTestEnv;
beforeAll(async () => {
  t = await openWorkflowEnv();
});
afterAll(async () => {
  await t?.teardown();
});

const inFromNow = (ms: number) => new Date(Date.now() + ms).toISOString();

describe('push workflow: recipients kept for the frequency cap', () => {
  it('after retention, waits until the cap no longer counts the push, then drops its rows', async () => {
    const mock = mockActivities({
      completePush: async () => ({ expiresAt: inFromNow(0) }),
      expirePush: async () => ({ expired: 0, keepRecipientsUntil: inFromNow(1500) }),
    });
    const began = Date.now();
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await t.startPush(taskQueue, { retentionSeconds: 1 });
      expect(await handle.result()).toBe('done');
    });
    expect(mock.calls.map((c) => c.name).slice(-2)).toEqual(['expirePush', 'dropRecipients']);
    if (!t.timeSkipping) expect(Date.now() - began).toBeGreaterThanOrEqual(1500);
  });

  it('nothing to keep: no timer, no drop of its own', async () => {
    const mock = mockActivities({ completePush: async () => ({ expiresAt: inFromNow(0) }) });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await t.startPush(taskQueue, { retentionSeconds: 1 });
      expect(await handle.result()).toBe('done');
    });
    expect(mock.inputs('dropRecipients')).toHaveLength(0);
  });

  it('a recall while the rows are kept withdraws the push instead', async () => {
    const mock = mockActivities({
      completePush: async () => ({ expiresAt: inFromNow(0) }),
      expirePush: async () => ({ expired: 0, keepRecipientsUntil: inFromNow(24 * 3600_000) }),
    });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await t.startPush(taskQueue, { retentionSeconds: 1 });
      await eventually(
        () => Promise.resolve(mock.inputs('expirePush').length),
        (n) => n > 0,
        'the expiry',
      );
      expect(await handle.query(pushPhaseQuery)).toBe('retained');
      expect(await handle.executeUpdate(recallPushUpdate)).toEqual({ accepted: true, phase: 'retained' });
      expect(await handle.result()).toBe('done');
    });
    expect(mock.calls.map((c) => c.name).slice(-2)).toEqual(['expirePush', 'recallPush']);
    expect(mock.inputs('dropRecipients')).toHaveLength(0);
  });

  it('a canceled push that kept nothing still keeps its rows for the cap', async () => {
    const mock = mockActivities({
      markPushCanceled: async () => ({ expiresAt: null, keepRecipientsUntil: inFromNow(1000) }),
    });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await t.startPush(taskQueue, { sendAt: inFromNow(3600_000) });
      await eventually(
        () => handle.query(pushPhaseQuery),
        (p) => p === 'waiting',
        'the waiting phase',
      );
      await handle.executeUpdate(cancelPushUpdate);
      expect(await handle.result()).toBe('done');
    });
    expect(mock.calls.map((c) => c.name)).toEqual(['markPushCanceled', 'dropRecipients']);
  });
});
