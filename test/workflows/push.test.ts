import { CancelledFailure, Context } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  cancelPushUpdate,
  type PushWorkflowInput,
  pushPhaseQuery,
  recallPushUpdate,
} from '../../workflows/push.ts';
import { eventually, mockActivities, openWorkflowEnv, TEST_APP_ID, type WorkflowTestEnv } from './env.ts';

// The real push workflow against mocked activities: its phases, stops and continue-as-new, in seconds.
let t: WorkflowTestEnv;
beforeAll(async () => {
  t = await openWorkflowEnv();
});
afterAll(async () => {
  await t?.teardown();
});

const appId = TEST_APP_ID;
const inFromNow = (ms: number) => new Date(Date.now() + ms).toISOString();

const start = (taskQueue: string, input: Partial<PushWorkflowInput> = {}) => t.startPush(taskQueue, input);

describe('push workflow', () => {
  it('a cancel while it waits for sendAt marks the push canceled; no snapshot ever runs', async () => {
    const mock = mockActivities();
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await start(taskQueue, { sendAt: inFromNow(7 * 24 * 3600_000) });
      await eventually(
        () => handle.query(pushPhaseQuery),
        (p) => p === 'waiting',
        'the waiting phase',
      );
      expect(await handle.executeUpdate(cancelPushUpdate)).toEqual({ accepted: true, phase: 'waiting' });
      expect(await handle.result()).toBe('done');
    });
    expect(mock.calls.map((c) => c.name)).toEqual(['markPushCanceled']);
  });

  it('a recall while the copies are retained withdraws them; expirePush never runs', async () => {
    const mock = mockActivities({ completePush: async () => ({ expiresAt: inFromNow(7 * 24 * 3600_000) }) });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await start(taskQueue, { retentionSeconds: 7 * 24 * 3600 });
      await eventually(
        () => handle.query(pushPhaseQuery),
        (p) => p === 'retained',
        'the retained phase',
      );
      expect(await handle.executeUpdate(recallPushUpdate)).toEqual({ accepted: true, phase: 'retained' });
      expect(await handle.result()).toBe('done');
      expect(await handle.query(pushPhaseQuery)).toBe('done');
    });
    expect(mock.calls.map((c) => c.name)).toEqual([
      'snapshotAudience',
      'publishToGateways',
      'planPageRanges',
      'deliverOfflinePages',
      'completePush',
      'recallPush',
    ]);
    expect(mock.inputs('recallPush')).toEqual([{ appId, pushId: expect.stringMatching(/^push-/) }]);
  });

  it('retention that runs out expires the push', async () => {
    const mock = mockActivities({ completePush: async () => ({ expiresAt: inFromNow(1000) }) });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await start(taskQueue, { retentionSeconds: 1 });
      expect(await handle.result()).toBe('done');
    });
    expect(mock.inputs('expirePush')).toHaveLength(1);
    expect(mock.inputs('recallPush')).toHaveLength(0);
  });

  // The threshold is the dev server's dynamic config (test/global-setup.ts); the time-skipping test server
  // takes no such setting.
  it.skipIf(!!process.env.TEMPORAL_TEST_SERVER)(
    'a push snapshotted before row numbers pages by cursor; continue-as-new resumes at it, phases do not repeat',
    async () => {
      // Each page adds about six history events; this many pages pass the threshold at least once.
      const pages = Math.ceil(inject('suggestContinueAsNewAfter') / 4);
      const mock = mockActivities({
        planPageRanges: async () => undefined,
        deliverOfflinePages: async ({ cursor }) => ({
          cursor: cursor + 10,
          done: cursor + 10 >= pages * 10,
          awaitingLive: 0,
        }),
      });
      await t.withWorker(mock.activities, async (taskQueue) => {
        const handle = await start(taskQueue, { retentionSeconds: 1 });
        expect(await handle.result()).toBe('done');
        const latest = await handle.describe();
        expect(latest.runId).not.toBe(handle.firstExecutionRunId);
      });
      const cursors = mock.inputs('deliverOfflinePages').map((i) => (i as { cursor: number }).cursor);
      expect(cursors).toEqual(Array.from({ length: pages }, (_, i) => i * 10));
      expect(mock.inputs('snapshotAudience')).toHaveLength(1);
      expect(mock.inputs('publishToGateways')).toHaveLength(1);
      expect(mock.inputs('completePush')).toHaveLength(1);
    },
  );

  it('a cancel during the offline pages cancels the page in flight and marks the push canceled', async () => {
    let pageCanceled = false;
    const mock = mockActivities({
      deliverOfflinePages: async ({ cursor }) => {
        const ctx = Context.current();
        try {
          for (;;) {
            ctx.heartbeat({ cursor });
            await ctx.sleep(50);
          }
        } catch (err) {
          pageCanceled = err instanceof CancelledFailure;
          throw err;
        }
      },
    });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await start(taskQueue);
      await eventually(
        () => mock.inputs('deliverOfflinePages').length,
        (n) => n > 0,
        'a page in flight',
      );
      expect(await handle.executeUpdate(cancelPushUpdate)).toEqual({ accepted: true, phase: 'offline' });
      expect(await handle.result()).toBe('done');
    });
    expect(pageCanceled).toBe(true);
    expect(mock.inputs('markPushCanceled')).toHaveLength(1);
    expect(mock.inputs('completePush')).toHaveLength(0);
  });

  it('after the pages, rows still owed a live send get the fallback once, after the settle timer', async () => {
    const mock = mockActivities({
      deliverOfflinePages: async () => ({ cursor: 10, done: true, awaitingLive: 3 }),
      retryLiveDelivery: async () => ({ awaitingLive: 2 }),
      deliverLiveFallbacks: async () => ({ devices: 2 }),
    });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await start(taskQueue);
      expect(await handle.result()).toBe('done');
      const history = await handle.fetchHistory();
      const timers = (history.events ?? []).filter((e) => e.timerStartedEventAttributes);
      expect(timers.length).toBeGreaterThanOrEqual(1);
    });
    const order = mock.calls.map((c) => c.name);
    expect(mock.inputs('retryLiveDelivery')).toHaveLength(1);
    expect(mock.inputs('deliverLiveFallbacks')).toHaveLength(1);
    expect(order.indexOf('retryLiveDelivery')).toBeLessThan(order.indexOf('deliverLiveFallbacks'));
    expect(order.indexOf('deliverLiveFallbacks')).toBeLessThan(order.indexOf('completePush'));
  });

  it('no fallback when the live retry delivered everything, or when no row was left to the live send', async () => {
    const settled = mockActivities({
      deliverOfflinePages: async () => ({ cursor: 10, done: true, awaitingLive: 3 }),
      retryLiveDelivery: async () => ({ awaitingLive: 0 }),
    });
    const none = mockActivities();
    for (const mock of [settled, none]) {
      await t.withWorker(mock.activities, async (taskQueue) => {
        expect(await (await start(taskQueue)).result()).toBe('done');
      });
      expect(mock.inputs('deliverLiveFallbacks')).toHaveLength(0);
      expect(mock.inputs('completePush')).toHaveLength(1);
    }
    expect(settled.inputs('retryLiveDelivery')).toHaveLength(1);
    expect(none.inputs('retryLiveDelivery')).toHaveLength(0);
  });

  it('a cancel while the live sends settle skips the fallback and marks the push canceled', async () => {
    const mock = mockActivities({
      deliverOfflinePages: async () => ({ cursor: 10, done: true, awaitingLive: 1 }),
      retryLiveDelivery: async () => ({ awaitingLive: 1 }),
    });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await start(taskQueue);
      await eventually(
        () => mock.inputs('retryLiveDelivery').length,
        (n) => n > 0,
        'the live retry',
      );
      expect(await handle.executeUpdate(cancelPushUpdate)).toMatchObject({ accepted: true });
      expect(await handle.result()).toBe('done');
    });
    expect(mock.inputs('deliverLiveFallbacks')).toHaveLength(0);
    expect(mock.inputs('markPushCanceled')).toHaveLength(1);
    expect(mock.inputs('completePush')).toHaveLength(0);
  });
});
