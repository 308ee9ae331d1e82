import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DeviceTarget } from '../delivery/channel.ts';
import { withStringExtras } from '../delivery/channels/click-action.ts';
import { readHmsAnswer } from '../delivery/channels/hms/answers.ts';
import { createHmsClient, type HmsClientOptions } from '../delivery/channels/hms/client.ts';
import { type HmsNotification, hmsMessage, renderHms } from '../delivery/channels/hms/payload.ts';
import { type FakeHmsOptions, fakeHmsToken, startFakeHms } from '../fakes/hms.ts';

// Huawei Push Kit: the request the client builds (against the examples of Huawei's "Sending Downlink
// Messages" page), its OAuth client-credentials token, and how it reads Huawei's answers, against the fake.

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(cleanup.splice(0).map((close) => close()));
});

const credentials = { clientId: '101704409', clientSecret: 'a1b2c3d4e5f6-secret' };
const target = (token: string): DeviceTarget => ({ token, environment: 'production' });
const tokens = (n: number) => Array.from({ length: n }, fakeHmsToken);
const notification = (over: Partial<HmsNotification> = {}): HmsNotification => ({
  pushId: 'push-1',
  title: 'test title',
  body: 'test body',
  expiresAt: new Date(Date.now() + 86_400_000),
  ...over,
});

async function setup(fakeOpts: Partial<FakeHmsOptions> = {}, clientOpts: Partial<HmsClientOptions> = {}) {
  const fake = await startFakeHms({ ...credentials, ...fakeOpts });
  const client = createHmsClient({
    credentials,
    baseUrl: fake.url,
    tokenUrl: fake.tokenUrl,
    ca: fake.ca,
    ...clientOpts,
  });
  cleanup.push(
    () => client.close(),
    () => fake.close(),
  );
  return { fake, client };
}

describe('HMS message', () => {
  it('matches the android part of Huawei’s sample request', () => {
    // Huawei's sample: android {collapse_key -1, category "IM", ttl "86400s", notification {…, importance
    // "NORMAL", click_action {type 3}, channel_id "test_channel_id"}}.
    const now = Date.parse('2030-01-01T00:00:00Z');
    const n = renderHms(
      { pushId: 'p', title: 'test title', body: 'test body', expiresAt: new Date(now + 86_400_000) },
      { collapseKey: -1, category: 'IM', importance: 'NORMAL', channelId: 'test_channel_id' },
    );
    expect(hmsMessage(n, undefined, now)).toEqual({
      data: '{"pushId":"p"}',
      android: {
        collapse_key: -1,
        category: 'IM',
        ttl: '86400s',
        notification: {
          title: 'test title',
          body: 'test body',
          channel_id: 'test_channel_id',
          importance: 'NORMAL',
          default_sound: true,
          click_action: { type: 3 },
        },
      },
    });
  });

  it('uses the push’s, then the credentials’ click action, and adds ext to an intent when asked', () => {
    // Huawei's intent example: "#Intent;compo=com.rvr/.Activity;S.W=U;end".
    const intent = '#Intent;compo=com.rvr/.Activity;S.W=U;end';
    const ext = '{"route":"/inbox"}';
    const click = (n: HmsNotification, fallback?: Parameters<typeof hmsMessage>[1]) =>
      (hmsMessage(n, fallback).android as { notification: { click_action: unknown } }).notification
        .click_action;
    expect(click(notification(), { type: 'intent', intent })).toEqual({ type: 1, intent });
    expect(
      click(notification({ clickAction: { type: 'url', url: 'https://example.com/a' } }), { type: 'app' }),
    ).toEqual({ type: 2, url: 'https://example.com/a' });
    expect(click(notification({ ext, extAsIntentParams: true }), { type: 'intent', intent })).toEqual({
      type: 1,
      intent: '#Intent;compo=com.rvr/.Activity;S.W=U;S.ext=%7B%22route%22%3A%22%2Finbox%22%7D;end',
    });
    // Tencent's ExtAsHuaweiIntentParam 0: ext stays in data only, the action is untouched.
    expect(click(notification({ ext }), { type: 'action', action: 'com.example.OPEN' })).toEqual({
      type: 1,
      action: 'com.example.OPEN',
    });
    expect(withStringExtras('#Intent;end', { a: 'b c' })).toBe('#Intent;S.a=b%20c;end');
  });

  it('falls back to the body as title, a custom sound, ttl at least 1 s and at most 15 days', () => {
    const message = hmsMessage(
      notification({ title: undefined, sound: '/raw/shake', expiresAt: null, data: { k: 'v' }, ext: 'x' }),
    );
    expect(message).toEqual({
      data: '{"k":"v","ext":"x","pushId":"push-1"}',
      android: {
        ttl: '1s',
        notification: {
          title: 'test body',
          body: 'test body',
          sound: '/raw/shake',
          default_sound: false,
          click_action: { type: 3 },
        },
      },
    });
    const far = hmsMessage(notification({ expiresAt: new Date(Date.now() + 30 * 86_400_000) }));
    expect((far.android as { ttl: string }).ttl).toBe('1296000s');
  });
});

