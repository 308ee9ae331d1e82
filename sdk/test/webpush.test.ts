import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserSubscription, FakeWebPush } from '../../fakes/webpush.ts';
import { type FakesStack, startStackWithFakes } from '../../test/support/fakes-stack.ts';
import { client } from '../../test/support/stack.ts';
import {
  HeraldClient,
  type HeraldError,
  type PushManagerLike,
  type PushSubscriptionLike,
  subscribeWebPush,
  unsubscribeWebPush,
  webPushToken,
} from '../src/node.ts';

// The SDK's Web Push helpers from Node against a real server, with a PushManager backed by the fake push
// service (a browser's own needs Google's push service: sdk/test/webpush-browser.test.ts says more).

let fakes: FakesStack;
let webpush: FakeWebPush;
const open: HeraldClient[] = [];

beforeAll(async () => {
  fakes = await startStackWithFakes({ topic: 'com.example.herald', projectId: 'herald-sdk-webpush' });
  webpush = fakes.webpush;
});
afterAll(async () => {
  for (const c of open) c.close();
  await fakes?.stop();
});

async function setup(withCredentials: boolean) {
  const app = await fakes.stack.newApp();
  const api = client(fakes.stack.url, app.apiKey);
  if (withCredentials)
    await api('PUT', '/v1/apps/current/credentials/webpush', { subject: 'mailto:ops@example.com' });
  await api('POST', '/v1/accounts', { accounts: [{ id: 'alice' }] });
  const minted = await api<{ token: string }>('POST', '/v1/accounts/alice/token', { ttlSeconds: 600 });
  const herald = new HeraldClient({ url: fakes.stack.url, token: minted.body.token, reconnect: false });
  open.push(herald);
  const devices = async () =>
    (await api<{ devices: { platform: string; token: string }[] }>('GET', '/v1/accounts/alice/devices')).body
      .devices;
  return { api, herald, devices };
}

/** A browser's PushManager whose push service is the fake: one subscription at a time, as browsers keep. */
function pushManager() {
  let current: PushSubscriptionLike | null = null;
  const calls: { userVisibleOnly: boolean; key: string }[] = [];
  const wrap = (json: BrowserSubscription, key: Uint8Array): PushSubscriptionLike => {
    const sub: PushSubscriptionLike = {
      options: { applicationServerKey: key.slice().buffer },
      toJSON: () => ({ ...json, expirationTime: null }),
      unsubscribe: async () => {
        webpush.unsubscribe(json.endpoint);
        if (current === sub) current = null;
        return true;
      },
    };
    return sub;
  };
  const manager: PushManagerLike & { calls: typeof calls; current(): PushSubscriptionLike | null } = {
    calls,
    current: () => current,
    getSubscription: async () => current,
    subscribe: async ({ userVisibleOnly, applicationServerKey }) => {
      const key = Buffer.from(applicationServerKey).toString('base64url');
      calls.push({ userVisibleOnly, key });
      current = wrap(webpush.subscribe(key), applicationServerKey);
      return current;
    },
  };
  return manager;
}

describe('subscribeWebPush', () => {
  it('asks for the app key, subscribes visibly, registers; again is the same device', async () => {
    const { herald, devices, api } = await setup(true);
    const key = (await api<{ credentials: { webpush: { publicKey: string } } }>('GET', '/v1/apps/current'))
      .body.credentials.webpush.publicKey;
    expect(await herald.webPushKey()).toBe(key);
    const manager = pushManager();
    const first = await subscribeWebPush(herald, { registration: { pushManager: manager } });
    expect(manager.calls).toEqual([{ userVisibleOnly: true, key }]);
    expect(first.created).toBe(true);
    expect(first.token).toBe(webPushToken(manager.current()?.toJSON() ?? {}));
    expect(await devices()).toEqual([expect.objectContaining({ platform: 'webpush', token: first.token })]);

    const again = await subscribeWebPush(herald, { registration: { pushManager: manager } });
    expect(again).toMatchObject({ token: first.token, created: false });
    expect(manager.calls).toHaveLength(1);

    expect(await unsubscribeWebPush(herald, { registration: { pushManager: manager } })).toBe(true);
    expect(await devices()).toEqual([]);
    expect(manager.current()).toBeNull();
    expect(await unsubscribeWebPush(herald, { registration: { pushManager: manager } })).toBe(false);
  });

  it('replaces a subscription made with another key and unregisters its token', async () => {
    const { herald, devices, api } = await setup(true);
    const manager = pushManager();
    const before = await subscribeWebPush(herald, { registration: { pushManager: manager } });
    const rotated = await api<{ credentials: { webpush: { publicKey: string } } }>(
      'PUT',
      '/v1/apps/current/credentials/webpush',
      { subject: 'mailto:ops@example.com', generate: true },
    );
    const after = await subscribeWebPush(herald, { registration: { pushManager: manager } });
    expect(after.token).not.toBe(before.token);
    expect(manager.calls.map((c) => c.key)).toEqual([
      expect.any(String),
      rotated.body.credentials.webpush.publicKey,
    ]);
    expect((await devices()).map((d) => d.token)).toEqual([after.token]);
  });

  it('says webpush_not_configured when the app has no VAPID key, before asking the browser', async () => {
    const { herald } = await setup(false);
    expect(await herald.webPushKey()).toBeNull();
    const manager = pushManager();
    const err = await subscribeWebPush(herald, { registration: { pushManager: manager } }).catch(
      (e: HeraldError) => e,
    );
    expect(err).toMatchObject({ code: 'webpush_not_configured' });
    expect(manager.calls).toEqual([]);
  });

  it('webPushToken is the canonical token the server stores', () => {
    const s = webpush.subscribe(
      'BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8',
    );
    const token = webPushToken({ ...s, expirationTime: 123 });
    expect(JSON.parse(Buffer.from(token, 'base64url').toString())).toEqual(s);
    expect(() => webPushToken({ endpoint: s.endpoint })).toThrow(TypeError);
  });
});
