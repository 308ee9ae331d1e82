import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintUserToken } from '../core/user-token.ts';
import { type FakesStack, startStackWithFakes } from './support/fakes-stack.ts';
import { seedAccounts } from './support/seed.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';
import { type Receiver, startReceiver } from './support/webhook-receiver.ts';
import { spawnWorkerProcess } from './support/worker-child.ts';

// Webhook delivery under load and faults: per-recipient events of a 10k push in batches of at most 1,000 and at
// most one request a second; a worker SIGKILLed while a batch is in flight loses no event and the receiver
// processes each event once (a re-sent batch carries the same webhook-id).
const receivers: Receiver[] = [];
afterAll(async () => {
  for (const r of receivers) await r.close();
});

describe('per-recipient batching', () => {
  let fakes: FakesStack;
  beforeAll(async () => {
    fakes = await startStackWithFakes({
      topic: 'com.example.hooks',
      projectId: 'webhook-batching',
      env: { HERALD_WEBHOOK_ALLOW_PRIVATE: 'true' },
    });
  });
  afterAll(async () => {
    await fakes?.stop();
  });

  it('a 10k push’s notification events arrive in batches of ≤ 1,000, ≥ 1 s apart, each once', async () => {
    const { stack, fcm, serviceAccount } = fakes;
    const app = await stack.newApp();
    const api = client(stack.url, app.apiKey);
    const sa = serviceAccount.credentials(fcm.tokenUri).serviceAccount;
    expect((await api('PUT', '/v1/apps/current/credentials/fcm', { serviceAccount: sa })).status).toBe(200);
    await seedAccounts(stack.database.sql, app.id, 10_000, { deviceEvery: 1, prefix: 'b' });
    let secret: string | undefined;
    const receiver = await startReceiver(() => secret);
    receivers.push(receiver);
    const endpoint = await api<{ secret: string }>('POST', '/v1/webhooks', {
      url: receiver.url,
      eventTypes: ['notification.*', 'push.completed'],
    });
    secret = endpoint.body.secret;
    const push = await api<{ id: string }>('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text: 'batch me' }] },
    });
    expect(push.status).toBe(201);
    const events = await waitFor(
      async () => receiver.events(),
      (e) => e.length >= 10_001,
      120_000,
      '10,000 notification events and the completion',
    );
    expect(receiver.failures).toEqual([]);
    const sent = events.filter((e) => e.type === 'notification.sent');
    expect(sent).toHaveLength(10_000);
    expect(new Set(sent.map((e) => e.id)).size).toBe(10_000);
    expect(new Set(sent.map((e) => e.data.accountId)).size).toBe(10_000);
    expect(sent[0]?.data).toMatchObject({ pushId: push.body.id, channel: 'fcm', token: expect.any(String) });
    const sizes = receiver.messages.map((m) => m.events.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1000);
    expect(receiver.messages.length).toBeGreaterThanOrEqual(11);
    // At most one request a second: measured where the receiver's event loop (shared with the whole stack in
    // this process) saw them, so over the run rather than gap by gap; test/workflows/webhook.test.ts checks the
    // sender's own pacing exactly.
    const first = receiver.messages[0]?.at ?? 0;
    const last = receiver.messages.at(-1)?.at ?? 0;
    expect(last - first).toBeGreaterThanOrEqual((receiver.messages.length - 1) * 1000 - 300);
    // The completion is the last event of the push: its counters are final.
    expect(events.at(-1)).toMatchObject({
      type: 'push.completed',
      data: { counters: { channels: { fcm: { sent: 10_000 } } } },
    });
  }, 180_000);
});

describe('a worker SIGKILLed mid-batch', () => {
  let stack: TestStack;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    stack = await startTestStack({ env: { HERALD_WEBHOOK_ALLOW_PRIVATE: 'true' } });
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await stack?.stop();
  });

  function spawnWorker(): Promise<ChildProcess> {
    return spawnWorkerProcess(stack, { HERALD_WEBHOOK_ALLOW_PRIVATE: 'true' }, children);
  }

  it('loses no event, and the receiver processes each once', async () => {
    // The in-process worker stays off: the push and the deliveries run in the child workers.
    await stack.worker?.stop();
    const first = await spawnWorker();
    const app = await stack.newApp();
    const api = client(stack.url, app.apiKey);
    const total = 2500;
    await seedAccounts(stack.database.sql, app.id, total, { prefix: 'k' });
    let secret: string | undefined;
    // The receiver processes a batch at once and answers 3 s later: the kill falls in between.
    const receiver = await startReceiver(() => secret, { holdMs: 3000 });
    receivers.push(receiver);
    const endpoint = await api<{ id: string; secret: string }>('POST', '/v1/webhooks', {
      url: receiver.url,
      eventTypes: ['recipient.opened'],
    });
    secret = endpoint.body.secret;
    const push = await api<{ id: string }>('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text: 'open me' }] },
      retentionSeconds: 600,
    });
    await waitFor(
      async () => (await api<{ status: string }>('GET', `/v1/pushes/${push.body.id}`)).body.status,
      (s) => s === 'completed',
      60_000,
      'the push completed',
    );
    // Every account reports an open, as native apps would.
    const engage = client(stack.url);
    for (let i = 0; i < total; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, total - i) }, async (_, j) => {
          const { token } = await mintUserToken({
            appId: app.id,
            secretKey: app.secretKey,
            accountId: `k${i + j + 1}`,
            ttlSeconds: 600,
          });
          const r = await engage(
            'POST',
            '/v1/engagement',
            { pushId: push.body.id, event: 'opened', channel: 'fcm' },
            {
              authorization: `Bearer ${token}`,
            },
          );
          expect(r.status).toBe(200);
        }),
      );
    }
    await waitFor(
      async () => receiver.messages.length,
      (n) => n >= 1,
      30_000,
      'the first batch processed',
    );
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const attemptsAtKill = receiver.attempts;
    receiver.setHold(0);
    await spawnWorker();
    const events = await waitFor(
      async () => receiver.events(),
      (e) => e.length >= total,
      90_000,
      'every open after the kill',
    );
    expect(receiver.failures).toEqual([]);
    expect(events).toHaveLength(total);
    expect(new Set(events.map((e) => e.id)).size).toBe(total);
    expect(new Set(events.map((e) => e.data.accountId)).size).toBe(total);
    // The batch in flight at the kill was sent again, under the same webhook-id, and processed once.
    expect(receiver.attempts).toBeGreaterThan(receiver.messages.length);
    expect(attemptsAtKill).toBeGreaterThanOrEqual(1);
    expect(Math.max(...receiver.messages.map((m) => m.events.length))).toBeLessThanOrEqual(1000);
  }, 240_000);
});
