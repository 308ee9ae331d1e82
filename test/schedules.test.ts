import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSchedule, temporalScheduleId } from '../db/schedules.ts';
import { schedules } from '../db/schema.ts';
import { reconcileWorkflow } from '../workflows/reconcile.ts';
import { recordingProviders } from './support/recorder.ts';
import { seedAccounts } from './support/seed.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';

// Recurring pushes through the REST API on the real stack: the API, a worker, PostgreSQL and the dev server's
// Temporal Schedules. Each run is an ordinary push that names its schedule.

type Schedule = {
  id: string;
  name: string;
  status: string;
  cron: string[] | null;
  calendar: unknown[] | null;
  timezone: string;
  count: number | null;
  remainingRuns: number | null;
  note: string | null;
  nextRunTimes: string[];
  recentRuns: { scheduledAt: string; workflowId: string }[];
  runs: number;
  lastRun: { at: string; pushId: string | null; error: string | null } | null;
  push: { message: unknown };
  temporalScheduleId: string;
};
type Push = {
  id: string;
  status: string;
  scheduleId: string | null;
  message: unknown;
  counters: { audience: number };
};
type ErrorBody = { error: { code: string; message: string } };

const providers = recordingProviders();
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ providers: providers.registry });
});
afterAll(() => stack?.stop());

const text = (t: string) => ({ elements: [{ type: 'text', text: t }] });
const EVERY_SECOND = '* * * * * * *';

async function newApi(opts: { dailyPushQuota?: number } = {}) {
  const app = await stack.newApp(opts);
  await seedAccounts(stack.database.sql, app.id, 3);
  return { app, api: client(stack.url, app.apiKey) };
}

const pushesOf = async (api: ReturnType<typeof client>, scheduleId: string) =>
  (await api<{ pushes: Push[] }>('GET', `/v1/pushes?scheduleId=${scheduleId}`)).body.pushes;

describe('schedules: validation', () => {
  it('refuses bad specs with stable codes and a message that says what is wrong, and leaves nothing behind', async () => {
    const { api } = await newApi();
    const base = { name: 'x', push: { message: text('hi') } };
    const cases: [unknown, number, string, RegExp][] = [
      [{ ...base, cron: '61 9 * * *' }, 400, 'invalid_cron', /^cron: .*Minute is not in range \[0-59\]/],
      [{ ...base, cron: 'every monday' }, 400, 'invalid_cron', /does not have 5-7 fields/],
      [
        { ...base, cron: 'TZ=Europe/Paris 0 9 * * *' },
        400,
        'invalid_cron',
        /give the time zone in `timezone`/,
      ],
      [{ ...base }, 400, 'invalid_schedule', /`calendar` .* or `cron`/],
      [{ ...base, cron: '0 9 * * *', calendar: { hour: 9 } }, 400, 'invalid_schedule', /not both/],
      [
        { ...base, cron: '0 9 * * *', timezone: 'Mars/Olympus' },
        400,
        'invalid_timezone',
        /^timezone: unknown time zone/,
      ],
      [
        { ...base, calendar: { month: 'FEB', dayOfMonth: 30, hour: 9 } },
        400,
        'invalid_schedule',
        /would never run/,
      ],
      [
        { ...base, cron: '0 9 * * *', endAt: '2020-01-01T00:00:00Z' },
        400,
        'time_in_past',
        /^endAt: must be in the future/,
      ],
      [{ ...base, calendar: { hour: 25 } }, 400, 'invalid_request', /^calendar.0.hour.0.start: must be 0-23/],
      [
        { ...base, calendar: { dayOfWeek: 'Funday' } },
        400,
        'invalid_request',
        /^calendar.0.dayOfWeek.0.start: must be a day name/,
      ],
      [{ ...base, cron: '0 9 * * *', count: 0 }, 400, 'invalid_request', /^count/],
      [
        { ...base, cron: '0 9 * * *', push: { message: text('x'), throttlePerMinute: 1 } },
        400,
        'invalid_request',
        /push.throttlePerMinute: must be at least 10/,
      ],
      [
        { ...base, cron: '0 9 * * *', push: { message: text('x'), audience: { AttrsAnd: { nope: 'x' } } } },
        400,
        'unknown_attribute',
        /push.audience/,
      ],
    ];
    for (const [body, status, code, message] of cases) {
      const res = await api<ErrorBody>('POST', '/v1/schedules', body);
      expect({ body, status: res.status, code: res.body.error?.code }).toEqual({ body, status, code });
      expect(res.body.error.message).toMatch(message);
    }
    const reserved = await api<ErrorBody>(
      'POST',
      '/v1/schedules',
      { ...base, cron: '0 9 * * *' },
      {
        'idempotency-key': 'schedule:mine',
      },
    );
    expect(reserved.status).toBe(400);
    expect((await api<{ schedules: Schedule[] }>('GET', '/v1/schedules')).body.schedules).toEqual([]);
  });
});

