import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import { webPushToken } from '../delivery/channels/webpush/subscription.ts';
import type { BrowserSubscription, FakeWebPush } from '../fakes/webpush.ts';
import { type FakesStack, startStackWithFakes } from './support/fakes-stack.ts';
import { client, type TestStack, waitFor } from './support/stack.ts';
import { TestSocket } from './support/ws.ts';

// Web Push end to end: the app's VAPID credentials, browsers' subscriptions registered over REST and over the
// socket, and one push to every kind of recipient, through the real gateway and the real Web Push client,
// against a fake push service that checks VAPID and decrypts each message with the subscription's own key.

let fakes: FakesStack;
let webpush: FakeWebPush;
let stack: TestStack;
let app: CreatedApp;
let api: ReturnType<typeof client>;
let publicKey: string;
const subscriptions: Record<string, BrowserSubscription> = {};
const sockets: TestSocket[] = [];

type AppView = { credentials: { webpush: { subject: string; publicKey: string } | null } };
type Push = { id: string; status: string; expiresAt: string; counters: Record<string, unknown> };

beforeAll(async () => {
  fakes = await startStackWithFakes({ topic: 'com.example.herald', projectId: 'herald-webpush' });
  ({ stack, webpush } = fakes);
  app = await stack.newApp({ minPushIntervalMs: 0 });
  api = client(stack.url, app.apiKey);
  await api('POST', '/v1/accounts', {
    accounts: ['wp1', 'wp2', 'wp3', 'on1', 'none1'].map((id) => ({ id })),
  });
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

const register = (account: string, token: string) =>
  api<{ device: { token: string }; error?: { code: string; message: string } }>(
    'PUT',
    `/v1/accounts/${account}/devices/webpush/${token}`,
  );

describe('VAPID credentials', () => {
  it('are generated on request, kept by the same PUT, shown without the private key', async () => {
    const put = await api<AppView>('PUT', '/v1/apps/current/credentials/webpush', {
      subject: 'mailto:ops@example.com',
    });
    expect(put.status).toBe(200);
    const view = put.body.credentials.webpush;
    expect(view?.subject).toBe('mailto:ops@example.com');
    expect(Buffer.from(view?.publicKey ?? '', 'base64url')).toHaveLength(65);
    expect(JSON.stringify(put.body)).not.toMatch(/privateKey/);
    publicKey = view?.publicKey ?? '';

    const again = await api<AppView>('PUT', '/v1/apps/current/credentials/webpush', {
      subject: 'https://example.com/contact',
    });
    expect(again.body.credentials.webpush).toEqual({ subject: 'https://example.com/contact', publicKey });
    expect((await api<AppView>('GET', '/v1/apps/current')).body.credentials.webpush?.publicKey).toBe(
      publicKey,
    );
  });

  it('refuses a public key without its private key, and a subject that is no contact', async () => {
    const lone = await api<{ error: { code: string } }>('PUT', '/v1/apps/current/credentials/webpush', {
      subject: 'mailto:ops@example.com',
      publicKey,
    });
    expect(lone.status).toBe(400);
    expect(lone.body.error.code).toBe('invalid_credentials');
    const bad = await api<{ error: { code: string } }>('PUT', '/v1/apps/current/credentials/webpush', {
      subject: 'ops',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
  });
});

describe('subscriptions as devices', () => {
  it('registers a subscription over REST; refuses one on a push service the operator does not allow', async () => {
    subscriptions.wp1 = webpush.subscribe(publicKey);
    const ok = await register('wp1', webPushToken(subscriptions.wp1));
    expect(ok.status).toBe(201);
    expect(ok.body.device.token).toBe(webPushToken(subscriptions.wp1));

    const elsewhere = webPushToken({ ...subscriptions.wp1, endpoint: 'https://169.254.169.254/latest' });
    const refused = await register('wp1', elsewhere);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'invalid_device_token' });
    expect(refused.body.error?.message).toMatch(/HERALD_WEBPUSH_PUSH_SERVICES/);
  });

  it('a browser asks the app key over the socket and registers its subscription there', async () => {
    const socket = await connect('wp2');
    socket.send({ type: 'webPushKey', ref: 'k' });
    const key = await socket.until('the key', () => socket.frames.find((f) => f.ref === 'k'));
    expect(key).toEqual({ type: 'ok', ref: 'k', publicKey });
    subscriptions.wp2 = webpush.subscribe(String(key.publicKey));
    socket.send({
      type: 'registerDevice',
      platform: 'webpush',
      token: webPushToken(subscriptions.wp2),
      ref: 'r',
    });
    expect(await socket.until('registered', () => socket.frames.find((f) => f.ref === 'r'))).toEqual({
      type: 'ok',
      ref: 'r',
      created: true,
    });
    socket.send({ type: 'registerDevice', platform: 'webpush', token: 'bm90IGpzb24', ref: 'bad' });
    expect(await socket.until('refused', () => socket.frames.find((f) => f.ref === 'bad'))).toMatchObject({
      type: 'error',
      code: 'invalid_device_token',
    });
    await socket.close();
  });
});

describe('a push reaches every kind of recipient', () => {
  it('offline subscriptions get one message each with the expiry and options; dead ones are disabled; 429 waits', async () => {
    subscriptions.wp3 = webpush.subscribe(publicKey);
    subscriptions.on1 = webpush.subscribe(publicKey);
    expect((await register('wp3', webPushToken(subscriptions.wp3))).status).toBe(201);
    expect((await register('on1', webPushToken(subscriptions.on1))).status).toBe(201);
    webpush.unsubscribe(subscriptions.wp3.endpoint);
    const online = await connect('on1');
    webpush.failNext(1, 429, 1);

    const created = await api<Push>('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text: 'Hello' }] },
      retentionSeconds: 120,
      offline: {
        title: 'News',
        badge: 2,
        webpush: {
          urgency: 'high',
          topic: 'news',
          tag: 'news',
          url: '/news',
          icon: 'https://example.com/icon.png',
          requireInteraction: true,
        },
      },
    });
    expect(created.status).toBe(201);
    const pushId = created.body.id;
    await online.until('the live message', () => online.messages().find((m) => m.pushId === pushId));
    const done = await waitFor(
      () => api<Push>('GET', `/v1/pushes/${pushId}`).then((r) => r.body),
      (p) => p.status === 'completed',
      30_000,
      'completed',
    );
    expect(done.counters).toMatchObject({
      audience: 5,
      deliveredOnline: 1,
      storedOffline: 4,
      webpush: { sent: 2, failed: 1, tokensDisabled: 1 },
    });

    const endpoints = webpush.received.map((r) => r.endpoint).sort();
    expect(endpoints).toEqual([subscriptions.wp1?.endpoint, subscriptions.wp2?.endpoint].sort());
    expect(webpush.undecryptable).toEqual([]);
    // The connected account got it live, nothing through its push service.
    expect(webpush.exchanges.filter((e) => e.endpoint === subscriptions.on1?.endpoint)).toEqual([]);

    const expiresIn = (Date.parse(done.expiresAt) - Date.now()) / 1000;
    for (const r of webpush.received) {
      expect(r.ttl).toBeGreaterThan(90);
      expect(r.ttl).toBeLessThanOrEqual(120);
      expect(r.ttl).toBeGreaterThanOrEqual(Math.floor(expiresIn) - 1);
      expect(r).toMatchObject({ urgency: 'high', topic: 'news', vapid: { aud: webpush.url } });
      expect(r.vapid.sub).toBe('https://example.com/contact');
      expect(r.payload).toEqual({
        title: 'News',
        body: 'Hello',
        icon: 'https://example.com/icon.png',
        tag: 'news',
        requireInteraction: true,
        url: '/news',
        appBadge: 2,
        pushId,
      });
    }

    // The throttled message was sent again once the time the push service asked for had passed.
    const throttled = webpush.exchanges.find((e) => e.status === 429);
    const retried = webpush.exchanges.find((e) => e.endpoint === throttled?.endpoint && e.status === 201);
    expect((retried?.at ?? 0) - (throttled?.at ?? 0)).toBeGreaterThanOrEqual(950);

    const dead = await api<{ devices: { disabledAt: string | null; disabledReason: string | null }[] }>(
      'GET',
      '/v1/accounts/wp3/devices',
    );
    expect(dead.body.devices[0]).toMatchObject({ disabledReason: 'Gone', disabledAt: expect.any(String) });
  });

  it('refuses options a browser cannot take', async () => {
    const bad = await api('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text: 'Hello' }] },
      offline: { webpush: { topic: 'not a topic!', icon: 'http://example.com/i.png' } },
    });
    expect(bad.status).toBe(400);
  });
});
