import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import { revokeUserTokens } from '../db/sessions.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';
import { tencentClient } from './support/tencent.ts';
import { type ReceivedEvent, type Receiver, startReceiver } from './support/webhook-receiver.ts';
import { TestSocket } from './support/ws.ts';

// Webhooks end to end on the real stack: endpoints through the REST API, events written with the state changes,
// delivered by the endpoint's workflow to a local receiver that verifies every signature with the Standard
// Webhooks library; engagement in over the socket and over REST; the funnel.
let stack: TestStack;
const receivers: Receiver[] = [];
const sockets: TestSocket[] = [];

beforeAll(async () => {
  stack = await startTestStack({ env: { HERALD_WEBHOOK_ALLOW_PRIVATE: 'true' } });
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  for (const r of receivers) await r.close();
  await stack?.stop();
});

type Push = {
  id: string;
  status: string;
  counters: { opened: number; clicked: number; openRate: number | null; clickRate: number | null };
};
type Endpoint = {
  id: string;
  status: string;
  secret?: string;
  eventTypes: string[];
  disabledReason: string | null;
  failingSince: string | null;
  lastFailure: string | null;
};

async function setup(eventTypes: string[] = ['*']) {
  const app: CreatedApp = await stack.newApp();
  const api = client(stack.url, app.apiKey);
  let secret: string | undefined;
  const receiver = await startReceiver(() => secret);
  receivers.push(receiver);
  const created = await api<Endpoint>('POST', '/v1/webhooks', { url: receiver.url, eventTypes });
  expect(created.status).toBe(201);
  secret = created.body.secret;
  const token = async (accountId: string) =>
    (await api<{ token: string }>('POST', `/v1/accounts/${accountId}/token`, { ttlSeconds: 3600 })).body
      .token;
  const push = async (text: string, retentionSeconds = 600) => {
    const r = await api<Push>('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text }] },
      retentionSeconds,
    });
    expect(r.status).toBe(201);
    return r.body;
  };
  const completed = (id: string) =>
    waitFor(
      async () => (await api<Push>('GET', `/v1/pushes/${id}`)).body,
      (p) => p.status === 'completed',
      30_000,
      `push ${id} completed`,
    );
  const eventsOf = (pushId: string) => receiver.events().filter((e) => e.data.pushId === pushId);
  const waitForEvents = (what: string, ok: (events: ReceivedEvent[]) => boolean, timeoutMs = 30_000) =>
    waitFor(async () => receiver.events(), ok, timeoutMs, what);
  return { app, api, receiver, endpoint: created.body, token, push, completed, eventsOf, waitForEvents };
}

const typesOf = (events: ReceivedEvent[]) => events.map((e) => e.type);

describe('webhook endpoints', () => {
  it('creates an endpoint with its secret shown once; lists, reads, changes and deletes it', async () => {
    const { api, endpoint } = await setup(['push.*', 'recipient.opened']);
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(endpoint.eventTypes).toEqual([
      'push.created',
      'push.started',
      'push.completed',
      'push.canceled',
      'push.recalled',
      'push.failed',
      'push.expired',
      'recipient.opened',
    ]);
    const read = await api<Endpoint>('GET', `/v1/webhooks/${endpoint.id}`);
    expect(read.status).toBe(200);
    expect(read.body.secret).toBeUndefined();
    expect(
      (await api<{ webhooks: Endpoint[] }>('GET', '/v1/webhooks')).body.webhooks.map((w) => w.id),
    ).toEqual([endpoint.id]);
    const patched = await api<Endpoint>('PATCH', `/v1/webhooks/${endpoint.id}`, {
      eventTypes: ['push.completed'],
    });
    expect(patched.body.eventTypes).toEqual(['push.completed']);
    // The secret is stored sealed, never as it was shown.
    const [row] = await stack.database.sql<{ secret: string }[]>`
      select secret from webhook_endpoints where id = ${endpoint.id}`;
    expect(row?.secret).toMatch(/^hsec1:/);
    expect(row?.secret).not.toContain(endpoint.secret?.slice(6) ?? '-');
    expect((await api('DELETE', `/v1/webhooks/${endpoint.id}`)).status).toBe(204);
    expect((await api('GET', `/v1/webhooks/${endpoint.id}`)).status).toBe(404);
  });

  it('refuses bad input with a code that says what to fix', async () => {
    const app = await stack.newApp();
    const api = client(stack.url, app.apiKey);
    const bad = async (body: unknown) =>
      (await api<{ error: { code: string; message: string } }>('POST', '/v1/webhooks', body)).body.error;
    expect(await bad({ url: 'ftp://example.com/x', eventTypes: ['*'] })).toMatchObject({
      code: 'invalid_request',
    });
    expect(await bad({ url: 'https://u:p@example.com/x', eventTypes: ['*'] })).toMatchObject({
      code: 'invalid_request',
    });
    expect(await bad({ url: 'https://example.com/x', eventTypes: [] })).toMatchObject({
      code: 'invalid_request',
    });
    expect((await bad({ url: 'https://example.com/x', eventTypes: ['push.exploded'] })).message).toMatch(
      /^eventTypes\.0: must be an event type/,
    );
    for (let i = 0; i < 10; i++)
      expect(
        (await api('POST', '/v1/webhooks', { url: `https://example.com/${i}`, eventTypes: ['push.*'] }))
          .status,
      ).toBe(201);
    expect(await bad({ url: 'https://example.com/11', eventTypes: ['*'] })).toMatchObject({
      code: 'webhook_limit',
    });
    // Another app sees none of them.
    const other = client(stack.url, (await stack.newApp()).apiKey);
    expect((await other<{ webhooks: unknown[] }>('GET', '/v1/webhooks')).body.webhooks).toEqual([]);
  });
});