describe('schedules: the weekly digest', () => {
  it('runs every Monday at 09:00 Berlin time, 52 times at most; the list shows its next run times', async () => {
    const { app, api } = await newApi();
    const created = await api<Schedule>('POST', '/v1/schedules', {
      name: 'weekly digest',
      calendar: { dayOfWeek: 'MONDAY', hour: 9 },
      timezone: 'Europe/Berlin',
      count: 52,
      push: { message: text('Your week in review'), retentionSeconds: 86_400 },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      status: 'active',
      count: 52,
      remainingRuns: 52,
      timezone: 'Europe/Berlin',
    });
    expect(created.body.temporalScheduleId).toBe(`sched-${app.id}-${created.body.id}`);
    const next = created.body.nextRunTimes.map((t) => new Date(t));
    expect(next.length).toBeGreaterThan(3);
    const berlin = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Berlin',
      weekday: 'long',
      hour: '2-digit',
      minute: '2-digit',
    });
    for (const t of next) expect(berlin.format(t)).toBe('Monday 09:00');
    const [a, b] = next.map((t) => t.getTime());
    expect((b ?? 0) - (a ?? 0)).toBeGreaterThanOrEqual(6.9 * 24 * 3600_000);

    const monthly = await api<Schedule>('POST', '/v1/schedules', {
      name: 'monthly',
      cron: '0 9 1 * *',
      push: { message: text('New month') },
    });
    expect(monthly.status).toBe(201);
    for (const t of monthly.body.nextRunTimes)
      expect(new Date(t).toISOString()).toMatch(/-01T09:00:00\.000Z$/);

    const list = await api<{ schedules: Schedule[] }>('GET', '/v1/schedules');
    expect(list.body.schedules.map((s) => s.name)).toEqual(['monthly', 'weekly digest']);
    expect(list.body.schedules[1]?.nextRunTimes).toEqual(created.body.nextRunTimes);
  });
});

