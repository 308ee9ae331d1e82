import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DeviceTarget } from '../delivery/channel.ts';
import { type ApnsClientOptions, createApnsClient } from '../delivery/channels/apns/client.ts';
import { type ApnsNotification, apnsPayload } from '../delivery/channels/apns/payload.ts';
import { createFcmClient, type FcmClientOptions } from '../delivery/channels/fcm/client.ts';
import type { FcmNotification } from '../delivery/channels/fcm/payload.ts';
import { type FakeApnsOptions, fakeApnsToken, startFakeApns } from '../fakes/apns.ts';
import { type FakeFcmOptions, fakeFcmToken, startFakeFcm } from '../fakes/fcm.ts';
import { type ApnsTestKey, type FcmTestKey, generateApnsKey, generateServiceAccount } from '../fakes/keys.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(cleanup.splice(0).map((close) => close()));
});

/** Every field either client renders, so one notification exercises both. */
type Notification = ApnsNotification & FcmNotification;

const EXPIRES = new Date('2030-01-01T00:00:00Z');
const full: Notification = {
  pushId: 'push-1',
  title: 'Hello',
  subtitle: 'From Herald',
  body: 'World',
  sound: 'default',
  badge: 3,
  ext: '{"route":"/inbox"}',
  data: { orderId: '42' },
  image: 'https://example.com/a.png',
  mutableContent: true,
  collapseId: 'order-42',
  priority: 'high',
  channelId: 'orders',
  expiresAt: EXPIRES,
};
const minimal: Notification = { pushId: 'push-2', body: 'Just a body', priority: 'normal', expiresAt: null };

/** Freezes Date (only Date: sockets and timers keep running) so iat, ttl and token ages are exact. */
function freezeDate(at = new Date('2029-06-01T12:00:00Z')): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(at);
}

const prod = (token: string): DeviceTarget => ({ token, environment: 'production' });

