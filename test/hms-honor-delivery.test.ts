import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import { type FakeHms, fakeHmsToken } from '../fakes/hms.ts';
import { type FakeHonor, fakeHonorToken } from '../fakes/honor.ts';
import { type FakesStack, startStackWithFakes } from './support/fakes-stack.ts';
import { client, type TestStack, waitFor } from './support/stack.ts';
import { tencentClient } from './support/tencent.ts';
import { TestSocket } from './support/ws.ts';

// Pushes through the real gateway and the real Huawei Push Kit and Honor Push clients, against local fakes
// that check Huawei's and Honor's OAuth tokens and request shapes: offline devices get one notification each
// (in batch requests) with the push's expiry and their channel's options, a dead token is disabled, a
// throttled request is retried after the wait the fake asks for, connected recipients get nothing.

let fakes: FakesStack;
let hms: FakeHms;
let honor: FakeHonor;
let stack: TestStack;
let app: CreatedApp;
let api: ReturnType<typeof client>;
const sockets: TestSocket[] = [];
const INTENT = '#Intent;compo=com.example.shop/.OrderActivity;end';

const tokens = {
  hw1: fakeHmsToken(),
  hw2: fakeHmsToken(),
  hw3: fakeHmsToken(),
  ho1: fakeHonorToken(),
  ho2: fakeHonorToken(),
  ho3: fakeHonorToken(),
  on1: fakeHmsToken(),
  on2: fakeHonorToken(),
};

type Push = {
  id: string;
  status: string;
  expiresAt: string;
  counters: Record<string, unknown> & { hms?: { sent: number }; honor?: { sent: number } };
};

