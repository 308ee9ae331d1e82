import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHandle, startApi } from '../cli/api.ts';
import { createLogger } from '../core/log.ts';
import { mintUserToken } from '../core/user-token.ts';
import { connectDatabase, type Database } from '../db/client.ts';
import { createRecipientPartition } from '../db/recipients.ts';
import { RecipientState } from '../db/schema.ts';
import { postgresBus } from '../delivery/bus.ts';
import { gatewayStore } from '../gateway/store.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';
import { type Frame, TestSocket } from './support/ws.ts';

let stack: TestStack;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  stack = await startTestStack({ gateway: { authTimeoutMs: 1000, heartbeatMs: 1000 } });
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await stack?.stop();
});

type Push = {
  id: string;
  status: string;
  expiresAt: string | null;
  counters: {
    audience: number;
    deliveredOnline: number;
    storedOffline: number;
    syncedLater: number;
    acked: number;
    withdrawn: number;
  };
};

/** A fresh app per test, so "all" means the accounts the test made. */
async function fresh() {
  const app = await stack.newApp();
  const api = client(stack.url, app.apiKey);
  const token = async (accountId: string, ttlSeconds = 3600): Promise<string> => {
    const r = await api<{ token: string }>('POST', `/v1/accounts/${accountId}/token`, { ttlSeconds });
    expect(r.status).toBe(200);
    return r.body.token;
  };
  const getPush = async (id: string) => (await api<Push>('GET', `/v1/pushes/${id}`)).body;
  return {
    app,
    api,
    token,
    getPush,
    /** A connected, synced socket for the account. */
    async connect(accountId: string, opts: { via?: 'protocol' | 'query' | 'frame'; url?: string } = {}) {
      const s = await TestSocket.open(
        opts.url ?? stack.wsUrl,
        await token(accountId),
        opts.via ?? 'protocol',
      );
      sockets.push(s);
      await s.synced();
      return s;
    },
    async importAccounts(...ids: string[]) {
      const r = await api('POST', '/v1/accounts', { accounts: ids.map((id) => ({ id })) });
      expect(r.status).toBe(200);
    },
    async push(text: string, retentionSeconds: number, extra: Record<string, unknown> = {}) {
      const r = await api<Push>('POST', '/v1/pushes', {
        message: { elements: [{ type: 'text', text }] },
        retentionSeconds,
        ...extra,
      });
      expect(r.status).toBe(201);
      return r.body;
    },
    completed: (id: string) =>
      waitFor(
        () => getPush(id),
        (p) => p.status === 'completed',
        30_000,
        `push ${id} completed`,
      ),
  };
}

const messagesFor = (s: TestSocket, pushId: string) => s.messages().filter((m) => m.pushId === pushId);
const states = async (pushId: string) =>
  Object.fromEntries(
    (
      await stack.database.sql<{ account_id: string; state: number }[]>`
        select account_id, state from push_recipients where push_id = ${pushId}`
    ).map((r) => [r.account_id, r.state]),
  );

