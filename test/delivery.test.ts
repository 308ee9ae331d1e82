import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import { type FakeApns, fakeApnsToken } from '../fakes/apns.ts';
import { type FakeFcm, fakeFcmToken } from '../fakes/fcm.ts';
import { type FakesStack, startStackWithFakes } from './support/fakes-stack.ts';
import { client, type TestStack, waitFor } from './support/stack.ts';
import { TestSocket } from './support/ws.ts';

// One push to every kind of recipient, through the real gateway and the real APNs / FCM clients, against
// local fakes that speak Apple's and Google's protocols.

const topic = 'com.example.herald';
let fakes: FakesStack;
let apnsKey: FakesStack['apnsKey'];
let serviceAccount: FakesStack['serviceAccount'];

let apns: FakeApns;
let fcm: FakeFcm;
let stack: TestStack;
let app: CreatedApp;
let api: ReturnType<typeof client>;
const sockets: TestSocket[] = [];

const tokens = {
  ap1: fakeApnsToken(),
  ap2: fakeApnsToken(),
  ap3: fakeApnsToken(),
  fc1: fakeFcmToken(),
  fc2: fakeFcmToken(),
  fc3: fakeFcmToken(),
  on1: fakeApnsToken(),
  on2: fakeFcmToken(),
};

type Push = {
  id: string;
  status: string;
  expiresAt: string;
  expiredAt: string | null;
  counters: Record<string, unknown>;
};

beforeAll(async () => {
  fakes = await startStackWithFakes({ topic, projectId: 'herald-e2e' });
  ({ stack, apns, fcm, apnsKey, serviceAccount } = fakes);
  app = await stack.newApp();
  api = client(stack.url, app.apiKey);
  expect((await api('PUT', '/v1/apps/current/credentials/apns', apnsKey.credentials)).status).toBe(200);
  const sa = serviceAccount.credentials(fcm.tokenUri).serviceAccount;
  expect((await api('PUT', '/v1/apps/current/credentials/fcm', { serviceAccount: sa })).status).toBe(200);

  const ids = ['on1', 'on2', 'on3', 'ap1', 'ap2', 'ap3', 'fc1', 'fc2', 'fc3', 'none1'];
  await api('POST', '/v1/accounts', { accounts: ids.map((id) => ({ id })) });
  const register = (id: string, platform: 'apns' | 'fcm', token: string) =>
    api('PUT', `/v1/accounts/${id}/devices/${platform}/${encodeURIComponent(token)}`, {
      environment: 'production',
    });
  for (const id of ['ap1', 'ap2', 'ap3'] as const) await register(id, 'apns', tokens[id]);
  for (const id of ['fc1', 'fc2', 'fc3'] as const) await register(id, 'fcm', tokens[id]);
  // Connected accounts have devices too: being online must spare them the provider notification.
  await register('on1', 'apns', tokens.on1);
  await register('on2', 'fcm', tokens.on2);
  apns.deadTokens.add(tokens.ap3);
  fcm.unregistered.add(tokens.fc3);
});

afterAll(async () => {
  for (const s of sockets) await s.close();
  await fakes?.stop();
});

async function connect(accountId: string): Promise<TestSocket> {
  const minted = await api<{ token: string }>('POST', `/v1/accounts/${accountId}/token`, {
    ttlSeconds: 3600,
  });
  const socket = await TestSocket.open(stack.wsUrl, minted.body.token);
  await socket.until('welcome', () => socket.frames.find((f) => f.type === 'welcome'));
  sockets.push(socket);
  return socket;
}

const push = (body: Record<string, unknown>) =>
  api<Push>('POST', '/v1/pushes', { message: { elements: [{ type: 'text', text: 'Hello' }] }, ...body });
const read = (id: string) => api<Push>('GET', `/v1/pushes/${id}`).then((r) => r.body);

