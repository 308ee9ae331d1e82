import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RecipientState } from '../db/schema.ts';
import { recordingProviders } from './support/recorder.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';
import { TestSocket } from './support/ws.ts';

// Issue #12 defect 3: a live send that fails falls back to what an offline recipient gets (the stored copy
// when there is one, the provider notification), at most once; and a stopping api finishes its fan-outs first.
let stack: TestStack;
const providers = recordingProviders();
const sockets: TestSocket[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  stack = await startTestStack({ providers: providers.registry, gateway: { heartbeatMs: 1000 } });
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await Promise.all(sockets.map((s) => s.close()));
  await stack?.stop();
});

type Push = {
  id: string;
  status: string;
  counters: {
    audience: number;
    deliveredOnline: number;
    storedOffline: number;
    syncedLater: number;
    acked: number;
    fcm: { sent: number };
  };
};

async function fresh() {
  const app = await stack.newApp();
  const api = client(stack.url, app.apiKey);
  const token = async (id: string) =>
    (await api<{ token: string }>('POST', `/v1/accounts/${id}/token`, { ttlSeconds: 3600 })).body.token;
  const device = (id: string) => `fcm-${app.id}-${id}`;
  return {
    app,
    api,
    device,
    async accounts(ids: string[], withDevice: boolean) {
      expect((await api('POST', '/v1/accounts', { accounts: ids.map((id) => ({ id })) })).status).toBe(200);
      if (withDevice)
        for (const id of ids)
          expect([200, 201]).toContain(
            (await api('PUT', `/v1/accounts/${id}/devices/fcm/${device(id)}`, {})).status,
          );
    },
    async connect(id: string, url = stack.wsUrl) {
      const s = await TestSocket.open(url, await token(id));
      sockets.push(s);
      await s.synced();
      return s;
    },
    async push(retentionSeconds: number) {
      const r = await api<Push>('POST', '/v1/pushes', {
        message: { elements: [{ type: 'text', text: 'hello' }] },
        retentionSeconds,
      });
      expect(r.status).toBe(201);
      return r.body;
    },
    completed: (id: string) =>
      waitFor(
        async () => (await api<Push>('GET', `/v1/pushes/${id}`)).body,
        (p) => p.status === 'completed',
        60_000,
        `push ${id} completed`,
      ),
    /** Notifications recorded for this app's devices of these accounts, per account. */
    notified(pushId: string, ids: string[]) {
      return Object.fromEntries(
        ids.map((id) => [
          id,
          providers.sent.filter((s) => s.token === device(id) && s.notification.pushId === pushId).length,
        ]),
      );
    },
  };
}

/**
 * A socket whose TCP died without a close: a gateway that is alive (its heartbeat is fresh) still lists the
 * account as connected, but nothing there will ever write the frame.
 */
async function ghostPresence(appId: string, accountIds: string[]): Promise<string> {
  const gatewayId = `ghost-${randomUUID()}`;
  await stack.database.sql`insert into gateways (id) values (${gatewayId})`;
  for (const a of accountIds)
    await stack.database.sql`
      insert into presence (gateway_id, app_id, account_id, connections) values (${gatewayId}, ${appId}, ${a}, 1)`;
  return gatewayId;
}

const stateOf = async (pushId: string, accountId: string) =>
  (
    await stack.database.sql<{ state: number }[]>`
      select state from push_recipients where push_id = ${pushId} and account_id = ${accountId}`
  )[0]?.state;

describe('live-send fallback', () => {
  it('retention 0: an account whose live send failed gets exactly one notification; nothing is stored', async () => {
    const t = await fresh();
    await t.accounts(['ghost', 'away', 'here'], true);
    const ghostGw = await ghostPresence(t.app.id, ['ghost']);
    const here = await t.connect('here');
    const p = await t.push(0);
    const done = await t.completed(p.id);
    expect(here.messages().filter((m) => m.pushId === p.id)).toHaveLength(1);
    // The offline account by its page, the ghost by the fallback, the connected one not at all.
    expect(t.notified(p.id, ['ghost', 'away', 'here'])).toEqual({ ghost: 1, away: 1, here: 0 });
    expect(done.counters).toMatchObject({
      audience: 3,
      deliveredOnline: 1,
      storedOffline: 0,
      fcm: { sent: 2 },
    });
    expect(await stateOf(p.id, 'ghost')).toBe(RecipientState.pending);
    // Retention 0 stores nothing: the ghost connecting for real now gets no copy.
    await stack.database.sql`delete from gateways where id = ${ghostGw}`;
    const late = await t.connect('ghost');
    expect(late.messages().filter((m) => m.pushId === p.id)).toHaveLength(0);
    expect(t.notified(p.id, ['ghost'])).toEqual({ ghost: 1 });
  });

  it('retention > 0: the stored copy is synced on reconnect, plus one notification', async () => {
    const t = await fresh();
    await t.accounts(['ghost2'], true);
    const ghostGw = await ghostPresence(t.app.id, ['ghost2']);
    const p = await t.push(3600);
    const done = await t.completed(p.id);
    expect(t.notified(p.id, ['ghost2'])).toEqual({ ghost2: 1 });
    expect(done.counters).toMatchObject({ audience: 1, deliveredOnline: 0, fcm: { sent: 1 } });
    await stack.database.sql`delete from gateways where id = ${ghostGw}`;
    const s = await t.connect('ghost2');
    expect(s.messages().filter((m) => m.pushId === p.id)).toHaveLength(1);
    expect(await stateOf(p.id, 'ghost2')).toBe(RecipientState.synced);
    const after = (await t.api<Push>('GET', `/v1/pushes/${p.id}`)).body;
    expect(after.counters).toMatchObject({ syncedLater: 1, fcm: { sent: 1 } });
    expect(t.notified(p.id, ['ghost2'])).toEqual({ ghost2: 1 });
  });
});

