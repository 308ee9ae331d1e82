import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PAGE_RANGES_PER_WORKER, PAGES_IN_FLIGHT } from '../core/tunables.ts';
import { type FakeFcm, startFakeFcm } from '../fakes/fcm.ts';
import { generateServiceAccount } from '../fakes/keys.ts';
import { seedAccounts } from './support/seed.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';
import { spawnWorkerProcess } from './support/worker-child.ts';

// Workers stopping in the middle of a push's offline pages, in child processes: a SIGTERM drains (the page
// activity finishes its page, hands its cursor over, and nothing is lost), and a SIGKILL, twice, loses at
// most the pages in flight each time. A second worker always finishes the push; no device is notified twice.
let stack: TestStack;
let fcm: FakeFcm;
const caFile = path.join(tmpdir(), `herald-worker-faults-ca-${process.pid}.pem`);
const children: ChildProcess[] = [];
const account = generateServiceAccount('worker-faults');

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
  fcm = await startFakeFcm({
    projectId: 'worker-faults',
    clientEmail: account.clientEmail,
    publicKey: account.publicKey,
    // Slow enough that a page is still in flight when a worker is stopped: a page of 50 tokens takes 200 ms.
    latencyMs: 200,
  });
  writeFileSync(caFile, fcm.ca);
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await fcm?.close();
  rmSync(caFile, { force: true });
  await stack?.stop();
});

function spawnWorker(env: Record<string, string> = {}): Promise<ChildProcess> {
  return spawnWorkerProcess(
    stack,
    {
      HERALD_PAGE_SIZE: '100',
      FCM_URL: fcm.url,
      // The fake's token endpoint is not Google's: the operator's allow-list (docs/security.md) names it.
      HERALD_ALLOWED_TOKEN_URIS: fcm.tokenUri,
      NODE_EXTRA_CA_CERTS: caFile,
      ...env,
    },
    children,
  );
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code)),
  );

type Push = {
  id: string;
  status: string;
  counters: { audience: number; storedOffline: number; fcm: { sent: number } };
};

/** An app of `total` accounts, every second with an FCM token on the fake, and a push to all of them. */
async function pushToAll(total: number) {
  const app = await stack.newApp();
  await stack.database
    .sql`update apps set channel_credentials = jsonb_build_object('fcm', ${JSON.stringify(account.credentials(fcm.tokenUri))}::jsonb) where id = ${app.id}`;
  // Account ids (and so tokens) with a prefix of their own: the fake's log holds every test's notifications.
  const prefix = `${randomBytes(4).toString('hex')}-`;
  await seedAccounts(stack.database.sql, app.id, total, { deviceEvery: 2, prefix });
  const api = client(stack.url, app.apiKey);
  const created = await api<Push>('POST', '/v1/pushes', {
    message: { elements: [{ type: 'text', text: 'survive this' }] },
    retentionSeconds: 600,
  });
  expect(created.status).toBe(201);
  const read = () => api<Push>('GET', `/v1/pushes/${created.body.id}`).then((r) => r.body);
  const tokensOf = () => fcm.received.filter((r) => r.token.startsWith(prefix)).map((r) => r.token);
  return { id: created.body.id, read, tokensOf };
}

async function checkRecipients(pushId: string, total: number) {
  const [rows] = await stack.database.sql<{ distinct: number; all: number }[]>`
    select count(distinct account_seq)::int as distinct, count(*)::int as all
    from push_recipients where push_id = ${pushId}`;
  expect(rows).toEqual({ distinct: total, all: total });
}

it('a worker stopped with SIGTERM mid-pages drains and hands over: nothing lost, nothing sent twice', async () => {
  const total = 4000;
  // A short grace time: the page activity is still running when it ends, and is cut off.
  const first = await spawnWorker({ HERALD_SHUTDOWN_GRACE_SECONDS: '0.5' });
  const push = await pushToAll(total);
  await waitFor(
    async () => push.tokensOf().length,
    (n) => n >= 300,
    60_000,
    'the fan-out under way',
  );
  expect(push.tokensOf().length).toBeLessThan(total / 2);
  first.kill('SIGTERM');
  expect(await exited(first)).toBe(0);
  const atStop = push.tokensOf().length;

  const second = await spawnWorker();
  const done = await waitFor(push.read, (p) => p.status === 'completed', 120_000, 'completed after the stop');
  second.kill('SIGTERM');
  expect(await exited(second)).toBe(0);
  expect(push.tokensOf().length).toBeGreaterThan(atStop);
  await checkRecipients(push.id, total);
  const tokens = push.tokensOf();
  expect(new Set(tokens).size).toBe(tokens.length);
  // Drained: the page in flight finished and its counters were written before the worker left.
  expect(tokens.length).toBe(total / 2);
  expect(done.counters.fcm.sent).toBe(total / 2);
}, 240_000);

it('a worker SIGKILLed twice during a 5k push: it completes, one row per recipient, losses within the bound', async () => {
  const total = 5000;
  const push = await pushToAll(total);
  for (const threshold of [400, 1200]) {
    const worker = await spawnWorker();
    await waitFor(
      async () => push.tokensOf().length,
      (n) => n >= threshold,
      60_000,
      `the fan-out past ${threshold}`,
    );
    worker.kill('SIGKILL');
    await exited(worker);
  }
  expect(push.tokensOf().length).toBeLessThan(total / 2);
  await spawnWorker();
  const done = await waitFor(
    push.read,
    (p) => p.status === 'completed',
    120_000,
    'completed after the kills',
  );

  expect(done.counters.audience).toBe(total);
  await checkRecipients(push.id, total);
  const tokens = push.tokensOf();
  expect(new Set(tokens).size).toBe(tokens.length);
  // Each kill may lose the notifications of the pages in flight (PAGES_IN_FLIGHT pages of 100 recipients,
  // 50 with a token each, in each of the worker's PAGE_RANGES_PER_WORKER ranges), never double them.
  const bound = 2 * PAGE_RANGES_PER_WORKER * PAGES_IN_FLIGHT * 50;
  expect(tokens.length).toBeLessThanOrEqual(total / 2);
  expect(tokens.length).toBeGreaterThanOrEqual(total / 2 - bound);
  expect(done.counters.fcm.sent).toBeLessThanOrEqual(tokens.length);
  expect(done.counters.fcm.sent).toBeGreaterThanOrEqual(tokens.length - bound);
}, 300_000);
