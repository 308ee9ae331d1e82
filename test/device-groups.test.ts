import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import { registerDevice } from '../db/devices.ts';
import { channelOf } from '../delivery/registry.ts';
import { type FakeApns, fakeApnsToken } from '../fakes/apns.ts';
import { type FakeFcm, fakeFcmToken } from '../fakes/fcm.ts';
import { type FakesStack, startStackWithFakes } from './support/fakes-stack.ts';
import { client, type TestStack, waitFor } from './support/stack.ts';

// Tokens registered with one deviceId are one device: one token per channel, one notification per push, through
// the channel that is not a fallback (FCM) while the device has a live one.

let fakes: FakesStack;
let stack: TestStack;
let apns: FakeApns;
let fcm: FakeFcm;
let app: CreatedApp;
let api: ReturnType<typeof client>;

const t = {
  a1: fakeApnsToken(),
  f1: fakeFcmToken(),
  a2: fakeApnsToken(),
  f2: fakeFcmToken(),
  a3: fakeApnsToken(),
  f3: fakeFcmToken(),
  f4old: fakeFcmToken(),
  f4: fakeFcmToken(),
};

type Device = { platform: string; token: string; deviceId: string | null };
type Push = { id: string; status: string; counters: Record<string, unknown> };

const register = (account: string, platform: 'apns' | 'fcm', token: string, deviceId?: string) =>
  api<{ device: Device }>(
    'PUT',
    `/v1/accounts/${account}/devices/${platform}/${encodeURIComponent(token)}`,
    deviceId === undefined ? {} : { deviceId },
  );

async function pushAndWait(): Promise<Push> {
  const created = await api<Push>('POST', '/v1/pushes', {
    message: { elements: [{ type: 'text', text: 'Hello' }] },
    offline: { title: 'News' },
    retentionSeconds: 60,
  });
  expect(created.status).toBe(201);
  return waitFor(
    () => api<Push>('GET', `/v1/pushes/${created.body.id}`).then((r) => r.body),
    (p) => p.status === 'completed',
    30_000,
    'completed',
  );
}

beforeAll(async () => {
  fakes = await startStackWithFakes({ topic: 'com.example.groups', projectId: 'herald-groups' });
  ({ stack, apns, fcm } = fakes);
  app = await stack.newApp();
  api = client(stack.url, app.apiKey);
  expect((await api('PUT', '/v1/apps/current/credentials/apns', fakes.apnsKey.credentials)).status).toBe(200);
  const sa = fakes.serviceAccount.credentials(fcm.tokenUri).serviceAccount;
  expect((await api('PUT', '/v1/apps/current/credentials/fcm', { serviceAccount: sa })).status).toBe(200);
  await api('POST', '/v1/accounts', { accounts: ['g1', 'g2', 'g3', 'g4'].map((id) => ({ id })) });

  // g1: one phone with an APNs and an FCM token. g2: the same, but its APNs token is dead.
  expect((await register('g1', 'fcm', t.f1, 'phone-1')).status).toBe(201);
  expect((await register('g1', 'apns', t.a1, 'phone-1')).status).toBe(201);
  await register('g2', 'apns', t.a2, 'phone-2');
  await register('g2', 'fcm', t.f2, 'phone-2');
  apns.deadTokens.add(t.a2);
  // g3: two tokens without a device id are two devices.
  await register('g3', 'apns', t.a3);
  await register('g3', 'fcm', t.f3);
  // g4: a new FCM token of the same phone replaces the old one.
  await register('g4', 'fcm', t.f4old, 'phone-4');
  await register('g4', 'fcm', t.f4, 'phone-4');
});

afterAll(async () => {
  await fakes?.stop();
});

describe('a device with tokens of several channels', () => {
  it('holds one token per channel and lists its device id', async () => {
    const g4 = await api<{ devices: Device[] }>('GET', '/v1/accounts/g4/devices');
    expect(g4.body.devices).toEqual([expect.objectContaining({ token: t.f4, deviceId: 'phone-4' })]);
    const g3 = await api<{ devices: Device[] }>('GET', '/v1/accounts/g3/devices');
    expect(g3.body.devices.map((d) => d.deviceId)).toEqual([null, null]);
  });

  it('gets one notification per push, through the channel that is not the fallback', async () => {
    const done = await pushAndWait();
    expect(apns.received.map((r) => r.token).sort()).toEqual([t.a1, t.a3].sort());
    expect(fcm.received.map((r) => r.token).sort()).toEqual([t.f3, t.f4].sort());
    // g2's APNs token was tried, refused and disabled; its FCM token waits for the next push.
    expect(done.counters).toMatchObject({
      apns: { sent: 2, failed: 1, tokensDisabled: 1 },
      fcm: { sent: 2, failed: 0, tokensDisabled: 0 },
    });
  });

  it('falls back to FCM once the other token of the device is disabled', async () => {
    apns.received.length = 0;
    fcm.received.length = 0;
    await pushAndWait();
    expect(apns.received.map((r) => r.token).sort()).toEqual([t.a1, t.a3].sort());
    expect(fcm.received.map((r) => r.token).sort()).toEqual([t.f2, t.f3, t.f4].sort());
  });

  it('refuses a malformed device id with a 400 that names it', async () => {
    const bad = await register('g1', 'fcm', fakeFcmToken(), 'has space');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('deviceId');
  });

  it('counts a device once against the account cap', async () => {
    const { db } = stack.database;
    const platformOf = (name: 'apns' | 'fcm') => channelOf(name);
    await registerDevice(db, app.id, {
      accountId: 'cap',
      platform: platformOf('apns'),
      token: fakeApnsToken(),
    });
    // Two tokens of one phone, then a second phone: with a cap of 2 devices nothing goes.
    const phone = { accountId: 'cap', deviceId: 'cap-phone' };
    await registerDevice(db, app.id, { ...phone, platform: platformOf('fcm'), token: fakeFcmToken() });
    const r = await registerDevice(
      db,
      app.id,
      { ...phone, platform: platformOf('apns'), token: fakeApnsToken() },
      { maxDevices: 2 },
    );
    expect(r.evicted).toEqual([]);
    // A third device evicts the least recently updated one: the token without a device id.
    const third = await registerDevice(
      db,
      app.id,
      { accountId: 'cap', platform: platformOf('fcm'), token: fakeFcmToken() },
      { maxDevices: 2 },
    );
    expect(third.evicted).toHaveLength(1);
    expect(third.evicted[0]?.platform).toBe('apns');
    const left = await api<{ devices: Device[] }>('GET', '/v1/accounts/cap/devices');
    expect(left.body.devices.filter((d) => d.deviceId === 'cap-phone')).toHaveLength(2);
  });
});