describe('live delivery', () => {
  it('delivers a push at once to every connected device and counts it as delivered online', async () => {
    const t = await fresh();
    await t.importAccounts('alice', 'bob', 'carol');
    const alicePhone = await t.connect('alice', { via: 'protocol' });
    const aliceLaptop = await t.connect('alice', { via: 'query' });
    const bob = await t.connect('bob', { via: 'frame' });
    expect(alicePhone.frames[0]).toMatchObject({
      type: 'welcome',
      protocol: 'herald.v1',
      appId: t.app.id,
      accountId: 'alice',
    });

    const p = await t.push('Live!', 600, {
      message: { elements: [{ type: 'text', text: 'Live!' }], from: 'news' },
    });
    for (const s of [alicePhone, aliceLaptop, bob]) {
      const m = await s.frame('message', (f) => f.pushId === p.id);
      expect(m).toMatchObject({
        id: p.id,
        pushId: p.id,
        elements: [{ type: 'text', text: 'Live!' }],
        from: 'news',
        sentAt: expect.any(String),
        expiresAt: expect.any(String),
      });
    }
    const done = await t.completed(p.id);
    expect(done.counters).toMatchObject({ audience: 3, deliveredOnline: 2, storedOffline: 1 });
    const st = await states(p.id);
    expect(st).toMatchObject({ alice: 1, bob: 1 });
    // Still pending: the kept copy for an offline account.
    expect(st.carol).toBe(RecipientState.pending);
    // Each device got it exactly once.
    expect(messagesFor(alicePhone, p.id)).toHaveLength(1);
    expect(messagesFor(aliceLaptop, p.id)).toHaveLength(1);
  });

  it('a push that goes out while devices connect reaches each of them exactly once', async () => {
    const t = await fresh();
    const ids = Array.from({ length: 12 }, (_, i) => `racer${i}`);
    await t.importAccounts(...ids);
    const tokens = await Promise.all(ids.map((id) => t.token(id)));
    const pending = t.push('racing', 600);
    const racers = await Promise.all(
      ids.map(async (_, i) => {
        await new Promise((r) => setTimeout(r, i * 40));
        const s = await TestSocket.open(stack.wsUrl, tokens[i]);
        sockets.push(s);
        await s.synced();
        return s;
      }),
    );
    const p = await pending;
    await t.completed(p.id);
    for (const s of racers) await s.frame('message', (f) => f.pushId === p.id);
    await new Promise((r) => setTimeout(r, 300));
    for (const s of racers) expect(messagesFor(s, p.id)).toHaveLength(1);
    // Every copy went out over a socket, live or in the sync: none is left waiting.
    for (const state of Object.values(await states(p.id))) expect([1, 3]).toContain(state);
  });

  it('records presence per gateway and a login that makes a new account eligible', async () => {
    const t = await fresh();
    const s = await t.connect('newcomer');
    const [account] = await stack.database.sql<{ logged_in: boolean }[]>`
      select last_login_at is not null as logged_in from accounts
      where app_id = ${t.app.id} and account_id = 'newcomer'`;
    expect(account?.logged_in).toBe(true);
    const rows = await stack.database.sql<{ gateway_id: string; connections: number }[]>`
      select gateway_id, connections from presence where app_id = ${t.app.id} and account_id = 'newcomer'`;
    expect(rows).toEqual([{ gateway_id: stack.api.gateway.id, connections: 1 }]);
    const second = await t.connect('newcomer');
    const [two] = await stack.database.sql<{ connections: number }[]>`
      select connections from presence where app_id = ${t.app.id} and account_id = 'newcomer'`;
    expect(two?.connections).toBe(2);
    const [gw] = await stack.database.sql<{ age: number }[]>`
      select extract(epoch from now() - heartbeat_at)::float as age from gateways where id = ${stack.api.gateway.id}`;
    expect(gw?.age).toBeLessThan(30);
    await s.close();
    await second.close();
    await waitFor(
      () => stack.database.sql`select 1 from presence where app_id = ${t.app.id} and account_id = 'newcomer'`,
      (r) => r.length === 0,
      5000,
      'presence removed',
    );
    // A push to everyone now includes the account that only ever logged in.
    const p = await t.push('welcome aboard', 60);
    expect((await t.completed(p.id)).counters.audience).toBe(1);
  });

  it('answers pings and says what is wrong with a frame', async () => {
    const t = await fresh();
    const s = await t.connect('pinger');
    s.send({ type: 'ping', ref: 'p1' });
    expect(await s.frame('pong')).toMatchObject({ ref: 'p1', serverTime: expect.any(String) });
    s.send({ type: 'nonsense', ref: 'x' });
    expect(await s.frame('error', (f) => f.ref === 'x')).toMatchObject({ code: 'unknown_type' });
    s.send({ type: 'ack', ref: 'y' });
    expect(await s.frame('error', (f) => f.ref === 'y')).toMatchObject({ code: 'invalid_frame' });
    s.ws.send('not json');
    expect(await s.closedWith()).toMatchObject({ code: 4400 });
  });
});