describe('events', () => {
  it('a push’s lifecycle and per-recipient events arrive signed, in order, each once', async () => {
    const t = await setup();
    await t.api('POST', '/v1/accounts', { accounts: [{ id: 'a1' }, { id: 'a2' }, { id: 'a3' }] });
    const socket = await TestSocket.open(stack.wsUrl, await t.token('a1'));
    sockets.push(socket);
    await socket.synced();
    const push = await t.push('hello webhooks');
    const frame = await socket.frame('message', (f) => f.id === push.id);
    socket.send({ type: 'ack', id: frame.id });
    await t.completed(push.id);
    // a2 was offline: it fetches its stored copy when it connects.
    const later = await TestSocket.open(stack.wsUrl, await t.token('a2'));
    sockets.push(later);
    await later.frame('message', (f) => f.id === push.id);
    const events = await t.waitForEvents('the push’s events', (e) =>
      ['push.created', 'push.started', 'push.completed', 'recipient.acked', 'recipient.synced'].every(
        (type) => e.some((x) => x.type === type && x.data.pushId === push.id),
      ),
    );
    expect(
      t
        .eventsOf(push.id)
        .filter((e) => e.type === 'recipient.synced')
        .map((e) => e.data.accountId),
    ).toEqual(['a2']);
    expect(t.receiver.failures).toEqual([]);
    const mine = t.eventsOf(push.id);
    const order = typesOf(mine);
    expect(order.indexOf('push.created')).toBe(0);
    expect(order.indexOf('push.started')).toBe(1);
    expect(order.indexOf('recipient.delivered_online')).toBeGreaterThan(1);
    expect(order.indexOf('recipient.acked')).toBeGreaterThan(order.indexOf('recipient.delivered_online'));
    expect(mine.filter((e) => e.type === 'recipient.delivered_online').map((e) => e.data.accountId)).toEqual([
      'a1',
    ]);
    const completed = mine.find((e) => e.type === 'push.completed');
    expect(completed?.data).toMatchObject({
      pushId: push.id,
      status: 'completed',
      counters: { audience: 3, deliveredOnline: 1, acked: 1 },
    });
    // Every event once, with an id of its own.
    const ids = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => /^evt_[0-9a-f]{32}$/.test(id))).toBe(true);
  });

  it('opens and clicks over the socket and over REST are counted once per account and push', async () => {
    const t = await setup(['recipient.opened', 'recipient.clicked']);
    await t.api('POST', '/v1/accounts', {
      accounts: [{ id: 'o1' }, { id: 'o2' }, { id: 'o3' }, { id: 'o4' }],
    });
    const socket = await TestSocket.open(stack.wsUrl, await t.token('o1'));
    sockets.push(socket);
    await socket.synced();
    const push = await t.push('open me');
    await socket.frame('message', (f) => f.id === push.id);
    await t.completed(push.id);

    socket.send({ type: 'opened', id: push.id, ref: 'r1' });
    expect(await socket.frame('ok', (f) => f.ref === 'r1')).toMatchObject({
      found: true,
      counted: { opened: true, clicked: false },
    });
    socket.send({ type: 'opened', id: push.id, ref: 'r2' });
    expect(await socket.frame('ok', (f) => f.ref === 'r2')).toMatchObject({ counted: { opened: false } });
    socket.send({ type: 'clicked', id: push.id, action: 'buy', ref: 'r3' });
    expect(await socket.frame('ok', (f) => f.ref === 'r3')).toMatchObject({
      counted: { opened: false, clicked: true },
    });

    // A native app that showed the FCM notification reports with its user token.
    const engage = async (token: string | undefined, body: unknown) =>
      client(stack.url)<{ counted?: { opened: boolean; clicked: boolean }; error?: { code: string } }>(
        'POST',
        '/v1/engagement',
        body,
        token ? { authorization: `Bearer ${token}` } : {},
      );
    const o2 = await t.token('o2');
    const clicked = await engage(o2, { pushId: push.id, event: 'clicked', channel: 'fcm', action: 'open' });
    expect(clicked).toMatchObject({ status: 200, body: { counted: { opened: true, clicked: true } } });
    expect((await engage(o2, { pushId: push.id, event: 'clicked', channel: 'fcm' })).body.counted).toEqual({
      opened: false,
      clicked: false,
    });
    expect(
      (await engage(await t.token('o3'), { pushId: push.id, event: 'opened', channel: 'apns' })).status,
    ).toBe(200);
    expect((await engage(undefined, { pushId: push.id, event: 'opened', channel: 'fcm' })).status).toBe(401);
    expect((await engage('not-a-token', { pushId: push.id, event: 'opened', channel: 'fcm' })).status).toBe(
      401,
    );
    expect(
      (await engage(o2, { pushId: '00000000-0000-7000-8000-000000000000', event: 'opened', channel: 'fcm' }))
        .body.error?.code,
    ).toBe('not_found');
    // The app key is no user token.
    expect((await engage(t.app.apiKey, { pushId: push.id, event: 'opened', channel: 'fcm' })).status).toBe(
      401,
    );
    // A kicked account's tokens report nothing more (the v4 kick revokes them: db/sessions.ts).
    await revokeUserTokens(stack.database.db, t.app.id, 'o2');
    const kicked = await engage(o2, { pushId: push.id, event: 'opened', channel: 'fcm' });
    expect(kicked.status).toBe(401);
    expect(kicked.body.error?.code).toBe('unauthorized');

    const report = (await t.api<Push>('GET', `/v1/pushes/${push.id}`)).body;
    expect(report.counters).toMatchObject({ opened: 3, clicked: 2 });
    // Delivered: o1 online; nobody else was reached (no devices): rates are over what was delivered.
    expect(report.counters.openRate).toBe(3);
    const funnel = await t.api<Record<string, unknown>>('GET', `/v1/pushes/${push.id}/funnel`);
    expect(funnel.status).toBe(200);
    expect(funnel.body).toMatchObject({
      audience: 4,
      delivered: { total: 1, online: 1, synced: 0, providers: { apns: 0, fcm: 0 } },
      opened: 3,
      clicked: 2,
      byChannel: {
        online: { delivered: 1, opened: 1, clicked: 1 },
        fcm: { delivered: 0, opened: 1, clicked: 1 },
        apns: { delivered: 0, opened: 1, clicked: 0 },
      },
    });

    // Tencent's push statistics are filled from the same counters.
    const v4 = tencentClient(stack.url, t.app);
    const now = Math.floor(Date.now() / 1000);
    const stats = await v4('timpush/all_member_push_statistics', {
      StartTime: now - 3600,
      EndTime: now + 60,
      TaskID: [push.id, 'no-such-task'],
    });
    expect(stats).toMatchObject({
      ActionStatus: 'OK',
      Results: [{ TaskID: push.id, TotalCount: 4, SentCount: 1, DeliveredCount: 1, ClickCount: 2 }],
    });
    expect(
      await v4('timpush/all_member_push_statistics', { StartTime: now - 3600, EndTime: now + 60 }),
    ).toMatchObject({ TotalCount: 4, DeliveredCount: 1, ClickCount: 2 });
    expect(
      (await v4('timpush/all_member_push_statistics', { StartTime: now, EndTime: now - 1 })).ActionStatus,
    ).toBe('FAIL');

    const events = await t.waitForEvents('the engagement events', (e) => e.length >= 5);
    expect(events.map((e) => [e.type, e.data.accountId])).toEqual([
      ['recipient.opened', 'o1'],
      ['recipient.clicked', 'o1'],
      ['recipient.opened', 'o2'],
      ['recipient.clicked', 'o2'],
      ['recipient.opened', 'o3'],
    ]);
    expect(events[1]?.data).toMatchObject({ channel: 'online', action: 'buy' });
  });

  it('an endpoint that fails (500s, timeouts, connection refused) gets every event once after it recovers, in order per push', async () => {
    const t = await setup(['push.*']);
    await t.api('POST', '/v1/accounts', { accounts: [{ id: 'f1' }] });
    t.receiver.setMode('500');
    const first = await t.push('while failing 1', 0);
    await t.completed(first.id);
    await waitFor(
      async () => (await t.api<Endpoint>('GET', `/v1/webhooks/${t.endpoint.id}`)).body,
      (e) => e.failingSince !== null && e.lastFailure === 'HTTP 500',
      30_000,
      'the failure seen',
    );
    t.receiver.setMode('hang');
    const second = await t.push('while failing 2', 0);
    await t.completed(second.id);
    await waitFor(
      async () => (await t.api<Endpoint>('GET', `/v1/webhooks/${t.endpoint.id}`)).body.lastFailure,
      (f) => f === 'no answer within 10 s',
      60_000,
      'a timed-out attempt',
    );
    await t.receiver.stop();
    t.receiver.setMode('ok');
    const third = await t.push('while refused', 0);
    await t.completed(third.id);
    await waitFor(
      async () => (await t.api<Endpoint>('GET', `/v1/webhooks/${t.endpoint.id}`)).body.lastFailure ?? '',
      (f) => f.startsWith('ECONNREFUSED'),
      60_000,
      'a refused connection',
    );
    expect(t.receiver.messages).toEqual([]);
    await t.receiver.start();
    // Cuts the backoff short, as an operator who fixed the endpoint would.
    expect((await t.api('PATCH', `/v1/webhooks/${t.endpoint.id}`, { enabled: true })).status).toBe(200);
    const events = await t.waitForEvents(
      'every event after recovery',
      (e) => e.filter((x) => x.type === 'push.completed').length === 3,
      60_000,
    );
    expect(t.receiver.failures).toEqual([]);
    const ids = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of [first, second, third])
      expect(typesOf(t.eventsOf(p.id)).filter((x) => x !== 'push.expired')).toEqual([
        'push.created',
        'push.started',
        'push.completed',
      ]);
    const state = (await t.api<Endpoint>('GET', `/v1/webhooks/${t.endpoint.id}`)).body;
    expect(state).toMatchObject({ status: 'enabled', failingSince: null, lastFailure: null });
  }, 180_000);

  it('a replay sends a time range again, with the original event ids', async () => {
    const t = await setup(['push.created']);
    const from = new Date(Date.now() - 1000).toISOString();
    const a = await t.push('replay 1', 0);
    const b = await t.push('replay 2', 0);
    await t.waitForEvents('two created events', (e) => e.length === 2);
    const to = new Date(Date.now() + 1000).toISOString();
    const replay = await t.api<Endpoint>('POST', `/v1/webhooks/${t.endpoint.id}/replay`, { from, to });
    expect(replay.status).toBe(202);
    await waitFor(
      async () => t.receiver.messages.filter((m) => m.replay).length,
      (n) => n === 1,
      30_000,
      'the replay',
    );
    const replayed = t.receiver.messages.filter((m) => m.replay).flatMap((m) => m.events);
    expect(replayed.map((e) => e.data.pushId)).toEqual([a.id, b.id]);
    expect(replayed.map((e) => e.id)).toEqual(
      t.receiver.messages.filter((m) => !m.replay).flatMap((m) => m.events.map((e) => e.id)),
    );
    const bad = await t.api<{ error: { code: string } }>('POST', `/v1/webhooks/${t.endpoint.id}/replay`, {
      from: to,
      to: from,
    });
    expect(bad.status).toBe(400);
  });
});

