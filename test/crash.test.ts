import type { ChildProcess } from 'node:child_process';
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

let stack: TestStack;
let fcm: FakeFcm;
/** The FCM fake's certificate, trusted by the worker children through NODE_EXTRA_CA_CERTS. */
const caFile = path.join(tmpdir(), `herald-crash-test-ca-${process.pid}.pem`);
const children: ChildProcess[] = [];

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await fcm?.close();
  rmSync(caFile, { force: true });
  await stack?.stop();
});

/** `herald worker` in a child process, on the stack's task queue, sending FCM to the fake. */
function spawnWorker(): Promise<ChildProcess> {
  return spawnWorkerProcess(
    stack,
    {
      HERALD_PAGE_SIZE: '100',
      FCM_URL: fcm.url,
      HERALD_ALLOWED_TOKEN_URIS: fcm.tokenUri,
      NODE_EXTRA_CA_CERTS: caFile,
    },
    children,
  );
}

type Push = {
  id: string;
  status: string;
  counters: { audience: number; storedOffline: number; fcm: { sent: number } };
};

it('a worker killed mid-fan-out is replaced; every recipient is stored once and no batch is sent twice', async () => {
  const account = generateServiceAccount('crash-test');
  fcm = await startFakeFcm({
    projectId: 'crash-test',
    clientEmail: account.clientEmail,
    publicKey: account.publicKey,
    latencyMs: 30,
  });
  writeFileSync(caFile, fcm.ca);
  const app = await stack.newApp();
  await stack.database
    .sql`update apps set channel_credentials = jsonb_build_object('fcm', ${JSON.stringify(account.credentials(fcm.tokenUri))}::jsonb) where id = ${app.id}`;
  const total = 6000;
  await seedAccounts(stack.database.sql, app.id, total, { deviceEvery: 2 });
  const api = client(stack.url, app.apiKey);

  const first = await spawnWorker();
  const created = await api<Push>('POST', '/v1/pushes', {
    message: { elements: [{ type: 'text', text: 'survive this' }] },
    retentionSeconds: 600,
  });
  const read = () => api<Push>('GET', `/v1/pushes/${created.body.id}`).then((r) => r.body);
  await waitFor(
    async () => fcm.received.length,
    (n) => n >= 500,
    60_000,
    'the fan-out under way',
  );
  expect(fcm.received.length).toBeLessThan(total / 2);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));

  await spawnWorker();
  const done = await waitFor(read, (p) => p.status === 'completed', 120_000, 'completed after the crash');

  expect(done.counters.audience).toBe(total);
  expect(done.counters.storedOffline).toBe(total);
  const [rows] = await stack.database.sql<{ stored: number; all: number }[]>`
    select count(*) filter (where state = 0)::int as stored, count(*)::int as all
    from push_recipients where push_id = ${created.body.id}`;
  expect(rows).toEqual({ stored: total, all: total });

  const tokens = fcm.received.map((r) => r.token);
  expect(new Set(tokens).size).toBe(tokens.length);
  // At most once: the pages in flight at the kill (up to PAGES_IN_FLIGHT of 100 recipients, 50 with a token
  // each, in each of the worker's PAGE_RANGES_PER_WORKER ranges) may have lost their notifications, never
  // doubled them.
  const inFlight = PAGE_RANGES_PER_WORKER * PAGES_IN_FLIGHT * 50;
  expect(tokens.length).toBeLessThanOrEqual(total / 2);
  expect(tokens.length).toBeGreaterThanOrEqual(total / 2 - inFlight);
  // The page in flight at the kill may have been sent without its counter being written: never more.
  expect(done.counters.fcm.sent).toBeLessThanOrEqual(tokens.length);
  expect(done.counters.fcm.sent).toBeGreaterThanOrEqual(tokens.length - inFlight);
}, 240_000);