describe('sync on connect', () => {
  it('gives an offline account its stored copy once; acked, it never comes again on any device', async () => {
    const t = await fresh();
    await t.importAccounts('dora');
    const p = await t.push('while away', 600);
    expect((await t.completed(p.id)).counters).toMatchObject({ storedOffline: 1, syncedLater: 0 });
    expect((await states(p.id)).dora).toBe(RecipientState.pending);

    const first = await t.connect('dora');
    const synced = first.frames.find((f) => f.type === 'synced') as Frame;
    expect(synced).toMatchObject({ count: 1 });
    expect(messagesFor(first, p.id)).toHaveLength(1);
    expect(first.frames.indexOf(messagesFor(first, p.id)[0] as Frame)).toBeLessThan(
      first.frames.indexOf(synced),
    );
    expect((await t.getPush(p.id)).counters.syncedLater).toBe(1);
    expect((await states(p.id)).dora).toBe(3);

    first.send({ type: 'ack', ids: [p.id], ref: 'a1' });
    expect(await first.frame('ok', (f) => f.ref === 'a1')).toMatchObject({ acked: 1 });
    expect((await states(p.id)).dora).toBe(4);
    expect((await t.getPush(p.id)).counters.acked).toBe(1);
    await first.close();

    const again = await t.connect('dora');
    const otherDevice = await t.connect('dora', { via: 'query' });
    expect(messagesFor(again, p.id)).toHaveLength(0);
    expect(messagesFor(otherDevice, p.id)).toHaveLength(0);
    expect(again.frames.find((f) => f.type === 'synced')).toMatchObject({ count: 0 });
  });

  it('offers a delivered but unacked message again on the next connection, oldest first', async () => {
    const t = await fresh();
    await t.importAccounts('emil');
    const older = await t.push('one', 600);
    await t.completed(older.id);
    const newer = await t.push('two', 600);
    await t.completed(newer.id);
    const first = await t.connect('emil');
    expect(first.messages().map((m) => m.id)).toEqual([older.id, newer.id]);
    await first.close();
    const second = await t.connect('emil');
    expect(second.messages().map((m) => m.id)).toEqual([older.id, newer.id]);
    second.send({ type: 'ack', ids: [older.id, newer.id], ref: 'both' });
    expect(await second.frame('ok', (f) => f.ref === 'both')).toMatchObject({ acked: 2 });
    await second.close();
    const third = await t.connect('emil');
    expect(third.messages()).toHaveLength(0);
  });

  it('does not keep a push with retention 0 for accounts that were offline', async () => {
    const t = await fresh();
    await t.importAccounts('fred', 'gina');
    const gina = await t.connect('gina');
    const p = await t.push('now or never', 0);
    expect((await gina.frame('message', (f) => f.pushId === p.id)).expiresAt).toBeNull();
    await t.completed(p.id);
    const fred = await t.connect('fred');
    expect(messagesFor(fred, p.id)).toHaveLength(0);
    expect((await t.getPush(p.id)).counters).toMatchObject({
      deliveredOnline: 1,
      storedOffline: 0,
      syncedLater: 0,
    });
  });

  it('gives nothing once the retention has passed', async () => {
    const t = await fresh();
    await t.importAccounts('hugo', 'hanna');
    const p = await t.push('short-lived', 4);
    const done = await t.completed(p.id);
    // Within retention an offline account gets it…
    const hanna = await t.connect('hanna');
    expect(messagesFor(hanna, p.id)).toHaveLength(1);
    // …after it, nobody does.
    const wait = Date.parse(done.expiresAt as string) - Date.now() + 300;
    await new Promise((r) => setTimeout(r, Math.max(wait, 0)));
    const hugo = await t.connect('hugo');
    expect(messagesFor(hugo, p.id)).toHaveLength(0);
  });
});

describe('recall', () => {
  it('reaches connected clients, and a recalled push is not synced later', async () => {
    const t = await fresh();
    await t.importAccounts('ida', 'ivo');
    const ida = await t.connect('ida');
    const p = await t.push('oops', 600);
    await ida.frame('message', (f) => f.pushId === p.id);
    await t.completed(p.id);
    const r = await t.api('POST', `/v1/pushes/${p.id}/recall`);
    expect(r.status).toBe(202);
    expect(await ida.frame('recall', (f) => f.pushId === p.id)).toMatchObject({ id: p.id });
    await waitFor(
      () => t.getPush(p.id),
      (x) => x.counters.withdrawn >= 1,
      10_000,
      'withdrawn counted',
    );
    const ivo = await t.connect('ivo');
    expect(messagesFor(ivo, p.id)).toHaveLength(0);
  });
});