describe('a push reaches every kind of recipient', () => {
  let pushId: string;
  let online: TestSocket[];

  it('online over WebSocket, offline through APNs and FCM, each exactly once', async () => {
    online = await Promise.all(['on1', 'on2', 'on3'].map(connect));
    const created = await push({ retentionSeconds: 120, offline: { title: 'News' } });
    expect(created.status).toBe(201);
    pushId = created.body.id;

    for (const s of online) await s.until('the message', () => s.messages().find((m) => m.pushId === pushId));
    const done = await waitFor(
      () => read(pushId),
      (p) => p.status === 'completed',
      30_000,
      'completed',
    );
    expect(done.counters).toMatchObject({
      audience: 10,
      deliveredOnline: 3,
      storedOffline: 7,
      apns: { sent: 2, failed: 1, tokensDisabled: 1 },
      fcm: { sent: 2, failed: 1, tokensDisabled: 1 },
    });

    const apnsTokens = apns.received.map((r) => r.token);
    expect(apnsTokens.sort()).toEqual([tokens.ap1, tokens.ap2].sort());
    expect(fcm.received.map((r) => r.token).sort()).toEqual([tokens.fc1, tokens.fc2].sort());
    expect(apns.exchanges.find((e) => e.token === tokens.ap3)).toMatchObject({
      status: 410,
      reason: 'Unregistered',
    });

    // The provider's expiry is the end of the push's retention.
    const expiresAt = Math.floor(Date.parse(done.expiresAt) / 1000);
    for (const r of apns.received) {
      expect(Number(r.headers['apns-expiration'])).toBe(expiresAt);
      expect(r.headers['apns-topic']).toBe(topic);
      expect(r.payload).toMatchObject({ aps: { alert: { title: 'News', body: 'Hello' } } });
    }
    for (const r of fcm.received) {
      const ttl = Number(String((r.message.android as { ttl: string }).ttl).replace('s', ''));
      expect(ttl).toBeGreaterThan(100);
      expect(ttl).toBeLessThanOrEqual(120);
    }

    const dead = await api<{
      devices: { token: string; disabledAt: string | null; disabledReason: string | null }[];
    }>('GET', '/v1/accounts/ap3/devices');
    expect(dead.body.devices[0]).toMatchObject({
      disabledReason: 'Unregistered',
      disabledAt: expect.any(String),
    });
    const gone = await api<{ devices: { disabledReason: string | null }[] }>(
      'GET',
      '/v1/accounts/fc3/devices',
    );
    expect(gone.body.devices[0]?.disabledReason).toBe('UNREGISTERED');
  });

  it('an offline user who connects later gets the stored copy once, acks it, and never again', async () => {
    const late = await connect('ap1');
    const copy = await late.until('the stored copy', () => late.messages().find((m) => m.pushId === pushId));
    late.send({ type: 'ack', id: copy.id });
    await waitFor(
      () => read(pushId),
      (p) => p.counters.acked === 1,
      10_000,
      'acked',
    );
    await late.close();

    const again = await connect('ap1');
    await again.until('the sync to finish', () => again.frames.find((f) => f.type === 'synced'));
    expect(again.messages().filter((m) => m.pushId === pushId)).toHaveLength(0);
    expect((await read(pushId)).counters).toMatchObject({ syncedLater: 1, acked: 1 });
  });

  it('a recall reaches the connected clients', async () => {
    await api('POST', `/v1/pushes/${pushId}/recall`);
    for (const s of online)
      await s.until('the recall', () => s.frames.find((f) => f.type === 'recall' && f.pushId === pushId));
    const fresh = await connect('ap2');
    await fresh.until('the sync to finish', () => fresh.frames.find((f) => f.type === 'synced'));
    expect(fresh.messages().filter((m) => m.pushId === pushId)).toHaveLength(0);
  });

  it('after retention ends a new connection gets nothing', async () => {
    const short = await push({ retentionSeconds: 2 });
    await waitFor(
      () => read(short.body.id),
      (p) => p.expiredAt !== null,
      30_000,
      'expired',
    );
    const after = await connect('fc1');
    await after.until('the sync to finish', () => after.frames.find((f) => f.type === 'synced'));
    expect(after.messages().filter((m) => m.pushId === short.body.id)).toHaveLength(0);
  });
});
