import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PAGE_RANGES_PER_WORKER, PAGES_IN_FLIGHT } from '../core/tunables.ts';
import { RecipientState } from '../db/schema.ts';
import { type FakeFcm, startFakeFcm } from '../fakes/fcm.ts';
import { generateServiceAccount } from '../fakes/keys.ts';
import { seedAccounts } from './support/seed.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';
import { spawnWorkerProcess } from './support/worker-child.ts';
import { TestSocket } from './support/ws.ts';

// One push's offline pages over two worker processes on one task queue: its numbered rows in ranges of
// 50 pages of 20, ranges on both workers at once (each worker runs at most one activity, so two ranges in
// flight need both), every device notified once, the counters exact, connected accounts served live. Then one
// worker SIGKILLed mid-push: its ranges resume on the other at their cursors; nothing is sent twice, and only
// the pages in flight at the kill may lose their notifications.
const PAGE = 20;
/** Activities a worker runs at once: the ranges in flight need both workers. */
const PER_WORKER = 1;
let stack: TestStack;
let fcm: FakeFcm;
const caFile = path.join(tmpdir(), `herald-page-ranges-ca-${process.pid}.pem`);
const children: ChildProcess[] = [];
const sockets: TestSocket[] = [];
const account = generateServiceAccount('page-ranges');

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
  fcm = await startFakeFcm({
    projectId: 'page-ranges',
    clientEmail: account.clientEmail,
    publicKey: account.publicKey,
    // A page of 10 tokens takes 100 ms: ranges last long enough to overlap.
    latencyMs: 100,
  });
  writeFileSync(caFile, fcm.ca);
});
afterAll(async () => {
  for (const s of sockets) await s.close();
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await fcm?.close();
  rmSync(caFile, { force: true });
  await stack?.stop();
});

function spawnWorker(): Promise<ChildProcess> {
  return spawnWorkerProcess(
    stack,
    {
      HERALD_PAGE_SIZE: String(PAGE),
      // Unset: the parallelism is sized from the workers polling (PAGE_RANGES_PER_WORKER each).
      HERALD_PAGE_PARALLELISM: '',
      HERALD_TEST_MAX_ACTIVITIES: String(PER_WORKER),
      FCM_URL: fcm.url,
      HERALD_ALLOWED_TOKEN_URIS: fcm.tokenUri,
      NODE_EXTRA_CA_CERTS: caFile,
    },
    children,
  );
}

/** Two new workers, both seen polling the task queue for activities (so the plan counts both). */
async function twoWorkers(): Promise<ChildProcess[]> {
  const workers = [await spawnWorker(), await spawnWorker()];
  // A worker's identity is `<pid>@<host>` (the SDK's default).
  const pids = workers.map((w) => `${w.pid}@`);
  await waitFor(
    async () => {
      const { pollers } = await stack.temporal.workflowService.describeTaskQueue({
        namespace: stack.config.TEMPORAL_NAMESPACE,
        taskQueue: { name: stack.config.TEMPORAL_TASK_QUEUE },
        taskQueueType: 2, // TASK_QUEUE_TYPE_ACTIVITY
      });
      return pids.filter((pid) => (pollers ?? []).some((p) => p.identity?.startsWith(pid))).length;
    },
    (n) => n === 2,
    30_000,
    'both workers polling',
  );
  return workers;
}

type Push = {
  id: string;
  status: string;
  counters: { audience: number; storedOffline: number; deliveredOnline: number; fcm: { sent: number } };
};

/** An app of `total` accounts, every second with an FCM token, `online` of those connected; a push to all. */
async function pushToAll(total: number, online: number) {
  const app = await stack.newApp();
  await stack.database
    .sql`update apps set channel_credentials = jsonb_build_object('fcm', ${JSON.stringify(account.credentials(fcm.tokenUri))}::jsonb) where id = ${app.id}`;
  const prefix = `${randomBytes(4).toString('hex')}-`;
  await seedAccounts(stack.database.sql, app.id, total, { deviceEvery: 2, prefix });
  const api = client(stack.url, app.apiKey);
  // Connected accounts with a token: the live send serves them; no page may notify them.
  const connected = Array.from({ length: online }, (_, i) => `${prefix}${(i + 1) * 2 * 37}`);
  for (const id of connected) {
    const minted = await api<{ token: string }>('POST', `/v1/accounts/${id}/token`, { ttlSeconds: 3600 });
    const socket = await TestSocket.open(stack.wsUrl, minted.body.token);
    await socket.until('welcome', () => socket.frames.find((f) => f.type === 'welcome'));
    sockets.push(socket);
  }
  const created = await api<Push>('POST', '/v1/pushes', {
    message: { elements: [{ type: 'text', text: 'in parallel' }] },
    retentionSeconds: 600,
  });
  expect(created.status).toBe(201);
  const pushId = created.body.id;
  return {
    appId: app.id,
    pushId,
    prefix,
    connected,
    read: () => api<Push>('GET', `/v1/pushes/${pushId}`).then((r) => r.body),
    tokens: () => fcm.received.filter((r) => r.token.startsWith(prefix)).map((r) => r.token),
    /** Account id of a token (`<prefix><n>-…`). */
    owner: (token: string) => token.slice(0, token.indexOf('-', prefix.length)),
  };
}

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];
const ms = (e: HistoryEvent) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;