describe('two api processes', () => {
  let second: ApiHandle;
  let db2: Database;
  let url2: string;

  beforeAll(async () => {
    db2 = connectDatabase(stack.config.DATABASE_URL as string, 3);
    second = await startApi({
      config: stack.config,
      database: db2,
      temporal: stack.temporal,
      log: createLogger('silent'),
    });
    url2 = `${second.url.replace(/^http/, 'ws')}/v1/connect`;
  });
  afterAll(async () => {
    await second?.stop();
    await db2?.close();
  });

  it('delivers one push to clients on both, including one account on both', async () => {
    const t = await fresh();
    await t.importAccounts('jan', 'jo', 'jules');
    const jan = await t.connect('jan');
    const jo = await t.connect('jo', { url: url2 });
    const julesA = await t.connect('jules');
    const julesB = await t.connect('jules', { url: url2 });
    const p = await t.push('everywhere', 600);
    for (const s of [jan, jo, julesA, julesB]) await s.frame('message', (f) => f.pushId === p.id);
    const done = await t.completed(p.id);
    expect(done.counters).toMatchObject({ audience: 3, deliveredOnline: 3, storedOffline: 0 });
    expect(messagesFor(julesA, p.id)).toHaveLength(1);
    expect(messagesFor(julesB, p.id)).toHaveLength(1);
  });

  it('a stopping api closes its sockets with 1001 and forgets its presence', async () => {
    const t = await fresh();
    const third = await startApi({
      config: stack.config,
      database: db2,
      temporal: stack.temporal,
      log: createLogger('silent'),
    });
    const s = await t.connect('kai', { url: `${third.url.replace(/^http/, 'ws')}/v1/connect` });
    const before = await stack.database.sql`select 1 from presence where gateway_id = ${third.gateway.id}`;
    expect(before).toHaveLength(1);
    await third.stop();
    expect(await s.closedWith()).toMatchObject({ code: 1001 });
    expect(await stack.database.sql`select 1 from gateways where id = ${third.gateway.id}`).toHaveLength(0);
    expect(
      await stack.database.sql`select 1 from presence where gateway_id = ${third.gateway.id}`,
    ).toHaveLength(0);
  });
});

describe('authentication', () => {
  const refused = async (
    t: string | undefined,
    via: 'protocol' | 'query' | 'frame' | 'none' = 'protocol',
  ) => {
    const s = await TestSocket.open(stack.wsUrl, t, via);
    sockets.push(s);
    return s.closedWith();
  };

  it('refuses a missing, malformed, badly signed or expired token with 4001', async () => {
    const { app } = await fresh();
    expect(await refused('not-a-token')).toMatchObject({ code: 4001 });
    expect(await refused(undefined, 'none')).toMatchObject({
      code: 4001,
      reason: expect.stringContaining('token_missing'),
    });
    const forged = await mintUserToken({
      appId: app.id,
      secretKey: 'f'.repeat(64),
      accountId: 'x',
      ttlSeconds: 60,
    });
    expect(await refused(forged.token, 'query')).toMatchObject({
      code: 4001,
      reason: expect.stringContaining('signature'),
    });
    const expired = await mintUserToken({
      appId: app.id,
      secretKey: app.secretKey,
      accountId: 'x',
      ttlSeconds: 60,
      now: new Date(Date.now() - 3600_000),
    });
    expect(await refused(expired.token, 'frame')).toMatchObject({ code: 4001, reason: 'token_expired' });
    // Refused connections record no login.
    expect(await stack.database.sql`select 1 from accounts where app_id = ${app.id}`).toHaveLength(0);
  });

  it('refuses a token of an unknown app, or naming an impossible account, with 4003', async () => {
    const { app } = await fresh();
    const t = await mintUserToken({
      appId: randomUUID(),
      secretKey: app.secretKey,
      accountId: 'x',
      ttlSeconds: 60,
    });
    expect(await refused(t.token)).toMatchObject({ code: 4003 });
    const long = await mintUserToken({
      appId: app.id,
      secretKey: app.secretKey,
      accountId: 'x'.repeat(33),
      ttlSeconds: 60,
    });
    expect(await refused(long.token)).toMatchObject({ code: 4003 });
  });

  it('closes a connection with 4001 when its token expires', async () => {
    const { app } = await fresh();
    const t = await mintUserToken({
      appId: app.id,
      secretKey: app.secretKey,
      accountId: 'brief',
      ttlSeconds: 2,
    });
    const s = await TestSocket.open(stack.wsUrl, t.token);
    sockets.push(s);
    await s.synced();
    expect(await s.closedWith(10_000)).toMatchObject({ code: 4001, reason: 'token_expired' });
  });

  it('keeps apps apart: a push of one app never reaches another app’s sockets', async () => {
    const mine = await fresh();
    const other = await fresh();
    await other.importAccounts('alice');
    const socket = await mine.connect('alice');
    const p = await other.push('other app', 60);
    await other.completed(p.id);
    expect(messagesFor(socket, p.id)).toHaveLength(0);
  });
});

