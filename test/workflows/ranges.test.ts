import { CancelledFailure, Context } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { PageRange } from '../../pushes/offline-pages.ts';
import { cancelPushUpdate, type PushWorkflowInput } from '../../workflows/push.ts';
import { eventually, mockActivities, openWorkflowEnv, type WorkflowTestEnv } from './env.ts';

// A push's offline pages in ranges of numbered rows, against mocked activities: up to `parallelism` ranges at
// once, a range resumed at its cursor, continue-as-new carrying only the plan and cursors, a stop that cancels
// and waits for every range in flight, and the old keyset shape still accepted.
let t: WorkflowTestEnv;
beforeAll(async () => {
  t = await openWorkflowEnv();
});
afterAll(async () => {
  await t?.teardown();
});

type PageInput = { cursor: number; range?: PageRange };
const rangeOf = (input: unknown) => (input as PageInput).range;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Page activities that take `ms` each, answer a range in `steps` calls, and record how many ran at once. */
function concurrentPages(ms: number, steps = 1) {
  const state = { active: 0, most: 0 };
  const deliverOfflinePages = async ({ cursor, range }: PageInput) => {
    if (!range) throw new Error('a numbered push pages by range');
    state.active++;
    state.most = Math.max(state.most, state.active);
    try {
      await sleep(ms);
    } finally {
      state.active--;
    }
    const step = Math.ceil((range.last - range.first + 1) / steps);
    const to = Math.min(range.last, cursor + step);
    return { cursor: to, done: to >= range.last, awaitingLive: 0 };
  };
  return { state, deliverOfflinePages };
}

