import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceTarget } from '../delivery/channel.ts';
import { readHonorAnswer } from '../delivery/channels/honor/answers.ts';
import { createHonorClient, type HonorClientOptions } from '../delivery/channels/honor/client.ts';
import { type HonorNotification, honorMessage, renderHonor } from '../delivery/channels/honor/payload.ts';
import { type FakeHonorOptions, fakeHonorToken, startFakeHonor } from '../fakes/honor.ts';

// Honor Push: the request the client builds (against the examples of Honor's downlink-message guide), its
// OAuth client-credentials token and timestamp header, and how it reads Honor's answers, against the fake.

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((close) => close()));
});

const credentials = { appId: '104443651', clientId: '8f0e8d5f3c6a4b2d', clientSecret: 'S3cr3t-honor' };
const target = (token: string): DeviceTarget => ({ token, environment: 'production' });
const tokens = (n: number) => Array.from({ length: n }, fakeHonorToken);
const notification = (over: Partial<HonorNotification> = {}): HonorNotification => ({
  pushId: 'push-1',
  title: 'test title',
  body: 'test body',
  expiresAt: new Date(Date.now() + 86_400_000),
  ...over,
});

async function setup(fakeOpts: Partial<FakeHonorOptions> = {}, clientOpts: Partial<HonorClientOptions> = {}) {
  const fake = await startFakeHonor({ ...credentials, ...fakeOpts });
  const client = createHonorClient({
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

describe('Honor message', () => {
  it('is Honor’s notification example plus the data, ttl and options', () => {
    // Honor's example: {"android":{"notification":{"title":"test title","body":"test body",
    // "clickAction":{"type":3}}},"token":["pushtoken1"]}.
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(honorMessage(notification({ expiresAt: new Date(now + 86_400_000) }), now)).toEqual({
      data: '{"pushId":"push-1"}',
      android: {
        ttl: '86400s',
        notification: { title: 'test title', body: 'test body', clickAction: { type: 3 } },
      },
    });
    const n = renderHonor(
      { pushId: 'p', body: 'only a body', ext: '{"a":1}', expiresAt: null },
      { importance: 'NORMAL', tag: 'orders', clickAction: { type: 'action', action: 'com.example.OPEN' } },
    );
    expect(honorMessage(n)).toEqual({
      data: '{"ext":"{\\"a\\":1}","pushId":"p"}',
      android: {
        ttl: '1s',
        notification: {
          title: 'only a body',
          body: 'only a body',
          importance: 'NORMAL',
          clickAction: { type: 1, action: 'com.example.OPEN' },
          tag: 'orders',
        },
      },
    });
  });
});

describe('Honor answers', () => {
  const res = (status: number, body: unknown) => ({ status, headers: {}, body: JSON.stringify(body) });

  it('disables expireTokens, fails failTokens and counts the rest sent', () => {
    const answer = readHonorAnswer(
      res(200, {
        code: 200,
        message: 'success',
        data: { sendResult: true, requestId: '1', failTokens: ['b'], expireTokens: ['c'] },
      }),
      ['a', 'b', 'c'],
      true,
    );
    expect(answer).toEqual({
      outcome: 'done',
      outcomes: [
        { token: 'a', outcome: 'sent' },
        { token: 'b', outcome: 'failed', reason: 'failToken' },
        { token: 'c', outcome: 'invalid', reason: 'expireToken' },
      ],
    });
    expect(readHonorAnswer(res(401, { code: 80200003, message: 'expired' }), ['a'], true)).toMatchObject({
      retry: 'reauthorize',
    });
    expect(readHonorAnswer(res(503, { code: 503 }), ['a'], true)).toMatchObject({ retry: 'backoff' });
    expect(readHonorAnswer(res(400, { code: 80100003, message: 'bad' }), ['a'], true)).toEqual({
      outcome: 'failed',
      reason: '80100003',
    });
  });
});

describe('Honor client', () => {
  it('authenticates by client credentials, stamps each request and sends 1,000 tokens per request', async () => {
    const { fake, client } = await setup();
    const all = tokens(1500);
    const before = Date.now();
    const outcomes = await client.send(all.map(target), notification());
    expect(outcomes.every((o) => o.outcome === 'sent')).toBe(true);
    expect(fake.tokenRequests).toBe(1);
    expect(fake.received.map((r) => r.tokens.length).sort()).toEqual([1000, 500]);
    expect(new Set(fake.received.flatMap((r) => r.tokens))).toEqual(new Set(all));
    for (const r of fake.received) {
      expect(r.headers.authorization).toBe(`Bearer ${r.accessToken}`);
      expect(Number(r.headers.timestamp)).toBeGreaterThanOrEqual(before);
      expect(Number(r.headers.timestamp)).toBeLessThanOrEqual(Date.now());
    }
  });

  it('fails every token without sending when the token endpoint refuses the client', async () => {
    const { fake, client } = await setup({ clientSecret: 'rotated' }, { maxRetries: 0 });
    const [t] = tokens(1) as [string];
    expect(await client.send([target(t)], notification())).toEqual([
      {
        token: t,
        outcome: 'failed',
        reason:
          'AuthError: token endpoint answered 401 invalid_client Invalid client or Invalid client credentials',
      },
    ]);
    expect(fake.exchanges).toHaveLength(0);
  });

  it('disables the tokens Honor returns as expired', async () => {
    const { fake, client } = await setup();
    const [a, b] = tokens(2) as [string, string];
    fake.expiredTokens.add(b);
    expect(await client.send([a, b].map(target), notification())).toEqual([
      { token: a, outcome: 'sent' },
      { token: b, outcome: 'invalid', reason: 'expireToken' },
    ]);
  });

  it('takes one new access token when the old one is refused, and retries', async () => {
    const { fake, client } = await setup();
    await client.send([target(fakeHonorToken())], notification());
    fake.revokeAccessTokens();
    const outcomes = await client.send(tokens(10).map(target), notification());
    expect(outcomes.every((o) => o.outcome === 'sent')).toBe(true);
    expect(fake.tokenRequests).toBe(2);
    expect(fake.exchanges.map((e) => e.code)).toEqual([200, 80200003, 200]);
  });

  it('waits the Retry-After of a throttling answer before retrying', async () => {
    const { fake, client } = await setup();
    fake.failNext(1, 429, 1);
    const [t] = tokens(1) as [string];
    expect(await client.send([target(t)], notification())).toEqual([{ token: t, outcome: 'sent' }]);
    const [throttled, retried] = fake.exchanges;
    expect(throttled?.status).toBe(429);
    expect((retried?.at ?? 0) - (throttled?.at ?? 0)).toBeGreaterThanOrEqual(950);
  });
});
