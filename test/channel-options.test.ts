import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeApns, fakeApnsToken } from '../fakes/apns.ts';
import { type FakeFcm, fakeFcmToken } from '../fakes/fcm.ts';
import { type FakesStack, startStackWithFakes } from './support/fakes-stack.ts';
import { client, type TestStack, waitFor } from './support/stack.ts';

// Each channel gets the common offline fields plus its own options, never another channel's: checked end to
// end, through the real clients, on what the APNs and FCM fakes received.

const topic = 'com.example.herald';
let fakes: FakesStack;
let apnsKey: FakesStack['apnsKey'];
let serviceAccount: FakesStack['serviceAccount'];
const apnsToken = fakeApnsToken();
const fcmToken = fakeFcmToken();

let apns: FakeApns;
let fcm: FakeFcm;
let stack: TestStack;
let api: ReturnType<typeof client>;

type Push = { id: string; status: string; counters: Record<string, { sent: number }> };

beforeAll(async () => {
  fakes = await startStackWithFakes({ topic, projectId: 'herald-options' });
  ({ stack, apns, fcm, apnsKey, serviceAccount } = fakes);
  const app = await stack.newApp({ minPushIntervalMs: 0 });
  api = client(stack.url, app.apiKey);
  expect((await api('PUT', '/v1/apps/current/credentials/apns', apnsKey.credentials)).status).toBe(200);
  const sa = serviceAccount.credentials(fcm.tokenUri).serviceAccount;
  expect((await api('PUT', '/v1/apps/current/credentials/fcm', { serviceAccount: sa })).status).toBe(200);
  await api('POST', '/v1/accounts', { accounts: [{ id: 'ios' }, { id: 'android' }] });
  await api('PUT', `/v1/accounts/ios/devices/apns/${apnsToken}`, { environment: 'production' });
  await api('PUT', `/v1/accounts/android/devices/fcm/${encodeURIComponent(fcmToken)}`);
});

afterAll(async () => {
  await fakes?.stop();
});

/** Pushes to both accounts and returns what each fake received for that push. */
async function pushBoth(offline: Record<string, unknown>) {
  const created = await api<Push>('POST', '/v1/pushes', {
    message: { elements: [{ type: 'text', text: 'Hello' }] },
    offline,
  });
  expect(created.status).toBe(201);
  await waitFor(
    () => api<Push>('GET', `/v1/pushes/${created.body.id}`).then((r) => r.body),
    (p) => p.status === 'completed' && p.counters.apns?.sent === 1 && p.counters.fcm?.sent === 1,
    30_000,
    'both notifications sent',
  );
  const toApple = apns.received.find((r) => (r.payload as { aps?: unknown }).aps && r.token === apnsToken);
  const toGoogle = fcm.received.find(
    (r) => (r.message.data as { pushId?: string }).pushId === created.body.id,
  );
  apns.received.length = 0;
  if (!toApple || !toGoogle) throw new Error('a fake received nothing');
  return { toApple, toGoogle };
}

describe('per-channel offline options', () => {
  it('sends APNs its own options and FCM the common fields plus its own', async () => {
    const { toApple, toGoogle } = await pushBoth({
      title: 'Common title',
      apns: { title: 'Apple title', priority: 'normal', collapseId: 'apple-collapse', sound: 'apple.caf' },
      android: { sound: 'droid.mp3', collapseKey: 'droid-collapse', priority: 'high' },
    });

    expect(toApple.headers).toMatchObject({ 'apns-priority': '5', 'apns-collapse-id': 'apple-collapse' });
    expect(toApple.payload).toMatchObject({
      aps: { alert: { title: 'Apple title', body: 'Hello' }, sound: 'apple.caf' },
    });

    expect(toGoogle.message.notification).toEqual({ title: 'Common title', body: 'Hello' });
    expect(toGoogle.message.android).toMatchObject({
      priority: 'HIGH',
      collapse_key: 'droid-collapse',
      notification: { sound: 'droid.mp3' },
    });
  });

  it('keeps Android options away from APNs', async () => {
    const { toApple, toGoogle } = await pushBoth({
      android: { sound: 'droid.mp3', collapseKey: 'droid-collapse', priority: 'normal' },
    });

    expect(toApple.headers['apns-priority']).toBe('10');
    expect(toApple.headers).not.toHaveProperty('apns-collapse-id');
    expect(toApple.payload).toEqual({ aps: { alert: { body: 'Hello' } }, pushId: expect.any(String) });

    expect(toGoogle.message.android).toMatchObject({
      priority: 'NORMAL',
      collapse_key: 'droid-collapse',
      notification: { sound: 'droid.mp3' },
    });
  });

  it('keeps APNs options away from FCM', async () => {
    const { toGoogle } = await pushBoth({
      apns: {
        title: 'Apple title',
        subtitle: 'Apple subtitle',
        image: 'https://example.com/a.png',
        mutableContent: true,
        collapseId: 'apple-collapse',
        priority: 'normal',
        sound: 'apple.caf',
      },
    });

    expect(toGoogle.message.notification).toEqual({ body: 'Hello' });
    expect(toGoogle.message.android).toEqual({ ttl: '0s', priority: 'HIGH' });
  });
});