describe('HMS answers', () => {
  const res = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
    status,
    headers,
    body: JSON.stringify(body),
  });

  it('maps the documented partial-failure bodies token by token', () => {
    // v1: msg lists illegal_tokens; v3 (Huawei's example): illegalTokens by reason.
    const v1 = readHmsAnswer(
      res(200, { code: '80100000', msg: '{"success":1,"failure":1,"illegal_tokens":["b"]}' }),
      ['a', 'b'],
      true,
    );
    expect(v1).toEqual({
      outcome: 'done',
      outcomes: [
        { token: 'a', outcome: 'sent' },
        { token: 'b', outcome: 'invalid', reason: 'illegal_token' },
      ],
    });
    const v3 = readHmsAnswer(
      res(200, {
        code: '80100000',
        msg: '{"illegalTokens":{"tokenFormatError":["xxxxxx"],"noPushTypeRight":["y"]},"success":1,"failure":2}',
      }),
      ['xxxxxx', 'y', 'z'],
      true,
    );
    expect(v3).toEqual({
      outcome: 'done',
      outcomes: [
        { token: 'xxxxxx', outcome: 'invalid', reason: 'tokenFormatError' },
        { token: 'y', outcome: 'failed', reason: 'noPushTypeRight' },
        { token: 'z', outcome: 'sent' },
      ],
    });
    // Failures not listed cannot be told from successes: all failed, never retried.
    expect(readHmsAnswer(res(200, { code: '80100000', msg: 'Partial Success' }), ['a'], true)).toEqual({
      outcome: 'done',
      outcomes: [{ token: 'a', outcome: 'failed', reason: '80100000' }],
    });
  });

  it('retries flow control and internal errors, reauthorizes once, fails the rest', () => {
    expect(readHmsAnswer(res(503, {}, { 'retry-after': '2' }), ['a'], true)).toEqual({
      outcome: 'failed',
      reason: 'HTTP 503',
      retry: 'backoff',
      retryAfterMs: 2000,
    });
    expect(
      readHmsAnswer(res(500, { code: '81000001', msg: 'System inner error' }), ['a'], true),
    ).toMatchObject({
      retry: 'backoff',
      reason: '81000001',
    });
    expect(readHmsAnswer(res(401, { code: '80200003' }), ['a'], true)).toMatchObject({
      retry: 'reauthorize',
    });
    expect(readHmsAnswer(res(401, { code: '80200003' }), ['a'], false)).toEqual({
      outcome: 'failed',
      reason: '80200003',
    });
    expect(readHmsAnswer(res(400, { code: '80100003', msg: 'Illegal payload' }), ['a'], true)).toEqual({
      outcome: 'failed',
      reason: '80100003',
    });
  });
});