describe('failing for good', () => {
  let failing: TestStack;
  beforeAll(async () => {
    failing = await startTestStack({
      env: { HERALD_WEBHOOK_ALLOW_PRIVATE: 'true', HERALD_WEBHOOK_GIVE_UP_SECONDS: '10' },
    });
  });
  afterAll(async () => {
    await failing?.stop();
  });

  it('an endpoint with no 2xx for the whole retry window is disabled, and says why', async () => {
    const app = await failing.newApp();
    const api = client(failing.url, app.apiKey);
    const receiver = await startReceiver(() => undefined);
    receivers.push(receiver);
    receiver.setMode('500');
    const created = await api<Endpoint>('POST', '/v1/webhooks', {
      url: receiver.url,
      eventTypes: ['push.created'],
    });
    await api('POST', '/v1/pushes', { message: { elements: [{ type: 'text', text: 'x' }] } });
    const disabled = await waitFor(
      async () => (await api<Endpoint>('GET', `/v1/webhooks/${created.body.id}`)).body,
      (e) => e.status === 'disabled',
      60_000,
      'the endpoint disabled',
    );
    expect(disabled.disabledReason).toMatch(
      /^no 2xx answer for 10 s of retries \(failing since .*\); last failure: HTTP 500$/,
    );
    expect(receiver.attempts).toBeGreaterThanOrEqual(3);
  }, 90_000);
});
