import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import { snapshot } from '../pushes/lifecycle.ts';
import { parsePrometheus, seriesValue } from './support/prometheus.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';

// The frequency cap through the REST API and the real worker: an app setting, counted per account across
// pushes in a rolling window from the recipient rows of the app's recent capped pushes (kept past their
// retention for it), skipped recipients counted in `capped`; and the snapshot's own guarantees (rolled back:
// nothing counted; repeated: counted once; two at once: the cap still holds).

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.stop());

type Push = {
  id: string;
  status: string;
  capped: boolean;
  workflowId: string;
  expiredAt: string | null;
  counters: { audience: number; capped: number };
};
type Api = ReturnType<typeof client>;
const text = (t: string) => ({ elements: [{ type: 'text', text: t }] });

async function appWith(ids: string[], frequencyCap: unknown): Promise<{ app: CreatedApp; api: Api }> {
  const app = await stack.newApp();
  const api = client(stack.url, app.apiKey);
  await api('POST', '/v1/accounts', { accounts: ids.map((id) => ({ id })) });
  expect((await api('PATCH', '/v1/apps/current', { frequencyCap })).status).toBe(200);
  return { app, api };
}

/** A push with retention 1 s, once it expired: what remains of it is what the cap keeps. */
async function pushed(api: Api, body: Record<string, unknown>): Promise<Push> {
  const created = await api<Push>('POST', '/v1/pushes', {
    message: text('hi'),
    retentionSeconds: 1,
    ...body,
  });
  expect(created.status).toBe(201);
  return waitFor(
    () => api<Push>('GET', `/v1/pushes/${created.body.id}`).then((r) => r.body),
    (p) => p.expiredAt !== null,
    30_000,
    'expired',
  );
}

/** How many pushes the cap counts for this account now. */
async function counted(appId: string, accountId: string): Promise<number> {
  const [row] = await stack.database.sql<{ n: number }[]>`
    select count(*)::int as n from push_recipients r
    join pushes p on p.app_id = ${appId} and p.id = r.push_id
    where p.cap_until > now() and p.recalled_at is null and r.account_id = ${accountId}`;
  return row?.n ?? 0;
}

/** herald_push_recipients_total{event="capped"} of this process (the test stack's worker runs in it). */
const cappedMetric = async () =>
  seriesValue(
    parsePrometheus(await (await fetch(`${stack.url}/metrics`)).text()),
    'herald_push_recipients_total',
    {
      event: 'capped',
      app: '',
    },
  );

const partitionOf = async (pushId: string) => {
  const [row] = await stack.database.sql<{ t: string | null }[]>`
    select to_regclass(${`push_recipients_${pushId.replaceAll('-', '')}`})::text as t`;
  return row?.t ?? null;
};

/** The push's workflow ended, and with it its recipient rows (expirePush drops them after counting). */
const droppedAtExpiry = async (p: Push) => {
  expect(await stack.temporal.workflow.getHandle(p.workflowId).result()).toBe('done');
  return partitionOf(p.id);
};

describe('the app setting', () => {
  it('is set, shown, checked and cleared through PATCH /v1/apps/current', async () => {
    const { api } = await appWith(['a'], { max: 3 });
    expect((await api('GET', '/v1/apps/current')).body).toMatchObject({
      frequencyCap: { max: 3, windowHours: 24 },
    });
    const bad: [unknown, string][] = [
      [{ max: 0 }, 'frequencyCap.max'],
      [{ max: 2, windowHours: 169 }, 'frequencyCap.windowHours'],
      [{ max: 2, per: 'day' }, 'frequencyCap'],
      ['3', 'frequencyCap'],
    ];
    for (const [frequencyCap, where] of bad) {
      const r = await api<{ error: { code: string; message: string } }>('PATCH', '/v1/apps/current', {
        frequencyCap,
      });
      expect(r.status, JSON.stringify(frequencyCap)).toBe(400);
      expect(r.body.error).toMatchObject({
        code: 'invalid_request',
        message: expect.stringContaining(where),
      });
    }
    const set = await api('PATCH', '/v1/apps/current', { frequencyCap: { max: 1, windowHours: 12 } });
    expect(set.body).toMatchObject({ frequencyCap: { max: 1, windowHours: 12 } });
    expect((await api('PATCH', '/v1/apps/current', { name: 'renamed' })).body).toMatchObject({
      frequencyCap: { max: 1, windowHours: 12 },
    });
    expect((await api('PATCH', '/v1/apps/current', { frequencyCap: null })).body).toMatchObject({
      frequencyCap: null,
    });
  });
});