/** Waits for an event the fakes count (never a fixed sleep: the suite must pass on a loaded CPU). */
async function until(ok: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('APNs client', () => {
  let key: ApnsTestKey;
  beforeAll(() => {
    key = generateApnsKey({ topic: 'com.example.herald' });
  });

  async function setup(fakeOpts: Partial<FakeApnsOptions> = {}, clientOpts: Partial<ApnsClientOptions> = {}) {
    const { keyId, teamId, topic } = key.credentials;
    const fake = await startFakeApns({ publicKey: key.publicKey, keyId, teamId, topic, ...fakeOpts });
    const client = createApnsClient({
      credentials: key.credentials,
      productionUrl: fake.url,
      ca: fake.ca,
      ...clientOpts,
    });
    cleanup.push(
      () => client.close(),
      () => fake.close(),
    );
    return { fake, client };
  }

  it('sends with the exact headers, JWT and payload Apple expects', async () => {
    freezeDate();
    const { fake, client } = await setup();
    const token = fakeApnsToken();
    expect(await client.send([prod(token)], full)).toEqual([{ token, outcome: 'sent' }]);

    expect(fake.received).toHaveLength(1);
    const [got] = fake.received;
    expect(got?.headers).toMatchObject({
      ':method': 'POST',
      ':path': `/3/device/${token}`,
      'apns-topic': 'com.example.herald',
      'apns-push-type': 'alert',
      'apns-priority': '10',
      'apns-expiration': '1893456000',
      'apns-collapse-id': 'order-42',
    });
    const jwt = got?.headers.authorization?.replace(/^bearer /, '') ?? '';
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: 'ES256', kid: key.credentials.keyId });
    expect(decodeJwt(jwt)).toEqual({
      iss: key.credentials.teamId,
      iat: Date.parse('2029-06-01T12:00:00Z') / 1000,
    });
    expect(got?.payload).toEqual({
      aps: {
        alert: { title: 'Hello', subtitle: 'From Herald', body: 'World' },
        badge: 3,
        sound: 'default',
        'mutable-content': 1,
      },
      ext: '{"route":"/inbox"}',
      orderId: '42',
      pushId: 'push-1',
    });
  });

  it('uses priority 5, expiration 0, no collapse id and the target topic when asked', async () => {
    const { fake, client } = await setup(
      {},
      { credentials: { ...key.credentials, topic: 'com.example.other' } },
    );
    const token = fakeApnsToken();
    const outcomes = await client.send([{ ...prod(token), topic: 'com.example.herald' }], minimal);
    expect(outcomes).toEqual([{ token, outcome: 'sent' }]);
    const headers = fake.received[0]?.headers;
    expect(headers).toMatchObject({
      'apns-priority': '5',
      'apns-expiration': '0',
      'apns-topic': 'com.example.herald',
    });
    expect(headers).not.toHaveProperty('apns-collapse-id');
    expect(fake.received[0]?.payload).toEqual({ aps: { alert: { body: 'Just a body' } }, pushId: 'push-2' });

    // Without a target topic the credential's topic is used, which this fake does not serve.
    const other = fakeApnsToken();
    expect(await client.send([prod(other)], minimal)).toEqual([
      { token: other, outcome: 'failed', reason: 'TopicDisallowed' },
    ]);
  });

  it('routes sandbox and production targets to their own origin', async () => {
    const { fake: production } = await setup();
    const { fake: sandbox } = await setup();
    const routed = createApnsClient({
      credentials: key.credentials,
      productionUrl: production.url,
      sandboxUrl: sandbox.url,
      ca: production.ca,
    });
    cleanup.push(() => routed.close());
    const [p, s] = [fakeApnsToken(), fakeApnsToken()];
    await routed.send([prod(p), { token: s, environment: 'sandbox' }], full);
    expect(production.received.map((r) => r.token)).toEqual([p]);
    expect(sandbox.received.map((r) => r.token)).toEqual([s]);
  });

  it('reuses one JWT across many sends and re-signs it before the hour is up', async () => {
    freezeDate();
    const { fake, client } = await setup();
    const first = await client.send(
      Array.from({ length: 100 }, () => prod(fakeApnsToken())),
      full,
    );
    expect(first.every((o) => o.outcome === 'sent')).toBe(true);
    const jwts = new Set(fake.received.map((r) => r.headers.authorization));
    expect(jwts.size).toBe(1);

    vi.setSystemTime(Date.now() + 51 * 60_000);
    await client.send([prod(fakeApnsToken())], full);
    const latest = fake.received.at(-1)?.headers.authorization ?? '';
    expect(jwts.has(latest)).toBe(false);
    expect(decodeJwt(latest.slice('bearer '.length)).iat).toBe(Date.parse('2029-06-01T12:51:00Z') / 1000);
  });

  it('makes exactly one new JWT when Apple answers ExpiredProviderToken, and retries', async () => {
    freezeDate();
    const { fake, client } = await setup();
    await client.send([prod(fakeApnsToken())], full);
    const stale = fake.received[0]?.headers.authorization;
    fake.expireTokensIssuedBefore(new Date(Date.now() + 1000));
    vi.setSystemTime(Date.now() + 2000);

    const outcomes = await client.send(
      Array.from({ length: 50 }, () => prod(fakeApnsToken())),
      full,
    );
    expect(outcomes.filter((o) => o.outcome === 'sent')).toHaveLength(50);
    expect(fake.exchanges.filter((e) => e.reason === 'ExpiredProviderToken').length).toBeGreaterThan(0);
    const used = new Set(fake.exchanges.map((e) => e.authorization));
    expect(used.size).toBe(2);
    expect(new Set(fake.received.slice(1).map((r) => r.headers.authorization))).not.toContain(stale);
  });

  it('reports dead tokens as invalid without retrying', async () => {
    const { fake, client } = await setup();
    const [dead, foreign] = [fakeApnsToken(), fakeApnsToken()];
    fake.deadTokens.add(dead);
    fake.foreignTokens.add(foreign);
    const outcomes = await client.send([prod(dead), prod('not-a-token'), prod(foreign)], full);
    expect(outcomes).toEqual([
      { token: dead, outcome: 'invalid', reason: 'Unregistered' },
      { token: 'not-a-token', outcome: 'invalid', reason: 'BadDeviceToken' },
      { token: foreign, outcome: 'invalid', reason: 'DeviceTokenNotForTopic' },
    ]);
    expect(fake.exchanges).toHaveLength(3);
  });

  it('retries 429 and 5xx with backoff, then succeeds', async () => {
    const { fake, client } = await setup();
    fake.failNext(1, 429, 'TooManyRequests');
    fake.failNext(1, 500, 'InternalServerError');
    fake.failNext(1, 503, 'ServiceUnavailable');
    const token = fakeApnsToken();
    expect(await client.send([prod(token)], full)).toEqual([{ token, outcome: 'sent' }]);
    expect(fake.exchanges.map((e) => e.status)).toEqual([429, 500, 503, 200]);
  });

  it('gives up after maxRetries and does not retry other errors', async () => {
    const { fake, client } = await setup({}, { maxRetries: 2 });
    fake.failNext(10, 503, 'ServiceUnavailable');
    const token = fakeApnsToken();
    expect(await client.send([prod(token)], full)).toEqual([
      { token, outcome: 'failed', reason: 'ServiceUnavailable' },
    ]);
    expect(fake.exchanges).toHaveLength(3);

    const { fake: strict, client: wrongKey } = await setup(
      {},
      { credentials: { ...key.credentials, keyId: 'WRONGKEY00' } },
    );
    expect(await wrongKey.send([prod(token)], full)).toEqual([
      { token, outcome: 'failed', reason: 'InvalidProviderToken' },
    ]);
    expect(strict.exchanges).toHaveLength(1);
  });

  it('rejects a payload over 4096 bytes before sending and accepts one of exactly 4096', async () => {
    const { fake, client } = await setup();
    const token = fakeApnsToken();
    const overhead = Buffer.byteLength(JSON.stringify(apnsPayload({ ...full, body: '' })));
    const exact = { ...full, body: 'x'.repeat(4096 - overhead) };
    expect(Buffer.byteLength(JSON.stringify(apnsPayload(exact)))).toBe(4096);

    expect(await client.send([prod(token)], { ...exact, body: `${exact.body}x` })).toEqual([
      { token, outcome: 'failed', reason: 'PayloadTooLarge' },
    ]);
    expect(fake.exchanges).toHaveLength(0);
    expect(await client.send([prod(token)], exact)).toEqual([{ token, outcome: 'sent' }]);
  });

  it('multiplexes 2,000 concurrent sends over a pool of 2 sessions', async () => {
    const { fake, client } = await setup({ latencyMs: 5 }, { connections: 2, concurrency: 300 });
    const tokens = Array.from({ length: 2000 }, () => fakeApnsToken());
    const outcomes = await client.send(tokens.map(prod), full);
    expect(outcomes.filter((o) => o.outcome === 'sent')).toHaveLength(2000);
    expect(new Set(fake.received.map((r) => r.token))).toEqual(new Set(tokens));
    expect(fake.stats.sessions).toBe(2);
    expect(fake.stats.maxConcurrentStreams).toBeGreaterThan(50);
    expect(fake.stats.maxConcurrentStreams).toBeLessThanOrEqual(300);
  });

  it('lets in-flight requests finish on close and fails the queued ones with ClientClosed', async () => {
    const { fake, client } = await setup({}, { concurrency: 1 });
    await client.send([prod(fakeApnsToken())], full); // connected, JWT signed
    expect(await client.send([], full)).toEqual([]);
    const [a, b, c] = [fakeApnsToken(), fakeApnsToken(), fakeApnsToken()];
    // The first request is held at the fake until the close has begun: in flight at the close, whatever the load.
    const release = fake.hold();
    const page = client.send([prod(a), prod(b), prod(c)], full);
    await until(() => fake.stats.arrived === 2, 'the first request in flight');
    const closing = client.close();
    release();
    await closing;
    expect(await page).toEqual([
      { token: a, outcome: 'sent' },
      { token: b, outcome: 'failed', reason: 'ClientClosed' },
      { token: c, outcome: 'failed', reason: 'ClientClosed' },
    ]);
  });

  it('fails a queue of 20,000 on close without overflowing the stack', async () => {
    // One session: the page's first request must not wait for a second session's TLS handshake.
    const { fake, client } = await setup({}, { concurrency: 1, connections: 1 });
    await client.send([prod(fakeApnsToken())], full);
    const targets = Array.from({ length: 20_000 }, () => prod(fakeApnsToken()));
    const release = fake.hold();
    const page = client.send(targets, full);
    await until(() => fake.stats.arrived === 2, 'the first request in flight');
    const closing = client.close();
    release();
    await closing;
    const outcomes = await page;
    expect(outcomes[0]).toMatchObject({ outcome: 'sent' });
    expect(outcomes.slice(1).every((o) => o.outcome === 'failed' && o.reason === 'ClientClosed')).toBe(true);
  });

  it('reconnects after the server sends GOAWAY', async () => {
    const { fake, client } = await setup({}, { connections: 1 });
    await client.send([prod(fakeApnsToken())], full);
    fake.goaway();
    await new Promise((r) => setTimeout(r, 50));
    const token = fakeApnsToken();
    expect(await client.send([prod(token)], full)).toEqual([{ token, outcome: 'sent' }]);
    expect(fake.stats.sessions).toBe(2);
  });
});

