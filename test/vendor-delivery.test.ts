import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import { type FakeOppo, fakeOppoToken } from '../fakes/oppo.ts';
import { type FakeVivo, fakeVivoToken } from '../fakes/vivo.ts';
import { type FakeXiaomi, fakeXiaomiToken } from '../fakes/xiaomi.ts';
import { type FakesStack, startStackWithFakes } from './support/fakes-stack.ts';
import { client, type TestStack, waitFor } from './support/stack.ts';
import { TestSocket } from './support/ws.ts';

// One push to every kind of recipient of the phone makers' channels, through the real gateway, workflow and
// Xiaomi / OPPO / vivo clients, against local fakes that check each vendor's authentication and fields.

let fakes: FakesStack;
let xiaomi: FakeXiaomi;
let oppo: FakeOppo;
let vivo: FakeVivo;
let stack: TestStack;
let app: CreatedApp;
let api: ReturnType<typeof client>;
const sockets: TestSocket[] = [];

const VENDORS = ['xiaomi', 'oppo', 'vivo'] as const;
type Vendor = (typeof VENDORS)[number];
const makeToken: Record<Vendor, () => string> = {
  xiaomi: fakeXiaomiToken,
  oppo: fakeOppoToken,
  vivo: fakeVivoToken,
};
/** Per vendor: two live offline devices, one dead, one on a connected account. */
const tokens = Object.fromEntries(
  VENDORS.map((v) => [
    v,
    { a: makeToken[v](), b: makeToken[v](), dead: makeToken[v](), online: makeToken[v]() },
  ]),
) as Record<Vendor, { a: string; b: string; dead: string; online: string }>;

type Push = { id: string; status: string; expiresAt: string; counters: Record<string, unknown> };