describe('offline pages in ranges', () => {
  it('runs at most `parallelism` ranges at once; every range once, disjoint, covering every row', async () => {
    const pages = concurrentPages(150);
    const mock = mockActivities({
      planPageRanges: async () => ({ first: 1, last: 95, rangeRows: 10, parallelism: 3 }),
      deliverOfflinePages: pages.deliverOfflinePages,
    });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await t.startPush(taskQueue, { retentionSeconds: 1 });
      expect(await handle.result()).toBe('done');
    });
    expect(pages.state.most).toBe(3);
    const ranges = mock.inputs('deliverOfflinePages').map(rangeOf);
    expect(ranges).toHaveLength(10);
    const sorted = [...ranges].sort((a, b) => (a?.first ?? 0) - (b?.first ?? 0));
    expect(sorted).toEqual(
      Array.from({ length: 10 }, (_, i) => ({ first: i * 10 + 1, last: Math.min(95, i * 10 + 10) })),
    );
    expect(mock.inputs('planPageRanges')).toHaveLength(1);
    expect(mock.inputs('completePush')).toHaveLength(1);
  });

  it('a range its activity did not finish is taken up again at the cursor it handed back', async () => {
    const pages = concurrentPages(10, 3);
    const mock = mockActivities({
      planPageRanges: async () => ({ first: 1, last: 60, rangeRows: 30, parallelism: 2 }),
      deliverOfflinePages: pages.deliverOfflinePages,
    });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await t.startPush(taskQueue, { retentionSeconds: 1 });
      expect(await handle.result()).toBe('done');
    });
    const calls = mock.inputs('deliverOfflinePages') as PageInput[];
    const of = (first: number) => calls.filter((c) => c.range?.first === first).map((c) => c.cursor);
    expect(of(1)).toEqual([0, 10, 20]);
    expect(of(31)).toEqual([30, 40, 50]);
  });

  // The threshold is the dev server's dynamic config (test/global-setup.ts).
  it.skipIf(!!process.env.TEMPORAL_TEST_SERVER)(
    'continue-as-new carries only the plan, the next range and the open ranges’ cursors; no page repeats',
    async () => {
      // Each range activity adds about six history events: enough ranges to pass the threshold.
      const count = Math.ceil(inject('suggestContinueAsNewAfter') / 3);
      const pages = concurrentPages(1, 2);
      const mock = mockActivities({
        planPageRanges: async () => ({ first: 1, last: count * 4, rangeRows: 4, parallelism: 4 }),
        deliverOfflinePages: pages.deliverOfflinePages,
      });
      await t.withWorker(mock.activities, async (taskQueue) => {
        const handle = await t.startPush(taskQueue, { retentionSeconds: 1 });
        expect(await handle.result()).toBe('done');
        const latest = await handle.describe();
        expect(latest.runId).not.toBe(handle.firstExecutionRunId);
        // The continued run's input: the plan and cursors, a few numbers whatever the audience.
        const history = await t.env.client.workflow.getHandle(handle.workflowId, latest.runId).fetchHistory();
        const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
        const data = started?.input?.payloads?.[0]?.data;
        const input = JSON.parse(Buffer.from(data as Uint8Array).toString('utf8')) as PushWorkflowInput;
        expect(input.resume).toMatchObject({
          phase: 'ranges',
          plan: { first: 1, last: count * 4, rangeRows: 4, parallelism: 4 },
          awaitingLive: 0,
        });
        const resume = input.resume as { next: number; open: { first: number; cursor: number }[] };
        expect(resume.open.length).toBeLessThanOrEqual(4);
        for (const r of resume.open)
          expect(r).toEqual({ first: expect.any(Number), cursor: expect.any(Number) });
        expect(Object.keys(input.resume ?? {}).sort()).toEqual([
          'awaitingLive',
          'next',
          'open',
          'phase',
          'plan',
        ]);
      });
      // Every range walked from its start to its end, each step once (two activities per range).
      const calls = mock.inputs('deliverOfflinePages') as PageInput[];
      for (let first = 1; first <= count * 4; first += 4) {
        const cursors = calls.filter((c) => c.range?.first === first).map((c) => c.cursor);
        expect(cursors).toEqual([first - 1, first + 1]);
      }
      expect(mock.inputs('planPageRanges')).toHaveLength(1);
      expect(mock.inputs('snapshotAudience')).toHaveLength(1);
      expect(mock.inputs('completePush')).toHaveLength(1);
    },
  );

  it('a cancel during the ranges cancels every range in flight and waits for them before marking the push', async () => {
    const ended: string[] = [];
    const mock = mockActivities({
      planPageRanges: async () => ({ first: 1, last: 1000, rangeRows: 10, parallelism: 3 }),
      deliverOfflinePages: async ({ cursor, range }: PageInput) => {
        const ctx = Context.current();
        try {
          for (;;) {
            ctx.heartbeat({ cursor });
            await ctx.sleep(50);
          }
        } catch (err) {
          if (!(err instanceof CancelledFailure)) throw err;
          // The page in flight ends before the attempt does: the workflow must wait for this.
          await sleep(300);
          ended.push(`range ${range?.first} canceled`);
          throw err;
        }
      },
      markPushCanceled: async () => {
        ended.push('marked canceled');
        return { expiresAt: null };
      },
    });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await t.startPush(taskQueue);
      await eventually(
        () => mock.inputs('deliverOfflinePages').length,
        (n) => n === 3,
        'three ranges in flight',
      );
      expect(await handle.executeUpdate(cancelPushUpdate)).toEqual({ accepted: true, phase: 'offline' });
      expect(await handle.result()).toBe('done');
    });
    expect(mock.inputs('deliverOfflinePages')).toHaveLength(3);
    expect(ended.slice(0, 3).sort()).toEqual(['range 1 canceled', 'range 11 canceled', 'range 21 canceled']);
    expect(ended.at(-1)).toBe('marked canceled');
    expect(mock.inputs('completePush')).toHaveLength(0);
  });

  it('a run continued by the code before ranges ({phase: offline, cursor}) keeps paging by cursor', async () => {
    const mock = mockActivities({
      deliverOfflinePages: async ({ cursor }: PageInput) => ({
        cursor: cursor + 10,
        done: cursor + 10 >= 50,
        awaitingLive: 0,
      }),
    });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await t.startPush(taskQueue, {
        retentionSeconds: 1,
        resume: { phase: 'offline', cursor: 20, awaitingLive: 0 },
      });
      expect(await handle.result()).toBe('done');
    });
    expect(mock.inputs('planPageRanges')).toHaveLength(0);
    expect(mock.inputs('snapshotAudience')).toHaveLength(0);
    const calls = mock.inputs('deliverOfflinePages') as PageInput[];
    expect(calls.map((c) => [c.cursor, c.range])).toEqual([
      [20, undefined],
      [30, undefined],
      [40, undefined],
    ]);
    expect(mock.inputs('completePush')).toHaveLength(1);
  });
});
