import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WavePlan } from '../../pushes/waves.ts';
import { cancelPushUpdate, pushWaveQuery } from '../../workflows/push.ts';
import { eventually, mockActivities, openWorkflowEnv, type WorkflowTestEnv } from './env.ts';

// A local-time push's waves against mocked activities: each wave waits for its own time (a timer whose summary
// names the wave), then snapshots, fans out and pages its own recipients only. With the time-skipping test
// server the waves may be hours apart; on the dev server (real time) they are a second or two apart.
let t: WorkflowTestEnv;
beforeAll(async () => {
  t = await openWorkflowEnv();
});
afterAll(async () => {
  await t?.teardown();
});

/** Three zones: Kolkata (+05:30) due now, Kiritimati (+14:00, a day ahead) skipped as past, New York later. */
function threeWaves(spacingMs: number): WavePlan[] {
  const now = Date.now();
  return [
    { wave: 0, offset: '+14:00', at: new Date(now - 3600_000).toISOString(), planned: 4, skipped: true },
    { wave: 1, offset: '+05:30', at: new Date(now).toISOString(), planned: 3, skipped: false },
    { wave: 2, offset: '+01:00', at: new Date(now + spacingMs).toISOString(), planned: 2, skipped: false },
    {
      wave: 3,
      offset: '-05:00',
      at: new Date(now + 2 * spacingMs).toISOString(),
      planned: 5,
      skipped: false,
    },
  ];
}

const spacing = () => (t.timeSkipping ? 4.5 * 3600_000 : 2000);

describe('local-time waves', () => {
  it('each wave at its time: its own snapshot, fan-out and pages; the skipped wave never runs', async () => {
    // Planned when the workflow asks (as the real activity does), so the first wave is due then.
    let plan: WavePlan[] = [];
    const snapshotted: { wave: number; at: number }[] = [];
    const mock = mockActivities({
      planWaves: async () => {
        if (!plan.length) plan = threeWaves(spacing());
        return plan;
      },
      snapshotWave: async ({ wave }) => {
        snapshotted.push({ wave, at: Date.now() });
        return { audience: plan[wave]?.planned ?? 0, capped: 0 };
      },
    });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await t.startPush(taskQueue, { waves: true });
      expect(await handle.result()).toBe('done');
      // The history reads as the waves: a timer per wave still to come, labelled with it.
      const history = await handle.fetchHistory();
      const summaries = (history.events ?? []).flatMap((e) => {
        const data: unknown = e.userMetadata?.summary?.data;
        if (!data) return [];
        const bytes =
          typeof data === 'string' ? Buffer.from(data, 'base64') : Buffer.from(data as Uint8Array);
        return [JSON.parse(bytes.toString('utf8')) as string];
      });
      expect(summaries.filter((s) => s.includes('· at '))).toEqual([
        expect.stringMatching(/^wave 2 of 3 · UTC\+01:00 · 2 planned · at /),
        expect.stringMatching(/^wave 3 of 3 · UTC-05:00 · 5 planned · at /),
      ]);
      expect(summaries).toContain('wave 1 of 3 · UTC+05:30 · 3 planned');
    });
    const names = mock.calls.map((c) => c.name);
    expect(names[0]).toBe('planWaves');
    expect(mock.inputs('snapshotWave')).toEqual([1, 2, 3].map((wave) => expect.objectContaining({ wave })));
    expect(mock.inputs('publishToGateways')).toEqual(
      [1, 2, 3].map((wave) => expect.objectContaining({ wave })),
    );
    expect(mock.inputs('deliverOfflinePages')).toEqual(
      [1, 2, 3].map((wave) => expect.objectContaining({ wave, cursor: 0 })),
    );
    expect(names.at(-2)).toBe('completePush');
    // Each wave no earlier than its time (the workflow's clock: real time on the dev server).
    if (!t.timeSkipping)
      for (const s of snapshotted)
        expect(s.at).toBeGreaterThanOrEqual(Date.parse(plan[s.wave]?.at ?? '') - 50);
  });

  it('a cancel while a wave waits: the waves to come never run; the push is marked canceled', async () => {
    const plan = threeWaves(7 * 24 * 3600_000);
    const mock = mockActivities({ planWaves: async () => plan });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await t.startPush(taskQueue, { waves: true });
      await eventually(
        () => handle.query(pushWaveQuery),
        (w) => w?.wave === 2,
        'the second wave waiting',
      );
      expect(await handle.executeUpdate(cancelPushUpdate)).toEqual({ accepted: true, phase: 'waiting' });
      expect(await handle.result()).toBe('done');
    });
    expect(mock.inputs('snapshotWave')).toEqual([expect.objectContaining({ wave: 1 })]);
    expect(mock.calls.at(-1)?.name).toBe('markPushCanceled');
  });

  it('a plan with nothing to send completes at once', async () => {
    const mock = mockActivities({ planWaves: async () => threeWaves(1000).slice(0, 1) });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await t.startPush(taskQueue, { waves: true });
      expect(await handle.result()).toBe('done');
    });
    expect(mock.calls.map((c) => c.name)).toEqual(['planWaves', 'completePush', 'expirePush']);
  });
});