describe('FCM client', () => {
  let account: FcmTestKey;
  beforeAll(() => {
    account = generateServiceAccount('herald-test');
  });

  async function setup(fakeOpts: Partial<FakeFcmOptions> = {}, clientOpts: Partial<FcmClientOptions> = {}) {
    const { projectId, clientEmail, publicKey } = account;
    const fake = await startFakeFcm({ projectId, clientEmail, publicKey, ...fakeOpts });
    const client = createFcmClient({
      credentials: account.credentials(fake.tokenUri),
      baseUrl: fake.url,
      ca: fake.ca,
      // The fake's token endpoint is a local https origin: allowed as HERALD_ALLOWED_TOKEN_URIS would.
      allowedTokenUris: [fake.tokenUri],
      ...clientOpts,
    });
    cleanup.push(
      () => client.close(),
      () => fake.close(),
    );
    return { fake, client };
  }
  const android = (token: string): DeviceTarget => ({ token, environment: 'production' });

  it('sends the exact v1 message with ttl counted down to expiresAt', async () => {
    freezeDate(new Date(EXPIRES.getTime() - 3600_000));
    const { fake, client } = await setup();
    const token = fakeFcmToken();
    expect(await client.send([android(token)], full)).toEqual([{ token, outcome: 'sent' }]);
    expect(fake.received[0]?.message).toEqual({
      token,
      notification: { title: 'Hello', body: 'World', image: 'https://example.com/a.png' },
      data: { orderId: '42', ext: '{"route":"/inbox"}', pushId: 'push-1' },
      android: {
        ttl: '3600s',
        priority: 'HIGH',
        collapse_key: 'order-42',
        notification: { channel_id: 'orders', sound: 'default' },
      },
    });
  });

  it('sends ttl 0s and NORMAL priority, omitting unset fields', async () => {
    const { fake, client } = await setup();
    const token = fakeFcmToken();
    await client.send([android(token)], minimal);
    expect(fake.received[0]?.message).toEqual({
      token,
      notification: { body: 'Just a body' },
      data: { pushId: 'push-2' },
      android: { ttl: '0s', priority: 'NORMAL' },
    });
  });

  it('fetches one access token from token_uri for many concurrent sends, renewing it before expiry', async () => {
    freezeDate();
    const { fake, client } = await setup();
    const outcomes = await client.send(
      Array.from({ length: 500 }, () => android(fakeFcmToken())),
      full,
    );
    expect(outcomes.filter((o) => o.outcome === 'sent')).toHaveLength(500);
    await client.send([android(fakeFcmToken())], full);
    expect(fake.tokenRequests).toBe(1);
    expect(new Set(fake.received.map((r) => r.accessToken)).size).toBe(1);

    vi.setSystemTime(Date.now() + 56 * 60_000);
    await client.send([android(fakeFcmToken())], full);
    expect(fake.tokenRequests).toBe(2);
    expect(new Set(fake.received.map((r) => r.accessToken)).size).toBe(2);
  });

  it('refreshes the access token once on 401 and retries', async () => {
    const { fake, client } = await setup();
    await client.send([android(fakeFcmToken())], full);
    fake.revokeAccessTokens();
    const outcomes = await client.send(
      Array.from({ length: 20 }, () => android(fakeFcmToken())),
      full,
    );
    expect(outcomes.filter((o) => o.outcome === 'sent')).toHaveLength(20);
    expect(fake.tokenRequests).toBe(2);
  });

  it('maps UNREGISTERED and a bad registration token to invalid, other INVALID_ARGUMENT to failed', async () => {
    const { fake, client } = await setup();
    const dead = fakeFcmToken();
    fake.unregistered.add(dead);
    expect(await client.send([android(dead), android('garbage')], full)).toEqual([
      { token: dead, outcome: 'invalid', reason: 'UNREGISTERED' },
      { token: 'garbage', outcome: 'invalid', reason: 'INVALID_ARGUMENT' },
    ]);
    const token = fakeFcmToken();
    expect(await client.send([android(token)], { ...full, data: { 'gcm.reserved': 'x' } })).toEqual([
      { token, outcome: 'failed', reason: 'INVALID_ARGUMENT' },
    ]);
    expect(fake.sendRequests).toBe(3);
  });

  it('honours Retry-After on 429 before retrying', async () => {
    const { fake, client } = await setup();
    fake.failNext(1, 429, 1);
    const token = fakeFcmToken();
    const started = performance.now();
    expect(await client.send([android(token)], full)).toEqual([{ token, outcome: 'sent' }]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.sendRequests).toBe(2);
  });

  it('retries 500/503 and fails once retries are exhausted', async () => {
    const { fake, client } = await setup({}, { maxRetries: 2 });
    fake.failNext(1, 500);
    fake.failNext(1, 503, 0);
    const ok = fakeFcmToken();
    expect(await client.send([android(ok)], full)).toEqual([{ token: ok, outcome: 'sent' }]);
    expect(fake.sendRequests).toBe(3);

    fake.failNext(10, 503, 0);
    const token = fakeFcmToken();
    expect(await client.send([android(token)], full)).toEqual([
      { token, outcome: 'failed', reason: 'UNAVAILABLE' },
    ]);
    expect(fake.sendRequests).toBe(6);
  });

  it('keeps 2,000 concurrent sends within the concurrency bound', async () => {
    const { fake, client } = await setup({ latencyMs: 20 }, { concurrency: 50 });
    const tokens = Array.from({ length: 2000 }, () => fakeFcmToken());
    const outcomes = await client.send(tokens.map(android), full);
    expect(outcomes.filter((o) => o.outcome === 'sent')).toHaveLength(2000);
    expect(new Set(fake.received.map((r) => r.token))).toEqual(new Set(tokens));
    expect(fake.maxInFlight).toBeGreaterThan(10);
    expect(fake.maxInFlight).toBeLessThanOrEqual(50);
    expect(fake.tokenRequests).toBe(1);
    // HTTP/2: the default pool of 2 sessions carries all of them.
    expect(fake.sessions).toBe(2);
  });

  it('speaks h2c to an http:// base URL, fetching the access token over plain HTTP/1.1', async () => {
    const { fake, client } = await setup({ plaintext: true });
    expect(fake.url).toMatch(/^http:/);
    const tokens = [fakeFcmToken(), fakeFcmToken()];
    expect(await client.send(tokens.map(android), minimal)).toEqual(
      tokens.map((token) => ({ token, outcome: 'sent' })),
    );
    expect(fake.tokenRequests).toBe(1);
    expect(fake.sessions).toBeGreaterThanOrEqual(1);
  });

  it('fails without retry when the project is not the credentials’ one', async () => {
    const { fake, client } = await setup({ projectId: 'someone-else' });
    const token = fakeFcmToken();
    expect(await client.send([android(token)], full)).toEqual([
      { token, outcome: 'failed', reason: 'PERMISSION_DENIED' },
    ]);
    expect(fake.sendRequests).toBe(1);
  });
});