describe('HMS client', () => {
  it('gets one access token by the client-credentials grant and sends one request per 1,000 tokens', async () => {
    const { fake, client } = await setup();
    const all = tokens(2500);
    const outcomes = await client.send(all.map(target), notification());
    expect(outcomes.every((o) => o.outcome === 'sent')).toBe(true);
    expect(fake.tokenRequests).toBe(1);
    expect(fake.received.map((r) => r.tokens.length).sort()).toEqual([1000, 1000, 500]);
    expect(new Set(fake.received.flatMap((r) => r.tokens))).toEqual(new Set(all));
    expect(new Set(fake.received.map((r) => r.path))).toEqual(
      new Set([`/v1/${credentials.clientId}/messages:send`]),
    );
    expect(fake.received[0]?.message.android).toMatchObject({ notification: { title: 'test title' } });
  });

  it('sends to the v2 URL of the project when the credentials name one', async () => {
    const { fake, client } = await setup(
      { projectId: '736430079245' },
      { credentials: { ...credentials, projectId: '736430079245' } },
    );
    const [t] = tokens(1) as [string];
    expect(await client.send([target(t)], notification())).toEqual([{ token: t, outcome: 'sent' }]);
    expect(fake.received[0]?.path).toBe('/v2/736430079245/messages:send');
  });

  it('fails every token without sending when the token endpoint refuses the secret', async () => {
    const { fake, client } = await setup({ clientSecret: 'another' }, { maxRetries: 0 });
    const [t] = tokens(1) as [string];
    expect(await client.send([target(t)], notification())).toEqual([
      {
        token: t,
        outcome: 'failed',
        reason: 'AuthError: token endpoint answered 400 1101 20152 invalid client',
      },
    ]);
    expect(fake.exchanges).toHaveLength(0);
  });

  it('disables the tokens Huawei lists as illegal and those of an all-invalid batch', async () => {
    const { fake, client } = await setup();
    const [a, b, c] = tokens(3) as [string, string, string];
    fake.invalidTokens.add(b);
    expect(await client.send([a, b].map(target), notification())).toEqual([
      { token: a, outcome: 'sent' },
      { token: b, outcome: 'invalid', reason: 'illegal_token' },
    ]);
    fake.invalidTokens.add(c);
    expect(await client.send([b, c].map(target), notification())).toEqual([
      { token: b, outcome: 'invalid', reason: '80300007' },
      { token: c, outcome: 'invalid', reason: '80300007' },
    ]);
    expect(fake.exchanges.map((e) => e.code)).toEqual(['80100000', '80300007']);
  });

  it('takes one new access token when Huawei answers 80200003, and retries', async () => {
    const { fake, client } = await setup();
    await client.send([target(fakeHmsToken())], notification());
    fake.revokeAccessTokens();
    const outcomes = await client.send(tokens(1500).map(target), notification());
    expect(outcomes.every((o) => o.outcome === 'sent')).toBe(true);
    expect(fake.tokenRequests).toBe(2);
    expect(fake.exchanges.filter((e) => e.code === '80200003').length).toBeGreaterThan(0);
  });

  it('renews the access token before it expires', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2029-06-01T12:00:00Z'));
    const { fake, client } = await setup({ tokenLifetimeSeconds: 600 });
    await client.send([target(fakeHmsToken())], notification());
    vi.setSystemTime(Date.now() + 299_000);
    await client.send([target(fakeHmsToken())], notification());
    expect(fake.tokenRequests).toBe(1);
    vi.setSystemTime(Date.now() + 2_000); // 5 minutes before expiry
    await client.send([target(fakeHmsToken())], notification());
    expect(fake.tokenRequests).toBe(2);
    expect(new Set(fake.received.map((r) => r.accessToken)).size).toBe(2);
  });

  it('waits the Retry-After of flow control (503) before retrying, and gives up after maxRetries', async () => {
    const { fake, client } = await setup({}, { maxRetries: 2 });
    fake.failNext(1, 503, 1);
    const [t] = tokens(1) as [string];
    expect(await client.send([target(t)], notification())).toEqual([{ token: t, outcome: 'sent' }]);
    const [throttled, retried] = fake.exchanges;
    expect(throttled?.status).toBe(503);
    expect((retried?.at ?? 0) - (throttled?.at ?? 0)).toBeGreaterThanOrEqual(950);

    fake.failNext(10, 503, 0);
    expect(await client.send([target(t)], notification())).toEqual([
      { token: t, outcome: 'failed', reason: 'HTTP 503' },
    ]);
    expect(fake.exchanges).toHaveLength(2 + 3);
  });

  it('refuses a message over 4,096 bytes before sending', async () => {
    const { fake, client } = await setup();
    const [t] = tokens(1) as [string];
    expect(await client.send([target(t)], notification({ body: 'x'.repeat(4096) }))).toEqual([
      { token: t, outcome: 'failed', reason: 'PayloadTooLarge' },
    ]);
    expect(fake.exchanges).toHaveLength(0);
  });

  it('answers each target once per token, in order, even when a page repeats a token', async () => {
    const { fake, client } = await setup();
    const [a, b] = tokens(2) as [string, string];
    expect(await client.send([a, b, a].map(target), notification())).toEqual([
      { token: a, outcome: 'sent' },
      { token: b, outcome: 'sent' },
      { token: a, outcome: 'sent' },
    ]);
    expect(fake.received[0]?.tokens).toEqual([a, b]);
  });
});