describe('slow consumers', () => {
  it('drops a client that stops reading with 4008 without holding up the others', async () => {
    const slowStack = await startTestStack({
      worker: false,
      gateway: { maxBufferedBytes: 256 * 1024, closeGraceMs: 8_000 },
    });
    try {
      const a = await slowStack.newApp();
      const mint = async (id: string) =>
        (await mintUserToken({ appId: a.id, secretKey: a.secretKey, accountId: id, ttlSeconds: 600 })).token;
      const wsUrl = slowStack.wsUrl;
      const slow = await TestSocket.open(wsUrl, await mint('slow'));
      const fast = await TestSocket.open(wsUrl, await mint('fast'));
      sockets.push(slow, fast);
      await slow.synced();
      await fast.synced();
      slow.ws.pause();

      // Pushes as the workflow leaves them after its snapshot, ~256 KB each, announced on the bus.
      const sql = slowStack.database.sql;
      const big = 'x'.repeat(256 * 1024);
      const bus = postgresBus(sql);
      const ids: string[] = [];
      for (let i = 0; i < 80; i++) {
        const id = randomUUID();
        ids.push(id);
        await sql`
          insert into pushes (app_id, id, status, message, offline, retention_seconds, workflow_id,
            snapshot_at, expires_at, audience_count)
          values (${a.id}, ${id}, 'running', ${JSON.stringify({ elements: [{ type: 'custom', data: big }] })}::jsonb,
            '{"push": false}'::jsonb, 600, ${`fixture-${id}`}, now(), now() + interval '10 minutes', 2)`;
        await createRecipientPartition(slowStack.database.db, id);
        await sql`
          insert into push_recipients (push_id, account_seq, account_id)
          select ${id}, seq, account_id from accounts where app_id = ${a.id} and account_id in ('slow', 'fast')`;
        await bus.publish({ type: 'push', appId: a.id, pushId: id });
        if (!(await sql`select 1 from presence where app_id = ${a.id} and account_id = 'slow'`).length) break;
      }
      // The server gave up on the slow socket (it no longer counts as present)…
      await waitFor(
        () => sql`select 1 from presence where app_id = ${a.id} and account_id = 'slow'`,
        (r) => r.length === 0,
        20_000,
        'slow consumer dropped',
      );
      // …while the fast one got every push.
      await fast.until(
        'every push',
        () => (fast.messages().length === ids.length ? true : undefined),
        30_000,
      );
      slow.ws.resume();
      expect(await slow.closedWith(20_000)).toMatchObject({ code: 4008 });
      expect(slow.messages().length).toBeLessThan(ids.length);
    } finally {
      await slowStack.stop();
    }
  }, 90_000);
});

describe('live delivery marks after sending', () => {
  it('counts a copy once as delivered online whether its ack comes before or after the mark', async () => {
    const a = await stack.newApp();
    const sql = stack.database.sql;
    await sql`insert into accounts (app_id, account_id, imported_at)
      values (${a.id}, 'early', now()), (${a.id}, 'late', now()), (${a.id}, 'away', now())`;
    const id = randomUUID();
    await sql`
      insert into pushes (app_id, id, status, message, offline, retention_seconds, workflow_id,
        snapshot_at, expires_at, audience_count)
      values (${a.id}, ${id}, 'running', ${JSON.stringify({ elements: [{ type: 'text', text: 'hi' }] })}::jsonb,
        '{"push": false}'::jsonb, 600, ${`fixture-${id}`}, now(), now() + interval '10 minutes', 3)`;
    await createRecipientPartition(stack.database.db, id);
    await sql`
      insert into push_recipients (push_id, account_seq, account_id)
      select ${id}, seq, account_id from accounts where app_id = ${a.id}`;
    const store = gatewayStore(sql, 'test-gateway');

    const live = await store.liveRecipients(a.id, id, ['early', 'late']);
    expect([...(live?.accounts ?? [])].sort()).toEqual(['early', 'late']);
    // 'early' acks the frame before the gateway marks the chunk; 'late' after.
    expect(await store.ack(a.id, 'early', [id])).toBe(1);
    expect(await store.markDeliveredOnline(a.id, id, ['early', 'late'])).toBe(1);
    expect(await store.ack(a.id, 'late', [id])).toBe(1);
    // Acked copies are not offered again; the one never delivered stays pending.
    expect((await store.liveRecipients(a.id, id, ['early', 'late', 'away']))?.accounts).toEqual(['away']);

    const [row] = await sql<{ delivered_online: number; acked: number }[]>`
      select delivered_online::int, acked::int from pushes where app_id = ${a.id} and id = ${id}`;
    expect(row).toEqual({ delivered_online: 2, acked: 2 });
    const states = await sql<{ account_id: string; state: number }[]>`
      select account_id, state from push_recipients where push_id = ${id} order by account_id`;
    expect(states.map((s) => [s.account_id, s.state])).toEqual([
      ['away', RecipientState.pending],
      ['early', RecipientState.acked],
      ['late', RecipientState.acked],
    ]);
  });
});
