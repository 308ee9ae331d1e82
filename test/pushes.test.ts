import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordingProviders } from './support/recorder.ts';
import { seedAccounts } from './support/seed.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';

type Counters = {
  audience: number;
  deliveredOnline: number;
  storedOffline: number;
  expired: number;
  withdrawn: number;
  fcm: { sent: number; failed: number; tokensDisabled: number };
};
type Push = {
  id: string;
  status: string;
  sendAt: string | null;
  startedAt: string | null;
  expiredAt: string | null;
  recalledAt: string | null;
  counters: Counters;
  workflowId: string;
};

const providers = recordingProviders({ delayMs: 100 });
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ providers: providers.registry, batchSize: 100 });
});
afterAll(() => stack?.stop());

const text = (t: string) => ({ elements: [{ type: 'text', text: t }] });

async function appWithAccounts(count: number, deviceEvery?: number) {
  const app = await stack.newApp();
  await seedAccounts(stack.database.sql, app.id, count, { deviceEvery });
  return { app, api: client(stack.url, app.apiKey) };
}

const read = (api: ReturnType<typeof client>, id: string) =>
  api<Push>('GET', `/v1/pushes/${id}`).then((r) => r.body);
const until = (
  api: ReturnType<typeof client>,
  id: string,
  ok: (p: Push) => boolean,
  what: string,
  ms = 30_000,
) => waitFor(() => read(api, id), ok, ms, what);