beforeAll(async () => {
  fakes = await startStackWithFakes({ topic: 'com.example.herald', projectId: 'herald-vendors' });
  ({ stack, xiaomi, oppo, vivo } = fakes);
  app = await stack.newApp();
  api = client(stack.url, app.apiKey);
  for (const v of VENDORS) {
    const put = await api('PUT', `/v1/apps/current/credentials/${v}`, fakes.vendorCredentials[v]);
    expect(put.status).toBe(200);
  }
  const accounts = VENDORS.flatMap((v) => ['a', 'b', 'dead', 'online'].map((k) => `${v}-${k}`));
  await api('POST', '/v1/accounts', { accounts: accounts.map((id) => ({ id })) });
  for (const v of VENDORS) {
    for (const k of ['a', 'b', 'dead', 'online'] as const) {
      const r = await api('PUT', `/v1/accounts/${v}-${k}/devices/${v}/${encodeURIComponent(tokens[v][k])}`);
      expect(r.status).toBe(201);
    }
  }
  xiaomi.invalid.add(tokens.xiaomi.dead);
  oppo.invalid.add(tokens.oppo.dead);
  vivo.invalid.add(tokens.vivo.dead);
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

describe('Xiaomi, OPPO and vivo credentials', () => {
  it('are shown without their secrets, and a malformed body is refused', async () => {
    const view = await api<{ credentials: Record<string, unknown> }>('GET', '/v1/apps/current');
    expect(view.body.credentials).toMatchObject({
      xiaomi: { packageName: 'com.example.herald' },
      oppo: { appKey: fakes.vendorCredentials.oppo.appKey },
      vivo: { appId: '10004', appKey: fakes.vendorCredentials.vivo.appKey },
    });
    const text = JSON.stringify(view.body);
    expect(text).not.toContain(fakes.vendorCredentials.xiaomi.appSecret);
    expect(text).not.toContain(fakes.vendorCredentials.oppo.masterSecret);
    expect(text).not.toContain(fakes.vendorCredentials.vivo.appSecret);
    const bad = await api('PUT', '/v1/apps/current/credentials/vivo', {
      appId: 'abc',
      appKey: 'k',
      appSecret: 's',
    });
    expect(bad.status).toBe(400);
    const badToken = await api('PUT', '/v1/accounts/xiaomi-a/devices/xiaomi/a%2Cb');
    expect(badToken.status).toBe(400);
  });
});

describe('a push through the phone makers’ channels', () => {
  it('reaches each offline device once with its expiry and options, disables dead ones, spares connected ones', async () => {
    const online = await Promise.all(VENDORS.map((v) => connect(`${v}-online`)));
    // Each vendor first answers "too frequent" and asks for a second's wait.
    xiaomi.failNext(1, 'throttle', 1);
    oppo.failNext(1, 'throttle', 1);
    vivo.failNext(1, 'throttle', 1);
    const created = await api<Push>('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text: 'Hello' }] },
      retentionSeconds: 7200,
      offline: {
        title: 'News',
        ext: '{"route":"/news"}',
        xiaomi: { channelId: 'mi-im', notifyId: 3 },
        oppo: { channelId: 'oppo-im', category: 'IM', notifyLevel: 2 },
        vivo: { classification: 1, category: 'IM' },
      },
    });
    expect(created.status).toBe(201);
    const pushId = created.body.id;
    for (const s of online) await s.until('the message', () => s.messages().find((m) => m.pushId === pushId));
    const done = await waitFor(
      () => api<Push>('GET', `/v1/pushes/${pushId}`).then((r) => r.body),
      (p) => p.status === 'completed',
      60_000,
      'completed',
    );
    const perVendor = { sent: 2, failed: 1, tokensDisabled: 1 };
    expect(done.counters).toMatchObject({
      audience: 12,
      deliveredOnline: 3,
      storedOffline: 9,
      xiaomi: perVendor,
      oppo: perVendor,
      vivo: perVendor,
      apns: { sent: 0 },
      fcm: { sent: 0 },
    });

    // Exactly one notification per live offline device; none to the dead or the connected ones.
    const want = (v: Vendor) => [tokens[v].a, tokens[v].b].sort();
    expect(xiaomi.received.map((r) => r.token).sort()).toEqual(want('xiaomi'));
    expect(oppo.received.map((r) => r.token).sort()).toEqual(want('oppo'));
    expect(vivo.received.map((r) => r.token).sort()).toEqual(want('vivo'));

    // The throttled request was retried no sooner than the vendor asked.
    for (const fake of [xiaomi, oppo, vivo]) {
      expect(fake.arrivals).toHaveLength(2);
      expect((fake.arrivals[1] as number) - (fake.arrivals[0] as number)).toBeGreaterThanOrEqual(990);
    }

    // The vendor's expiry is the end of the push's retention, in its own unit.
    const secondsLeft = (s: number) => {
      expect(s).toBeGreaterThan(7200 - 120);
      expect(s).toBeLessThanOrEqual(7200);
    };
    for (const r of xiaomi.received) {
      secondsLeft(Number(r.fields.time_to_live) / 1000);
      expect(r.fields).toMatchObject({
        restricted_package_name: 'com.example.herald',
        title: 'News',
        description: 'Hello',
        payload: encodeURIComponent('{"route":"/news"}'),
        notify_id: '3',
        'extra.channel_id': 'mi-im',
        'extra.pushId': pushId,
      });
    }
    for (const r of oppo.received) {
      secondsLeft(r.notification.off_line_ttl as number);
      expect(r.notification).toMatchObject({
        title: 'News',
        content: 'Hello',
        app_message_id: pushId,
        channel_id: 'oppo-im',
        category: 'IM',
        notify_level: 2,
      });
      expect(JSON.parse(String(r.notification.action_parameters))).toEqual({
        ext: '{"route":"/news"}',
        pushId,
      });
    }
    for (const r of vivo.received) {
      expect(r.via).toBe('list');
      secondsLeft(r.message.timeToLive as number);
      expect(r.message).toMatchObject({
        title: 'News',
        content: 'Hello',
        classification: 1,
        category: 'IM',
        clientCustomMap: { ext: '{"route":"/news"}', pushId },
      });
    }

    const reasons: Record<Vendor, string> = {
      xiaomi: 'BadRegId',
      oppo: 'InvalidRegistrationId',
      vivo: 'Unsubscribed',
    };
    for (const v of VENDORS) {
      const devices = await api<{ devices: { disabledAt: string | null; disabledReason: string | null }[] }>(
        'GET',
        `/v1/accounts/${v}-dead/devices`,
      );
      expect(devices.body.devices[0]).toMatchObject({
        disabledReason: reasons[v],
        disabledAt: expect.any(String),
      });
    }
  });

  it('sends a disabled token nothing the next time, and a retention-0 push "now or never"', async () => {
    for (const fake of [xiaomi, oppo, vivo]) fake.received.length = 0;
    const created = await api<Push>('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text: 'Flash' }] },
      retentionSeconds: 0,
    });
    await waitFor(
      () => api<Push>('GET', `/v1/pushes/${created.body.id}`).then((r) => r.body),
      (p) => p.status === 'completed',
      60_000,
      'completed',
    );
    expect(xiaomi.received.map((r) => r.token)).not.toContain(tokens.xiaomi.dead);
    expect(xiaomi.received[0]?.fields).toMatchObject({ title: 'Flash', 'extra.only_send_once': '1' });
    expect(xiaomi.received[0]?.fields).not.toHaveProperty('time_to_live');
    expect(oppo.received[0]?.notification).toMatchObject({ off_line: false });
    expect(vivo.received[0]?.message).toMatchObject({ timeToLive: 60 });
    expect(oppo.received.map((r) => r.token)).not.toContain(tokens.oppo.dead);
    expect(vivo.received.map((r) => r.token)).not.toContain(tokens.vivo.dead);
  });
});