beforeAll(async () => {
  fakes = await startStackWithFakes({ topic: 'com.example.herald', projectId: 'herald-vendors' });
  ({ stack, hms, honor } = fakes);
  app = await stack.newApp({ minPushIntervalMs: 0 });
  api = client(stack.url, app.apiKey);
  const hmsBody = { ...fakes.hmsCredentials, clickAction: { type: 'intent', intent: INTENT } };
  expect((await api('PUT', '/v1/apps/current/credentials/hms', hmsBody)).status).toBe(200);
  expect((await api('PUT', '/v1/apps/current/credentials/honor', fakes.honorCredentials)).status).toBe(200);

  const ids = ['on1', 'on2', 'on3', 'hw1', 'hw2', 'hw3', 'ho1', 'ho2', 'ho3'];
  await api('POST', '/v1/accounts', { accounts: ids.map((id) => ({ id })) });
  const register = async (id: string, platform: 'hms' | 'honor', token: string) =>
    expect(
      (await api('PUT', `/v1/accounts/${id}/devices/${platform}/${encodeURIComponent(token)}`)).status,
    ).toBe(201);
  for (const id of ['hw1', 'hw2', 'hw3'] as const) await register(id, 'hms', tokens[id]);
  for (const id of ['ho1', 'ho2', 'ho3'] as const) await register(id, 'honor', tokens[id]);
  // Connected accounts have devices too: being online must spare them the provider notification.
  await register('on1', 'hms', tokens.on1);
  await register('on2', 'honor', tokens.on2);
  hms.invalidTokens.add(tokens.hw3);
  honor.expiredTokens.add(tokens.ho3);
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

const read = (id: string) => api<Push>('GET', `/v1/pushes/${id}`).then((r) => r.body);
const dataOf = (message: Record<string, unknown>) =>
  JSON.parse(String(message.data)) as Record<string, string>;
const reset = () => {
  hms.received.length = 0;
  hms.exchanges.length = 0;
  honor.received.length = 0;
  honor.exchanges.length = 0;
};

describe('Huawei Push Kit and Honor Push, end to end', () => {
  it('shows the credentials without their secrets', async () => {
    const view = await api<{ credentials: Record<string, unknown> }>('GET', '/v1/apps/current');
    expect(view.body.credentials.hms).toEqual({
      clientId: fakes.hmsCredentials.clientId,
      clickAction: { type: 'intent', intent: INTENT },
    });
    expect(view.body.credentials.honor).toEqual({
      appId: fakes.honorCredentials.appId,
      clientId: fakes.honorCredentials.clientId,
    });
    expect(JSON.stringify(view.body)).not.toContain('secret');
  });

  it('refuses a malformed token and unknown options with a 400 that names the field', async () => {
    type Failure = { error: { code: string; message: string } };
    const bad = await api<Failure>('PUT', `/v1/accounts/hw1/devices/hms/${encodeURIComponent('a b')}`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({
      code: 'invalid_device_token',
      message: expect.stringMatching(/Huawei/),
    });
    const wrong = await api<Failure>('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text: 'x' }] },
      offline: { hms: { importance: 'URGENT' } },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.message).toMatch(/^offline\.hms\.importance/);
    const credentials = await api<Failure>('PUT', '/v1/apps/current/credentials/hms', {
      clientId: 'not-digits',
      clientSecret: 's',
    });
    expect(credentials.status).toBe(400);
    expect(credentials.body.error).toMatchObject({
      code: 'invalid_request',
      message: expect.stringMatching(/^clientId: clientId is the App ID/),
    });
  });

  it('sends each offline device one notification in a batch, disables dead tokens, spares connected ones', async () => {
    reset();
    await Promise.all(['on1', 'on2', 'on3'].map(connect));
    const created = await api<Push>('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text: 'Hello' }] },
      retentionSeconds: 120,
      offline: {
        title: 'News',
        ext: '{"orderId":42}',
        hms: { channelId: 'orders', importance: 'NORMAL', category: 'EXPRESS', extAsIntentParams: true },
        honor: { importance: 'NORMAL', tag: 'orders' },
      },
    });
    expect(created.status).toBe(201);
    const done = await waitFor(
      () => read(created.body.id),
      (p) => p.status === 'completed',
      30_000,
      'completed',
    );
    expect(done.counters).toMatchObject({
      audience: 9,
      deliveredOnline: 3,
      storedOffline: 6,
      hms: { sent: 2, failed: 1, tokensDisabled: 1 },
      honor: { sent: 2, failed: 1, tokensDisabled: 1 },
    });

    // One request per channel for the page, each device once, no connected account's device.
    expect(hms.received).toHaveLength(1);
    expect(hms.received[0]?.tokens.sort()).toEqual([tokens.hw1, tokens.hw2].sort());
    expect(hms.exchanges.map((e) => [e.code, e.tokens])).toEqual([['80100000', 3]]);
    expect(honor.received).toHaveLength(1);
    expect(honor.received[0]?.tokens.sort()).toEqual([tokens.ho1, tokens.ho2].sort());

    // The provider's time to live ends with the push's retention.
    const left = (Date.parse(done.expiresAt) - Date.now()) / 1000;
    for (const ttl of [
      (hms.received[0]?.message.android as { ttl?: string } | undefined)?.ttl ?? '',
      (honor.received[0]?.message.android as { ttl?: string } | undefined)?.ttl ?? '',
    ]) {
      const seconds = Number(ttl.replace('s', ''));
      expect(seconds).toBeGreaterThan(left - 30);
      expect(seconds).toBeLessThanOrEqual(120);
    }

    // Each channel's own options, and the credentials' click action with ext as an intent extra.
    expect(hms.received[0]?.message.android).toMatchObject({
      category: 'EXPRESS',
      notification: {
        title: 'News',
        body: 'Hello',
        channel_id: 'orders',
        importance: 'NORMAL',
        click_action: {
          type: 1,
          intent: '#Intent;compo=com.example.shop/.OrderActivity;S.ext=%7B%22orderId%22%3A42%7D;end',
        },
      },
    });
    expect(dataOf(hms.received[0]?.message ?? {})).toEqual({
      ext: '{"orderId":42}',
      pushId: created.body.id,
    });
    expect(honor.received[0]?.message.android).toMatchObject({
      notification: {
        title: 'News',
        body: 'Hello',
        importance: 'NORMAL',
        tag: 'orders',
        clickAction: { type: 3 },
      },
    });
    expect(dataOf(honor.received[0]?.message ?? {})).toEqual({
      ext: '{"orderId":42}',
      pushId: created.body.id,
    });

    const hw3 = await api<{ devices: { disabledReason: string | null }[] }>(
      'GET',
      '/v1/accounts/hw3/devices',
    );
    expect(hw3.body.devices[0]?.disabledReason).toBe('illegal_token');
    const ho3 = await api<{ devices: { disabledReason: string | null }[] }>(
      'GET',
      '/v1/accounts/ho3/devices',
    );
    expect(ho3.body.devices[0]?.disabledReason).toBe('expireToken');
  });

  it('keeps each channel’s options away from the other channels', async () => {
    reset();
    const created = await api<Push>('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text: 'Plain' }] },
      retentionSeconds: 60,
      offline: { android: { channelId: 'fcm-only' }, apns: { title: 'Apple' } },
    });
    await waitFor(
      () => read(created.body.id),
      (p) => p.status === 'completed',
      30_000,
      'completed',
    );
    expect(hms.received[0]?.message.android).toEqual({
      ttl: expect.stringMatching(/^\d+s$/),
      notification: {
        title: 'Plain',
        body: 'Plain',
        default_sound: true,
        click_action: { type: 1, intent: INTENT },
      },
    });
    expect(honor.received[0]?.message.android).toEqual({
      ttl: expect.stringMatching(/^\d+s$/),
      notification: { title: 'Plain', body: 'Plain', clickAction: { type: 3 } },
    });
  });

  it('retries a throttled batch after the wait the provider asks for', async () => {
    reset();
    hms.failNext(1, 503, 2);
    honor.failNext(1, 429, 2);
    const created = await api<Push>('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text: 'Busy' }] },
    });
    const done = await waitFor(
      () => read(created.body.id),
      (p) => p.status === 'completed',
      30_000,
      'completed',
    );
    expect(done.counters).toMatchObject({ hms: { sent: 2, failed: 0 }, honor: { sent: 2, failed: 0 } });
    for (const exchanges of [hms.exchanges, honor.exchanges]) {
      const [throttled, retried] = exchanges;
      expect([429, 503]).toContain(throttled?.status);
      expect(retried?.status).toBe(200);
      expect((retried?.at ?? 0) - (throttled?.at ?? 0)).toBeGreaterThanOrEqual(1950);
    }
  });

  it('honours the Huawei and Honor fields of Tencent’s AndroidInfo', async () => {
    reset();
    const v4 = tencentClient(stack.url, app);
    const r = await v4('all_member_push/im_push', {
      MsgRandom: 4242,
      MsgLifeTime: 60,
      MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'From Tencent' } }],
      OfflinePushInfo: {
        Title: 'Tencent',
        Ext: '{"k":"v"}',
        AndroidInfo: {
          HuaWeiChannelID: 'im',
          HuaWeiImportance: 'NORMAL',
          HuaWeiCategory: 'IM',
          ExtAsHuaweiIntentParam: 1,
          HonorImportance: 'LOW',
        },
      },
    });
    expect(r.ErrorCode).toBe(0);
    const native = await read(r.TaskId as string);
    expect((native as unknown as { offline: unknown }).offline).toMatchObject({
      hms: { channelId: 'im', importance: 'NORMAL', category: 'IM', extAsIntentParams: true },
      honor: { importance: 'LOW' },
    });
    await waitFor(
      () => read(r.TaskId as string),
      (p) => p.status === 'completed',
      30_000,
      'completed',
    );
    expect(hms.received[0]?.message.android).toMatchObject({
      category: 'IM',
      notification: {
        channel_id: 'im',
        importance: 'NORMAL',
        click_action: {
          type: 1,
          intent: '#Intent;compo=com.example.shop/.OrderActivity;S.ext=%7B%22k%22%3A%22v%22%7D;end',
        },
      },
    });
    expect(honor.received[0]?.message.android).toMatchObject({ notification: { importance: 'LOW' } });

    const refused = await v4('all_member_push/im_push', {
      MsgRandom: 4243,
      MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'x' } }],
      OfflinePushInfo: { AndroidInfo: { HuaWeiImportance: 'URGENT' } },
    });
    expect(refused).toMatchObject({ ActionStatus: 'FAIL', ErrorCode: 90010 });
    expect(refused.ErrorInfo).toMatch(/^OfflinePushInfo\.AndroidInfo\.HuaWeiImportance/);
  });
});