/** An api in a child process on the stack's database and task queue, with small live chunks. */
function spawnApi(): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/support/api-process.ts')], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: inject('databaseUrl'),
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_TASK_QUEUE: stack.config.TEMPORAL_TASK_QUEUE,
      HERALD_ROOT_KEY: stack.config.HERALD_ROOT_KEY ?? '',
      HERALD_TEST_GATEWAY: JSON.stringify({ liveChunk: 2, heartbeatMs: 1000 }),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      const m = /api ready (\S+)/.exec(d.toString());
      if (m?.[1]) resolve({ child, url: `${m[1].replace(/^http/, 'ws')}/v1/connect`, exited });
    });
    child.once('exit', (code) => reject(new Error(`api exited early (${code})`)));
  });
}

describe('an api process that goes away mid-fan-out', () => {
  it('SIGKILL: its clients with devices get the notification, once; the counters equal the rows', async () => {
    const t = await fresh();
    const ids = Array.from({ length: 60 }, (_, i) => `k${i}`);
    await t.accounts(ids, true);
    const api2 = await spawnApi();
    const clients = await Promise.all(ids.map((id) => t.connect(id, api2.url)));
    const p = await t.push(0);
    await Promise.any(
      clients.map((c) => c.until('a frame', () => c.messages().find((m) => m.pushId === p.id))),
    );
    api2.child.kill('SIGKILL');
    await api2.exited;
    const done = await t.completed(p.id);
    const notified = t.notified(p.id, ids);
    const gotFrame = new Set(ids.filter((_, i) => clients[i]?.messages().some((m) => m.pushId === p.id)));
    const rows = await stack.database.sql<{ account_id: string; state: number }[]>`
      select account_id, state from push_recipients where push_id = ${p.id}`;
    const state = new Map(rows.map((r) => [r.account_id, r.state]));
    for (const id of ids) {
      // No device notified twice; a row marked delivered was written to its socket; every client has it.
      expect(notified[id]).toBeLessThanOrEqual(1);
      if (state.get(id) === RecipientState.online) expect(gotFrame.has(id)).toBe(true);
      else expect(notified[id]).toBe(1);
    }
    const online = rows.filter((r) => r.state === RecipientState.online).length;
    const sent = Object.values(notified).reduce((a, b) => a + b, 0);
    expect(online + sent).toBe(ids.length);
    expect(done.counters).toMatchObject({ audience: ids.length, deliveredOnline: online, fcm: { sent } });
    // The kill landed mid-fan-out: some clients never got the frame, and the fallback notified them.
    expect(gotFrame.size).toBeLessThan(ids.length);
  });

  it('SIGTERM: every connected client gets the message before its 1001 close; the process exits 0', async () => {
    const t = await fresh();
    const ids = Array.from({ length: 60 }, (_, i) => `s${i}`);
    await t.accounts(ids, false);
    const api2 = await spawnApi();
    const clients = await Promise.all(ids.map((id) => t.connect(id, api2.url)));
    const p = await t.push(0);
    await Promise.any(
      clients.map((c) => c.until('a frame', () => c.messages().find((m) => m.pushId === p.id))),
    );
    api2.child.kill('SIGTERM');
    expect(await api2.exited).toBe(0);
    for (const c of clients) {
      await c.until('the close', () => c.closed);
      expect(c.closed?.code).toBe(1001);
      const at = c.frames.findIndex((f) => f.type === 'message' && f.pushId === p.id);
      expect(at).toBeGreaterThanOrEqual(0);
    }
    const done = await t.completed(p.id);
    expect(done.counters.deliveredOnline).toBe(ids.length);
  });
});