describe('schedules: for real', () => {
  it('paused, triggered, resumed: each run is an ordinary push with its scheduleId; update; delete', async () => {
    const { api } = await newApi();
    const created = await api<Schedule>('POST', '/v1/schedules', {
      name: 'every second, once',
      cron: EVERY_SECOND,
      count: 1,
      paused: true,
      push: { message: text('run') },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(created.body).toMatchObject({ status: 'paused', nextRunTimes: [], remainingRuns: 1 });
    await new Promise((r) => setTimeout(r, 2000));
    expect(await pushesOf(api, id)).toEqual([]);

    // Trigger: one run now, even while paused; it does not count against `count`.
    expect((await api<Schedule>('POST', `/v1/schedules/${id}/trigger`)).status).toBe(200);
    const [first = { id: '' }] = await waitFor(
      () => pushesOf(api, id),
      (p) => p.length === 1,
      20_000,
      'the triggered push',
    );
    expect(first).toMatchObject({ scheduleId: id, message: text('run') });
    await waitFor(
      () => api<Push>('GET', `/v1/pushes/${first.id}`).then((r) => r.body),
      (p) => p.status === 'completed',
      20_000,
      'the triggered push to complete',
    );
    expect((await api<Push>('GET', `/v1/pushes/${first.id}`)).body.counters.audience).toBe(3);

    // Resume: the one scheduled run comes, then it is done.
    const resumed = await api<Schedule>('POST', `/v1/schedules/${id}/resume`, { note: 'go' });
    expect(resumed.body).toMatchObject({ status: 'active', note: 'go' });
    await waitFor(
      () => pushesOf(api, id),
      (p) => p.length === 2,
      20_000,
      'the scheduled push',
    );
    const done = await waitFor(
      () => api<Schedule>('GET', `/v1/schedules/${id}`).then((r) => r.body),
      (s) => s.status === 'done' && s.runs === 2,
      20_000,
      'the schedule to be done',
    );
    expect(done).toMatchObject({ remainingRuns: 0, nextRunTimes: [], lastRun: { error: null } });
    expect(done.lastRun?.pushId).toBe((await pushesOf(api, id))[0]?.id);
    expect(done.recentRuns).toHaveLength(2);

    // Update: a new message and one more run; the next run's push carries the new template.
    const patched = await api<Schedule>('PATCH', `/v1/schedules/${id}`, {
      count: 1,
      push: { message: text('v2') },
    });
    expect(patched.status).toBe(200);
    const three = await waitFor(
      () => pushesOf(api, id),
      (p) => p.length === 3,
      20_000,
      'the run after the update',
    );
    expect(three[0]?.message).toEqual(text('v2'));
    await new Promise((r) => setTimeout(r, 2000));
    expect(await pushesOf(api, id)).toHaveLength(3);

    // A bad cron in an update changes nothing.
    const bad = await api<ErrorBody>('PATCH', `/v1/schedules/${id}`, { cron: '0 25 * * *' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_cron');
    expect((await api<Schedule>('GET', `/v1/schedules/${id}`)).body.cron).toEqual([EVERY_SECOND]);

    // Pause with a note; the Temporal Schedule says the same.
    const paused = await api<Schedule>('POST', `/v1/schedules/${id}/pause`, { note: 'holidays' });
    expect(paused.body).toMatchObject({ status: 'paused', note: 'holidays' });
    const described = await stack.temporal.schedule.getHandle(paused.body.temporalScheduleId).describe();
    expect(described.state).toMatchObject({ paused: true, note: 'holidays' });

    // Delete: gone from the API and from Temporal; its pushes stay.
    expect((await api('DELETE', `/v1/schedules/${id}`)).status).toBe(204);
    expect((await api<ErrorBody>('GET', `/v1/schedules/${id}`)).body.error.code).toBe('not_found');
    await expect(
      stack.temporal.schedule.getHandle(paused.body.temporalScheduleId).describe(),
    ).rejects.toThrow();
    expect(await pushesOf(api, id)).toHaveLength(3);
  });

  it('an over-quota run is a failed run that the schedule shows; the schedule goes on', async () => {
    const { api } = await newApi({ dailyPushQuota: 1 });
    const created = await api<Schedule>('POST', '/v1/schedules', {
      name: 'quota',
      cron: '0 9 * * *',
      push: { message: text('q') },
    });
    const id = created.body.id;
    await api('POST', `/v1/schedules/${id}/trigger`);
    await waitFor(
      () => pushesOf(api, id),
      (p) => p.length === 1,
      20_000,
      'the first push',
    );
    // A run's workflow id names its time to the second: a trigger in the same second as a run still going
    // would be that run (docs/pushes.md), so the second trigger waits for the next second.
    await new Promise((r) => setTimeout(r, 1100));
    expect((await api('POST', `/v1/schedules/${id}/trigger`)).status).toBe(200);
    const failed = await waitFor(
      () => api<Schedule>('GET', `/v1/schedules/${id}`).then((r) => r.body),
      (s) => s.lastRun?.error != null,
      20_000,
      'the refused run',
    );
    expect(failed.lastRun).toMatchObject({
      pushId: null,
      error: expect.stringMatching(/^quota_exceeded: .*daily quota of 1/),
    });
    expect(failed).toMatchObject({ status: 'active', runs: 1 });
    const runs = failed.recentRuns.map((r) => r.workflowId);
    const statuses = () =>
      Promise.all(runs.map(async (w) => (await stack.temporal.workflow.getHandle(w).describe()).status.name));
    const settled = await waitFor(statuses, (s) => !s.includes('RUNNING'), 20_000, 'the runs to end');
    expect(settled.sort()).toEqual(['COMPLETED', 'FAILED']);
    expect(await pushesOf(api, id)).toHaveLength(1);
  });

  it('keeps tenants apart: another app can neither see nor touch a schedule', async () => {
    const a = await newApi();
    const b = await newApi();
    const created = await a.api<Schedule>('POST', '/v1/schedules', {
      name: 'mine',
      cron: '0 9 * * *',
      push: { message: text('a') },
    });
    const id = created.body.id;
    for (const [method, path] of [
      ['GET', `/v1/schedules/${id}`],
      ['PATCH', `/v1/schedules/${id}`],
      ['POST', `/v1/schedules/${id}/pause`],
      ['POST', `/v1/schedules/${id}/trigger`],
      ['DELETE', `/v1/schedules/${id}`],
    ] as const) {
      const res = await b.api<ErrorBody>(method, path, method === 'PATCH' ? { name: 'theirs' } : undefined);
      expect({ path, method, status: res.status }).toEqual({ path, method, status: 404 });
    }
    expect((await b.api<{ schedules: Schedule[] }>('GET', '/v1/schedules')).body.schedules).toEqual([]);
    expect((await a.api<Schedule>('GET', `/v1/schedules/${id}`)).body).toMatchObject({
      name: 'mine',
      status: 'active',
    });
  });

  it('the same Idempotency-Key and body is the same schedule; another body is a conflict', async () => {
    const { api } = await newApi();
    const body = { name: 'idem', cron: '0 9 * * *', push: { message: text('i') } };
    const key = { 'idempotency-key': `k-${randomUUID()}` };
    const one = await api<Schedule>('POST', '/v1/schedules', body, key);
    const two = await api<Schedule>('POST', '/v1/schedules', body, key);
    expect([one.status, two.status]).toEqual([201, 200]);
    expect(two.body.id).toBe(one.body.id);
    const other = await api<ErrorBody>('POST', '/v1/schedules', { ...body, name: 'other' }, key);
    expect([other.status, other.body.error.code]).toEqual([409, 'idempotency_key_reused']);
  });

  it('the reconciler makes the Temporal Schedule of a row whose creation was interrupted', async () => {
    const { app, api } = await newApi();
    const id = randomUUID();
    await stack.database.db.insert(schedules).values({
      appId: app.id,
      id,
      name: 'stranded',
      spec: { cron: ['0 9 * * *'], timezone: 'UTC' },
      template: {
        audience: 'all',
        message: text('s') as never,
        offline: { push: true },
        retentionSeconds: 0,
      },
      temporalScheduleId: temporalScheduleId(app.id, id),
    });
    expect((await api<Schedule>('GET', `/v1/schedules/${id}`)).body.status).toBe('unscheduled');
    expect((await api<ErrorBody>('POST', `/v1/schedules/${id}/trigger`)).body.error.code).toBe(
      'schedule_not_ready',
    );
    const result = await stack.temporal.workflow.execute(reconcileWorkflow, {
      taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
      workflowId: `reconcile-test-${randomUUID()}`,
      args: [{ appId: app.id, olderThanMs: 0 }],
    });
    expect(result.started).toEqual([id]);
    expect((await api<Schedule>('GET', `/v1/schedules/${id}`)).body.status).toBe('active');
    expect((await findSchedule(stack.database.db, app.id, id))?.temporalCreatedAt).not.toBeNull();
  });
});
