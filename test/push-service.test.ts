import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, SdkAppIdTakenError } from '../db/apps.ts';
import { pgErrorCode, SQLSTATE } from '../db/errors.ts';
import { apps } from '../db/schema.ts';
import { isClosedWorkflowError } from '../pushes/temporal.ts';
import { cancelPushUpdate, pushWorkflow } from '../workflows/push.ts';
import { seedAccounts } from './support/seed.ts';
import { client, startTestStack, type TestStack } from './support/stack.ts';

type Push = { id: string; status: string; workflowId: string };

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.stop());

const text = (t: string) => ({ elements: [{ type: 'text', text: t }] });

async function appWithAccounts(count: number, opts: { minPushIntervalMs?: number } = {}) {
  const app = await stack.newApp(opts);
  await seedAccounts(stack.database.sql, app.id, count);
  return client(stack.url, app.apiKey);
}

const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err,
  );

describe('a closed workflow', () => {
  it('answers an update with WorkflowNotFoundError, which cancel and recall take as "nothing left to stop"', async () => {
    const api = await appWithAccounts(1);
    const sendAt = new Date(Date.now() + 60_000).toISOString();
    const created = await api<Push>('POST', '/v1/pushes', { message: text('later'), sendAt });
    expect(created.status).toBe(201);
    expect((await api('POST', `/v1/pushes/${created.body.id}/cancel`)).status).toBe(202);
    // Canceled while it waited, the workflow completes (no copies to wait out).
    const handle = stack.temporal.workflow.getHandle(created.body.workflowId);
    await handle.result();

    const err = await failureOf(handle.executeUpdate(cancelPushUpdate));
    expect(err).toBeInstanceOf(WorkflowNotFoundError);
    expect(isClosedWorkflowError(err)).toBe(true);
    // recall of the canceled push sends the update to the closed workflow: an answer, not a 500.
    const recalled = await api<Push>('POST', `/v1/pushes/${created.body.id}/recall`);
    expect(recalled).toMatchObject({ status: 202, body: { status: 'canceled' } });
  });

  it('is the same for a terminated workflow; other errors are not it', async () => {
    const id = randomBytes(4).toString('hex');
    const handle = await stack.temporal.workflow.start(pushWorkflow, {
      workflowId: `closed-probe-${id}`,
      taskQueue: `nobody-polls-${id}`,
      args: [{ appId: 'none', pushId: 'none', retentionSeconds: 0 }],
    });
    await handle.terminate('probe');
    const err = await failureOf(handle.executeUpdate(cancelPushUpdate));
    expect(err).toBeInstanceOf(WorkflowNotFoundError);
    expect(isClosedWorkflowError(err)).toBe(true);
    expect(isClosedWorkflowError(new Error('workflow execution already completed'))).toBe(false);
  });
});

describe('one new Idempotency-Key sent twice at once', () => {
  const race = async (api: ReturnType<typeof client>, n: number) => {
    const key = `race-${randomBytes(6).toString('hex')}`;
    const body = { message: text(`once ${key}`) };
    return Promise.all(
      Array.from({ length: n }, () => api<Push>('POST', '/v1/pushes', body, { 'idempotency-key': key })),
    );
  };

  it('answers every request with the one push (200 or 201, never 500)', async () => {
    const api = await appWithAccounts(1);
    for (let round = 0; round < 4; round++) {
      const answers = await race(api, 6);
      expect(answers.map((a) => a.status).filter((s) => s !== 200 && s !== 201)).toEqual([]);
      expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
      expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    }
  });

  it('does so too when the app has a minimum interval between pushes (the loser is not too_frequent)', async () => {
    const api = await appWithAccounts(1, { minPushIntervalMs: 600_000 });
    const answers = await race(api, 4);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 201]);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
  });
});

describe('pgErrorCode', () => {
  it('reads the SQLSTATE of a drizzle error (on its cause) and of a raw postgres.js error', async () => {
    const app = await stack.newApp();
    const [row] = await stack.database.db.select().from(apps).limit(1);
    if (!row) throw new Error('no app');
    const viaDrizzle = await failureOf(stack.database.db.insert(apps).values({ ...row, id: `${row.id}-x` }));
    expect(pgErrorCode(viaDrizzle)).toBe(SQLSTATE.uniqueViolation);
    const raw = await failureOf(stack.database.sql`select * from no_such_table_here`);
    expect(pgErrorCode(raw)).toBe(SQLSTATE.undefinedTable);
    expect(pgErrorCode(new Error('not a database error'))).toBeUndefined();
    // So createApp tells a taken sdkAppId from other failures (this branch never fired before).
    const taken = await failureOf(createApp(stack.database.db, { name: 'twin', sdkAppId: app.sdkAppId }));
    expect(taken).toBeInstanceOf(SdkAppIdTakenError);
  });
});