/** The page-range activities' attempts that completed, from the workflow's history: who ran each, and when. */
async function rangeAttempts(appId: string, pushId: string) {
  const history = await stack.temporal.workflow.getHandle(`push-${appId}-${pushId}`).fetchHistory();
  const events = history.events ?? [];
  const byId = new Map(events.map((e) => [Number(e.eventId), e]));
  const plan = events.find(
    (e) =>
      e.activityTaskCompletedEventAttributes &&
      byId.get(Number(e.activityTaskCompletedEventAttributes.scheduledEventId))
        ?.activityTaskScheduledEventAttributes?.activityType?.name === 'planPageRanges',
  );
  const planned = plan?.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data;
  const attempts = events.flatMap((e) => {
    const done = e.activityTaskCompletedEventAttributes;
    if (!done) return [];
    const scheduled = byId.get(Number(done.scheduledEventId));
    if (scheduled?.activityTaskScheduledEventAttributes?.activityType?.name !== 'deliverOfflinePages')
      return [];
    const started = byId.get(Number(done.startedEventId));
    return [
      {
        identity: started?.activityTaskStartedEventAttributes?.identity ?? '',
        from: started ? ms(started) : 0,
        to: ms(e),
      },
    ];
  });
  return {
    plan: planned
      ? (JSON.parse(Buffer.from(planned).toString('utf8')) as { parallelism: number })
      : undefined,
    attempts,
  };
}

/** Rows by state, and whether every range's cursor reached its end (every page claimed). */
async function recipientRows(pushId: string) {
  const sql = stack.database.sql;
  const states = await sql<{ state: number; n: number }[]>`
    select state, count(*)::int as n from push_recipients where push_id = ${pushId} group by state`;
  const [ranges] = await sql<{ n: number; unfinished: number; rows: number }[]>`
    select count(*)::int as n, count(*) filter (where cursor <> last_row)::int as unfinished,
      coalesce(sum(last_row - first_row + 1), 0)::int as rows
    from push_page_ranges where push_id = ${pushId}`;
  return { states: Object.fromEntries(states.map((r) => [r.state, r.n])), ranges };
}

it('one push, two workers: ranges run on both at once; every device once, counters and copies exact', async () => {
  const total = 4000;
  const online = 12;
  const workers = await twoWorkers();
  const push = await pushToAll(total, online);
  const done = await waitFor(push.read, (p) => p.status === 'completed', 180_000, 'the push completed');

  // Every connected account got it live; none of them through FCM.
  for (const s of sockets.slice(-online))
    await s.until('the live message', () => s.messages().find((m) => m.pushId === push.pushId));
  const tokens = push.tokens();
  expect(new Set(tokens).size).toBe(tokens.length);
  const owners = new Set(tokens.map(push.owner));
  for (const id of push.connected) expect(owners.has(id)).toBe(false);
  expect(tokens).toHaveLength(total / 2 - online);
  expect(done.counters).toMatchObject({
    audience: total,
    storedOffline: total - online,
    deliveredOnline: online,
    fcm: { sent: total / 2 - online },
  });
  // The copies: every offline recipient's row still pending, the connected ones online, nothing owed live.
  const rows = await recipientRows(push.pushId);
  expect(rows.states).toEqual({ [RecipientState.pending]: total - online, [RecipientState.online]: online });
  expect(rows.ranges).toEqual({ n: total / (50 * PAGE), unfinished: 0, rows: total });

  // From the history: the plan counted both workers, and range activities ran on both, at the same time.
  const { plan, attempts } = await rangeAttempts(push.appId, push.pushId);
  expect(plan?.parallelism).toBe(2 * PAGE_RANGES_PER_WORKER);
  const identities = [...new Set(attempts.map((a) => a.identity))];
  expect(identities).toHaveLength(2);
  const [a, b] = identities;
  const overlap = attempts.some(
    (x) => x.identity === a && attempts.some((y) => y.identity === b && x.from < y.to && y.from < x.to),
  );
  expect(overlap).toBe(true);
  for (const w of workers) w.kill('SIGTERM');
}, 300_000);

it('one of two workers SIGKILLed mid-push: the other finishes its ranges; nothing twice, losses within the bound', async () => {
  const total = 4000;
  const [first] = await twoWorkers();
  const push = await pushToAll(total, 0);
  await waitFor(
    async () => push.tokens().length,
    (n) => n >= 600,
    60_000,
    'the fan-out under way',
  );
  first?.kill('SIGKILL');
  const done = await waitFor(push.read, (p) => p.status === 'completed', 180_000, 'completed after the kill');
  expect(done.counters.audience).toBe(total);

  const tokens = push.tokens();
  expect(new Set(tokens).size).toBe(tokens.length);
  // Every page was claimed, once: every range's cursor at its end.
  const rows = await recipientRows(push.pushId);
  expect(rows.ranges).toMatchObject({ unfinished: 0, rows: total });
  // The killed worker ran at most PER_WORKER ranges, each with at most PAGES_IN_FLIGHT pages in flight: only
  // those pages may have lost notifications (claimed, then never sent), and the counters may miss them too.
  const sent = new Set(tokens.map(push.owner));
  const missing = await stack.database.sql<{ page: number }[]>`
    select distinct (row_no - 1) / ${PAGE} as page from push_recipients r
    where r.push_id = ${push.pushId}
      and exists (select 1 from devices d where d.app_id = ${push.appId} and d.account_id = r.account_id)
      and not (r.account_id = any(${[...sent]}::text[]))`;
  const bound = PER_WORKER * PAGES_IN_FLIGHT;
  expect(missing.length).toBeLessThanOrEqual(bound);
  expect(tokens.length).toBeGreaterThanOrEqual(total / 2 - bound * (PAGE / 2));
  expect(done.counters.fcm.sent).toBeLessThanOrEqual(tokens.length);
  expect(done.counters.fcm.sent).toBeGreaterThanOrEqual(tokens.length - bound * (PAGE / 2));
}, 300_000);
