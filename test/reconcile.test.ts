import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureReconcileSchedule, reconcileScheduleId } from '../cli/worker.ts';
import { newId } from '../core/ids.ts';
import { createLogger } from '../core/log.ts';
import { campaignWorkflowId } from '../db/campaigns.ts';
import { campaigns, pushes } from '../db/schema.ts';
import { reconcileWorkflow } from '../workflows/reconcile.ts';
import { seedAccounts } from './support/seed.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';

// Rows committed without their workflow (a crash between the commit and the start) are started, or failed
// when too late, by the reconciler's sweep; campaigns take an Idempotency-Key as pushes do.
type Push = { id: string; status: string; failureReason: string | null; counters: { audience: number } };
type Campaign = { id: string; status: string; steps: { index: number; push: Push }[] };

let stack: TestStack;
// Loaded after the stack (and so after the API has extended zod for OpenAPI), as the API process loads it.
let service: typeof import('../pushes/service.ts');
beforeAll(async () => {
  stack = await startTestStack();
  service = await import('../pushes/service.ts');
});
afterAll(() => stack?.stop());

const message = { elements: [{ type: 'text' as const, text: 'hello' }] };
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);

/** A push stored as createPush stores it (quota taken, row inserted) by a process that died before the start. */
async function strandedPush(appId: string, createdAt: Date) {
  return stack.database.db.transaction(async (tx) => {
    await service.takeQuota(tx, appId, 1);
    const row = service.newPushRow(
      appId,
      { audience: 'all', message, offline: { push: true }, retentionSeconds: 0 },
      null,
      null,
      {},
    );
    const [inserted] = await tx
      .insert(pushes)
      .values({ ...row, createdAt })
      .returning();
    if (!inserted) throw new Error('no row');
    return inserted;
  });
}

/** A campaign stored as createCampaign stores it, never started. */
async function strandedCampaign(appId: string, createdAt: Date) {
  const id = newId();
  const at = new Date(Date.now() + 1500).toISOString();
  await stack.database.db.transaction(async (tx) => {
    await service.takeQuota(tx, appId, 1);
    const step = { at, audience: 'all' as const, message, offline: { push: true }, retentionSeconds: 0 };
    await tx.insert(campaigns).values({
      appId,
      id,
      name: 'stranded',
      steps: [step],
      workflowId: campaignWorkflowId(appId, id),
      createdAt,
    });
    const row = service.newPushRow(appId, { ...step, sendAt: at }, null, null, {
      source: 'campaign',
      campaign: { id, step: 0 },
    });
    await tx.insert(pushes).values({ ...row, createdAt });
  });
  return id;
}

const sweep = (appId: string) =>
  stack.temporal.workflow.execute(reconcileWorkflow, {
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    workflowId: `reconcile-test-${randomUUID()}`,
    args: [{ appId }],
  });

describe('the reconciler', () => {
  it('starts a stranded push and a stranded campaign, fails one too late, and leaves young rows alone', async () => {
    const app = await stack.newApp();
    await seedAccounts(stack.database.sql, app.id, 5);
    const api = client(stack.url, app.apiKey);
    const stranded = await strandedPush(app.id, minutesAgo(2));
    const tooLate = await strandedPush(app.id, minutesAgo(120));
    const young = await strandedPush(app.id, new Date());
    const campaignId = await strandedCampaign(app.id, minutesAgo(2));

    const result = await sweep(app.id);
    expect(result.started.sort()).toEqual([stranded.id, campaignId].sort());
    expect(result.failed).toEqual([tooLate.id]);

    const done = await waitFor(
      () => api<Push>('GET', `/v1/pushes/${stranded.id}`).then((r) => r.body),
      (p) => p.status === 'completed',
      30_000,
      'the stranded push to complete',
    );
    expect(done.counters.audience).toBe(5);
    const late = (await api<Push>('GET', `/v1/pushes/${tooLate.id}`)).body;
    expect(late.status).toBe('failed');
    expect(late.failureReason).toMatch(/never started.*more than an hour ago/);
    expect((await api<Push>('GET', `/v1/pushes/${young.id}`)).body.status).toBe('scheduled');
    const campaign = await waitFor(
      () => api<Campaign>('GET', `/v1/campaigns/${campaignId}`).then((r) => r.body),
      (c) => c.status === 'completed' && c.steps[0]?.push.status === 'completed',
      30_000,
      'the stranded campaign to run its step',
    );
    expect(campaign.steps[0]?.push.counters.audience).toBe(5);
    // The too-late push gave its quota back: four were taken.
    const [quota] = await stack.database.sql<{ used: number }[]>`
      select sum(used)::int as used from push_quota where app_id = ${app.id}`;
    expect(quota?.used).toBe(3);

    // A second sweep finds nothing left to do (the young row is still too young).
    expect(await sweep(app.id)).toEqual({ started: [], failed: [], found: 0 });
  });

  it('the worker creates its Schedule once; a second worker finds it', async () => {
    const taskQueue = `reconcile-${randomUUID()}`;
    const log = createLogger('silent');
    await ensureReconcileSchedule(stack.temporal, taskQueue, 60, log);
    await ensureReconcileSchedule(stack.temporal, taskQueue, 60, log);
    const handle = stack.temporal.schedule.getHandle(reconcileScheduleId(taskQueue));
    try {
      const d = await handle.describe();
      expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconcileWorkflow', taskQueue });
    } finally {
      await handle.delete();
    }
  });
});

describe('campaign Idempotency-Key', () => {
  const at = new Date(Date.now() + 3_600_000).toISOString();
  const body = (text: string) => ({
    name: 'launch',
    steps: [{ at, message: { elements: [{ type: 'text', text }] } }],
  });

  it('the same key and body answer with the same campaign (200); another body is 409', async () => {
    const app = await stack.newApp();
    const api = client(stack.url, app.apiKey);
    const key = { 'idempotency-key': 'campaign-1' };
    const first = await api<Campaign>('POST', '/v1/campaigns', body('a'), key);
    expect(first.status).toBe(201);
    const again = await api<Campaign>('POST', '/v1/campaigns', body('a'), key);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const other = await api<{ error: { code: string } }>('POST', '/v1/campaigns', body('b'), key);
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    await api('POST', `/v1/campaigns/${first.body.id}/cancel`);
  });

  it('concurrent creates with one new key make one campaign', async () => {
    const app = await stack.newApp({ minPushIntervalMs: 1000 });
    const api = client(stack.url, app.apiKey);
    const key = { 'idempotency-key': 'campaign-race' };
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => api<Campaign>('POST', '/v1/campaigns', body('race'), key)),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 201]);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    const [rows] = await stack.database.sql<{ campaigns: number; pushes: number }[]>`
      select (select count(*)::int from campaigns where app_id = ${app.id}) as campaigns,
             (select count(*)::int from pushes where app_id = ${app.id}) as pushes`;
    expect(rows).toEqual({ campaigns: 1, pushes: 1 });
    await api('POST', `/v1/campaigns/${answers[0]?.body.id}/cancel`);
  });
});