describe('pushes under a cap', () => {
  it('skips and counts the accounts that had `max` capped pushes in the window', async () => {
    const ids = ['u1', 'u2', 'u3', 'u4', 'u5'];
    const { app, api } = await appWith(ids, { max: 2 });
    const tagged = await api('POST', '/v1/tags/add', {
      accounts: ['u1', 'u2', 'u3'].map((id) => ({ id, tags: ['a'] })),
    });
    expect(tagged.status).toBe(200);

    const first = await pushed(api, { audience: { TagsOr: ['a'] } });
    expect(first.counters).toMatchObject({ audience: 3, capped: 0 });
    // Its retention is over, but the cap still counts it: its rows are kept, its workflow waits.
    expect(await partitionOf(first.id)).not.toBeNull();
    expect((await stack.temporal.workflow.getHandle(first.workflowId).describe()).status.name).toBe(
      'RUNNING',
    );

    expect((await pushed(api, {})).counters).toMatchObject({ audience: 5, capped: 0 });
    // Not capped: it goes to everyone and is not counted.
    const free = await pushed(api, { capped: false });
    expect(free).toMatchObject({ capped: false, counters: { audience: 5, capped: 0 } });
    expect(await droppedAtExpiry(free)).toBeNull();
    // u1–u3 have had two capped pushes, u4 and u5 one.
    expect(await counted(app.id, 'u1')).toBe(2);
    expect(await counted(app.id, 'u4')).toBe(1);
    const fourth = await pushed(api, {});
    expect(fourth.counters).toMatchObject({ audience: 2, capped: 3 });
    expect(await counted(app.id, 'u4')).toBe(2);

    // A day later for the first push: it left the rolling window.
    await stack.database.sql`
      update pushes set snapshot_at = snapshot_at - interval '25 hours', cap_until = cap_until - interval '25 hours'
      where app_id = ${app.id} and id = ${first.id}`;
    const before = await cappedMetric();
    const fifth = await pushed(api, {});
    expect(fifth.counters).toMatchObject({ audience: 3, capped: 2 });
    expect((await cappedMetric()) - before).toBe(2);

    // The snapshot's result, in the workflow's history, says the same.
    const history = await stack.temporal.workflow.getHandle(fifth.workflowId).fetchHistory();
    const scheduled = history.events?.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'snapshotAudience',
    );
    const completed = history.events?.find(
      (e) =>
        e.activityTaskCompletedEventAttributes?.scheduledEventId?.toString() ===
        scheduled?.eventId?.toString(),
    );
    const payload = completed?.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data;
    expect(JSON.parse(new TextDecoder().decode(payload ?? new Uint8Array()))).toMatchObject({
      audience: 3,
      capped: 2,
    });

    // With the cap turned off everyone gets pushes again, and they are not counted: dropped at expiry.
    await api('PATCH', '/v1/apps/current', { frequencyCap: null });
    const uncounted = await pushed(api, {});
    expect(uncounted.counters).toMatchObject({ audience: 5, capped: 0 });
    expect(await droppedAtExpiry(uncounted)).toBeNull();
  });

  it('a recall stops a push counting', async () => {
    const { app, api } = await appWith(['r1'], { max: 1 });
    const sent = await pushed(api, {});
    expect(await counted(app.id, 'r1')).toBe(1);
    expect((await api('POST', `/v1/pushes/${sent.id}/recall`)).status).toBe(202);
    await waitFor(
      () => stack.temporal.workflow.getHandle(sent.workflowId).result(),
      (r) => r === 'done',
      10_000,
      'the workflow to end',
    );
    expect(await partitionOf(sent.id)).toBeNull();
    expect((await pushed(api, {})).counters).toMatchObject({ audience: 1, capped: 0 });
  });
});

describe('the snapshot under a cap', () => {
  /** Scheduled an hour ahead: its workflow waits, and the test takes the snapshot itself. */
  async function scheduled(api: Api): Promise<Push> {
    const sendAt = new Date(Date.now() + 3_600_000).toISOString();
    return (await api<Push>('POST', '/v1/pushes', { message: text('later'), sendAt })).body;
  }

  it('counts once: a snapshot that rolled back recorded nothing, a repeated one records nothing more', async () => {
    const { app, api } = await appWith(['a', 'b', 'c'], { max: 1 });
    const push = await scheduled(api);
    const ref = { appId: app.id, pushId: push.id };
    const { db } = stack.database;

    // The whole snapshot, recording included, inside a transaction that then rolls back (a crashed attempt).
    await expect(
      db.transaction(async (tx) => {
        expect(await snapshot(tx, ref)).toMatchObject({ audience: 3, capped: 0 });
        tx.rollback();
      }),
    ).rejects.toThrow();
    expect(await counted(app.id, 'a')).toBe(0);

    expect(await snapshot(db, ref)).toMatchObject({ audience: 3, capped: 0 });
    expect(await snapshot(db, ref)).toMatchObject({ audience: 3, capped: 0 });
    for (const id of ['a', 'b', 'c']) expect(await counted(app.id, id)).toBe(1);

    const next = await pushed(api, {});
    expect(next.counters).toMatchObject({ audience: 0, capped: 3 });
    await api('POST', `/v1/pushes/${push.id}/cancel`);
  });

  it('two snapshots at once still hold the cap (they queue behind one another)', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `c${i}`);
    const { app, api } = await appWith(ids, { max: 1 });
    const [p1, p2] = [await scheduled(api), await scheduled(api)];
    const { db } = stack.database;
    const results = await Promise.all(
      [p1, p2].map((p) => snapshot(db, { appId: app.id, pushId: (p as Push).id })),
    );
    expect(results.map((r) => r.audience).sort()).toEqual([0, 40]);
    expect(results.map((r) => r.capped).sort()).toEqual([0, 40]);
    for (const p of [p1, p2]) await api('POST', `/v1/pushes/${(p as Push).id}/cancel`);
  });
});