describe('scheduling and retention', () => {
  it('waits for sendAt, then keeps copies until retention ends and expires them', async () => {
    const { api } = await appWithAccounts(5);
    const sendAt = new Date(Date.now() + 2500).toISOString();
    const created = await api<Push>('POST', '/v1/pushes', {
      message: text('later'),
      sendAt,
      retentionSeconds: 2,
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('scheduled');
    await new Promise((r) => setTimeout(r, 1000));
    expect((await read(api, created.body.id)).status).toBe('scheduled');

    const done = await until(api, created.body.id, (p) => p.status === 'completed', 'completed');
    expect(Date.parse(done.startedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(sendAt));
    expect(done.counters).toMatchObject({ audience: 5, storedOffline: 5, expired: 0 });

    const expired = await until(api, created.body.id, (p) => p.expiredAt !== null, 'expired');
    expect(expired.counters.expired).toBe(5);
    // expiredAt commits before the partition is dropped (expirePush does both): the workflow's end is after both.
    expect(await stack.temporal.workflow.getHandle(created.body.workflowId).result()).toBe('done');
    const [part] = await stack.database
      .sql`select to_regclass(${`push_recipients_${created.body.id.replaceAll('-', '')}`}) as t`;
    expect(part?.t).toBeNull();
  });

  it('stores nothing with retention 0', async () => {
    const { api } = await appWithAccounts(3);
    const created = await api<Push>('POST', '/v1/pushes', { message: text('now or never') });
    const done = await until(api, created.body.id, (p) => p.status === 'completed', 'done');
    // Its rows stay a minute for late live delivery (RECIPIENTS_GRACE_MS), but nothing was stored.
    expect(done.expiredAt).toBeNull();
    expect(done.counters).toMatchObject({ audience: 3, storedOffline: 0, expired: 0 });
  });

  it('refuses a sendAt in the past or past a year', async () => {
    const { api } = await appWithAccounts(1);
    const past = await api('POST', '/v1/pushes', { message: text('x'), sendAt: '2020-01-01T00:00:00Z' });
    expect(past).toMatchObject({ status: 400, body: { error: { code: 'time_in_past' } } });
    const far = new Date(Date.now() + 400 * 86_400_000).toISOString();
    expect((await api('POST', '/v1/pushes', { message: text('x'), sendAt: far })).body).toMatchObject({
      error: { code: 'time_too_far' },
    });
    const long = await api('POST', '/v1/pushes', { message: text('x'), retentionSeconds: 604_801 });
    expect(long).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
  });
});

describe('cancel and recall', () => {
  it('a scheduled push that is canceled never sends', async () => {
    const { api } = await appWithAccounts(3);
    const sendAt = new Date(Date.now() + 3000).toISOString();
    const created = await api<Push>('POST', '/v1/pushes', {
      message: text('never'),
      sendAt,
      retentionSeconds: 60,
    });
    const canceled = await api<Push>('POST', `/v1/pushes/${created.body.id}/cancel`);
    expect(canceled.status).toBe(202);
    const final = await until(api, created.body.id, (p) => p.status === 'canceled', 'canceled');
    await new Promise((r) => setTimeout(r, 3500));
    const later = await read(api, created.body.id);
    expect(later.status).toBe('canceled');
    expect(later.startedAt).toBeNull();
    expect(later.counters.audience).toBe(0);
    expect(final.counters.storedOffline).toBe(0);
    // Idempotent.
    expect((await api('POST', `/v1/pushes/${created.body.id}/cancel`)).status).toBe(202);
  });

  it('a running push stops its remaining batches when canceled', async () => {
    const { api } = await appWithAccounts(10_000, 1);
    const created = await api<Push>('POST', '/v1/pushes', { message: text('stop me'), retentionSeconds: 60 });
    await until(api, created.body.id, (p) => p.counters.fcm.sent >= 300, 'some pages sent');
    await api('POST', `/v1/pushes/${created.body.id}/cancel`);
    const canceled = await until(api, created.body.id, (p) => p.status === 'canceled', 'canceled');
    await new Promise((r) => setTimeout(r, 1000));
    const settled = await read(api, created.body.id);
    // Every recipient's copy was stored by the snapshot; the notifications stopped part way.
    expect(settled.counters).toMatchObject({ audience: 10_000, storedOffline: 10_000 });
    expect(settled.counters.fcm.sent).toBeLessThan(10_000);
    expect(settled.counters.fcm.sent).toBe(canceled.counters.fcm.sent);
    const sent = providers.sent.filter((s) => s.notification.pushId === created.body.id);
    expect(sent).toHaveLength(settled.counters.fcm.sent);
  });

  it('recall withdraws the stored copies', async () => {
    const { api } = await appWithAccounts(6);
    const created = await api<Push>('POST', '/v1/pushes', { message: text('oops'), retentionSeconds: 600 });
    await until(api, created.body.id, (p) => p.status === 'completed', 'completed');
    const recalled = await api<Push>('POST', `/v1/pushes/${created.body.id}/recall`);
    expect(recalled.status).toBe(202);
    const done = await until(api, created.body.id, (p) => p.recalledAt !== null, 'recalled');
    expect(done.counters.withdrawn).toBe(6);
    expect((await api('POST', `/v1/pushes/${created.body.id}/recall`)).status).toBe(202);
    const history = await stack.temporal.workflow.getHandle(created.body.workflowId).fetchHistory();
    const updates = history.events?.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes) ?? [];
    expect(updates).toHaveLength(1);
  });
});

describe('idempotency and quotas', () => {
  it('the same Idempotency-Key is the same push; another body with it is a 409', async () => {
    const { api } = await appWithAccounts(2);
    const body = { message: text('once') };
    const first = await api<Push>('POST', '/v1/pushes', body, { 'idempotency-key': 'k-1' });
    const again = await api<Push>('POST', '/v1/pushes', body, { 'idempotency-key': 'k-1' });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const reserved = await api('POST', '/v1/pushes', body, { 'idempotency-key': 'v4:12345' });
    expect(reserved).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    const other = await api(
      'POST',
      '/v1/pushes',
      { message: text('different') },
      { 'idempotency-key': 'k-1' },
    );
    expect(other).toMatchObject({ status: 409, body: { error: { code: 'idempotency_key_reused' } } });
    await until(api, first.body.id, (p) => p.status === 'completed', 'completed');
    const [n] = await stack.database
      .sql`select count(*)::int as n from push_recipients where push_id = ${first.body.id}`;
    expect(n?.n ?? 0).toBeLessThanOrEqual(2);
    const runs = stack.temporal.workflow.list({ query: `WorkflowId = '${first.body.workflowId}'` });
    let count = 0;
    for await (const _ of runs) count++;
    expect(count).toBe(1);
  });

  it('refuses past the daily quota and too soon after the last push, with Retry-After', async () => {
    const app = await stack.newApp({ dailyPushQuota: 2, minPushIntervalMs: 60_000 });
    const api = client(stack.url, app.apiKey);
    expect((await api('POST', '/v1/pushes', { message: text('1') })).status).toBe(201);
    const soon = await api('POST', '/v1/pushes', { message: text('2') });
    expect(soon).toMatchObject({ status: 429, body: { error: { code: 'too_frequent' } } });
    expect(Number(soon.headers.get('retry-after'))).toBeGreaterThan(0);
    await stack.database
      .sql`update apps set last_push_at = now() - interval '2 minutes' where id = ${app.id}`;
    expect((await api('POST', '/v1/pushes', { message: text('2') })).status).toBe(201);
    await stack.database
      .sql`update apps set last_push_at = now() - interval '2 minutes' where id = ${app.id}`;
    const over = await api('POST', '/v1/pushes', { message: text('3') });
    expect(over).toMatchObject({ status: 429, body: { error: { code: 'quota_exceeded' } } });
    const [q] = await stack.database.sql`select used from push_quota where app_id = ${app.id}`;
    expect(q?.used).toBe(2);
  });
});

describe('at scale', () => {
  it('a 20,000-recipient push completes with exact counters', async () => {
    const { api } = await appWithAccounts(20_000, 10);
    const before = providers.sent.length;
    const created = await api<Push>('POST', '/v1/pushes', {
      message: text('everyone'),
      retentionSeconds: 600,
    });
    const done = await until(api, created.body.id, (p) => p.status === 'completed', 'completed', 120_000);
    expect(done.counters).toMatchObject({
      audience: 20_000,
      storedOffline: 20_000,
      fcm: { sent: 2000, failed: 0 },
    });
    const tokens = providers.sent
      .slice(before)
      .filter((s) => s.notification.pushId === created.body.id)
      .map((s) => s.token);
    expect(tokens).toHaveLength(2000);
    expect(new Set(tokens).size).toBe(2000);
  }, 180_000);
});

describe('campaigns', () => {
  type Campaign = { id: string; status: string; steps: { index: number; at: string; push: Push }[] };

  it('runs two steps, the second rescheduled, each as a child push', async () => {
    const { api } = await appWithAccounts(4);
    const t0 = Date.now();
    const created = await api<Campaign>('POST', '/v1/campaigns', {
      name: 'livestream',
      steps: [
        { at: new Date(t0 + 2000).toISOString(), message: text('tomorrow!'), retentionSeconds: 60 },
        { at: new Date(t0 + 60_000).toISOString(), message: text('we are live'), retentionSeconds: 0 },
      ],
    });
    expect(created.status).toBe(201);
    expect(created.body.steps.map((s) => s.push.status)).toEqual(['scheduled', 'scheduled']);
    const newAt = new Date(t0 + 4000).toISOString();
    const moved = await api<Campaign>('PATCH', `/v1/campaigns/${created.body.id}`, {
      steps: [{ index: 1, at: newAt }],
    });
    expect(moved.status).toBe(200);
    expect(moved.body.steps[1]?.at).toBe(newAt);

    const done = await waitFor(
      () => api<Campaign>('GET', `/v1/campaigns/${created.body.id}`).then((r) => r.body),
      (c) => c.steps.every((s) => s.push.status === 'completed'),
      30_000,
      'both steps completed',
    );
    expect(done.status).toBe('completed');
    expect(done.steps.map((s) => s.push.counters.audience)).toEqual([4, 4]);
    expect(Date.parse(done.steps[1]?.push.startedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(newAt));
    expect(Date.parse(done.steps[1]?.push.startedAt ?? '')).toBeLessThan(t0 + 30_000);

    const future = new Date(Date.now() + 60_000).toISOString();
    const late = await api('PATCH', `/v1/campaigns/${created.body.id}`, {
      steps: [{ index: 0, at: future }],
    });
    expect(late).toMatchObject({ status: 409, body: { error: { code: 'campaign_not_active' } } });
  });

  it('cancel stops the steps to come; a step in the past is refused', async () => {
    const { api } = await appWithAccounts(2);
    const past = await api('POST', '/v1/campaigns', {
      name: 'too late',
      steps: [{ at: new Date(Date.now() - 1000).toISOString(), message: text('x') }],
    });
    expect(past).toMatchObject({ status: 400, body: { error: { code: 'time_in_past' } } });

    const created = await api<Campaign>('POST', '/v1/campaigns', {
      name: 'stop',
      steps: [{ at: new Date(Date.now() + 60_000).toISOString(), message: text('never') }],
    });
    const canceled = await api<Campaign>('POST', `/v1/campaigns/${created.body.id}/cancel`);
    expect(canceled.status).toBe(202);
    const after = await waitFor(
      () => api<Campaign>('GET', `/v1/campaigns/${created.body.id}`).then((r) => r.body),
      (c) => c.status === 'canceled',
    );
    expect(after.steps[0]?.push.status).toBe('canceled');
  });
});
