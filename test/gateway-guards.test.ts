import { createRequire } from 'node:module';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { loadConfig } from '../core/config.ts';
import { mintUserToken, UserTokenError, verifyUserToken } from '../core/user-token.ts';
import { verifyUserSig } from '../core/usersig.ts';
import type { Database } from '../db/client.ts';
import { appSecretsCache } from '../gateway/auth.ts';
import { Connection, type ConnectionDeps } from '../gateway/connection.ts';
import { frameHandler } from '../gateway/frames.ts';
import { FrameLimiter } from '../gateway/limits.ts';
import { defaultGatewayOptions, type GatewayOptions } from '../gateway/options.ts';
import type { GatewayStore } from '../gateway/store.ts';

/** Issue #11, the gateway's guards one by one, without a server: fake sockets, fake clocks, counted lookups. */

const silent = pino({ level: 'silent' });
const APP = { id: 'app_guard', secretKey: 'guard-secret-key-0123456789abcdef' };

class FakeSocket {
  readyState = 1;
  protocol = 'herald.v1';
  bufferedAmount = 0;
  readonly sent: string[] = [];
  closed: { code: number; reason: string } | undefined;
  send(data: string) {
    this.sent.push(data);
  }
  close(code: number, reason: string) {
    this.closed = { code, reason };
    this.readyState = 2;
  }
  terminate() {
    this.readyState = 3;
  }
  ping() {}
}

function connection(options: Partial<GatewayOptions> = {}) {
  const ws = new FakeSocket();
  const store = {
    recordLogin: async () => ({ tokensValidAfter: null }),
    livePushIds: async () => [],
    syncAccount: async () => [],
  } as unknown as GatewayStore;
  const deps: ConnectionDeps = {
    opts: { ...defaultGatewayOptions(), maxBufferedBytes: 1024, ...options },
    log: silent,
    store,
    secrets: { byId: async (id) => (id === APP.id ? APP : undefined), bySdkAppId: async () => undefined },
    presence: { add() {}, release() {}, write: async () => {}, count: () => 0 },
    track: (p) => p,
  };
  const conn = new Connection(ws as unknown as WebSocket, deps);
  const onMessage = frameHandler({
    database: {} as Database,
    store,
    log: silent,
    opts: deps.opts,
    allowedTopics: async () => [],
    webPushKey: async () => null,
    track: (p) => p,
  });
  const send = (text: string) => onMessage(conn, Buffer.from(text), false);
  return { ws, conn, send };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('replies and the send buffer', () => {
  it.each([
    ['ping', '{"type":"ping","ref":"p"}'],
    ['an unknown frame', '{"type":"nope","ref":"u"}'],
    ['an invalid frame', '{"type":"ack","ref":"i"}'],
  ])('drops a client that does not read instead of buffering the answer to %s', (_, text) => {
    const { ws, send } = connection();
    send(text);
    expect(ws.sent).toHaveLength(1);
    ws.bufferedAmount = 10 * 1024;
    send(text);
    expect(ws.sent).toHaveLength(1);
    expect(ws.closed?.code).toBe(4008);
  });
});

describe('token expiry', () => {
  it('closes a 30-day token’s connection when it expires, past the 24.8-day setTimeout limit', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { token, expiresAt } = await mintUserToken({
      ...APP,
      appId: APP.id,
      accountId: 'month',
      ttlSeconds: 30 * 86400,
    });
    const { ws, conn } = connection();
    conn.open(
      { headers: { 'sec-websocket-protocol': `herald.v1, herald.token.${token}` } } as never,
      new URL('ws://x/v1/connect'),
    );
    expect(await conn.authDone).toBe(true);
    expect(JSON.parse(ws.sent[0] ?? '{}')).toMatchObject({
      type: 'welcome',
      tokenExpiresAt: expiresAt.toISOString(),
    });
    await vi.advanceTimersByTimeAsync(expiresAt.getTime() - Date.now() - 1000);
    expect(ws.closed).toBeUndefined();
    await vi.advanceTimersByTimeAsync(2000);
    expect(ws.closed).toEqual({ code: 4001, reason: 'token_expired' });
  });

  it('re-arms when the timer limit is shorter than the lifetime', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { token } = await mintUserToken({ ...APP, appId: APP.id, accountId: 'short', ttlSeconds: 60 });
    const { ws, conn } = connection({ maxTimerMs: 7_000 });
    conn.startAuth(token);
    expect(await conn.authDone).toBe(true);
    await vi.advanceTimersByTimeAsync(59_000);
    expect(ws.closed).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(ws.closed?.code).toBe(4001);
  });

  it('refuses a JWT whose exp is more than 30 days ahead, or no date at all', async () => {
    const secrets = { byId: async () => APP, bySdkAppId: async () => undefined };
    const far = await mintUserToken({ ...APP, appId: APP.id, accountId: 'far', ttlSeconds: 31 * 86400 });
    await expect(verifyUserToken(far.token, secrets)).rejects.toMatchObject({ reason: 'invalid' });
    const month = await mintUserToken({ ...APP, appId: APP.id, accountId: 'm', ttlSeconds: 30 * 86400 });
    await expect(verifyUserToken(month.token, secrets)).resolves.toMatchObject({ accountId: 'm' });
    await expect(
      verifyUserToken(
        (await mintUserToken({ ...APP, appId: APP.id, accountId: 'x', ttlSeconds: 1e300 })).token,
        secrets,
      ),
    ).rejects.toBeInstanceOf(UserTokenError);
  });

  it('bounds a UserSig’s expiry to 180 days', () => {
    const { Api } = createRequire(import.meta.url)('tls-sig-api-v2') as {
      Api: new (sdkAppId: number, key: string) => { genUserSig(id: string, expire: number): string };
    };
    const api = new Api(1400000001, APP.secretKey);
    const check = (expire: number) =>
      verifyUserSig(api.genUserSig('u', expire), { sdkAppId: 1400000001, secretKey: APP.secretKey });
    expect(check(180 * 86400)).toMatchObject({ ok: true });
    expect(check(181 * 86400)).toEqual({ ok: false, reason: 'malformed' });
    expect(check(1e300)).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('the app cache', () => {
  it('looks an unknown issuer up once per TTL, stays bounded, and never loses known apps to a flood', async () => {
    const lookups = new Map<string, number>();
    const cache = appSecretsCache(
      {
        byId: async (id) => {
          lookups.set(id, (lookups.get(id) ?? 0) + 1);
          return id === APP.id ? APP : undefined;
        },
        bySdkAppId: async () => undefined,
      },
      { ttlMs: 60_000, size: 100 },
    );
    expect(await cache.byId(APP.id)).toEqual(APP);
    for (let i = 0; i < 50; i++) expect(await cache.byId('made-up')).toBeUndefined();
    expect(lookups.get('made-up')).toBe(1);
    for (let i = 0; i < 5000; i++) await cache.byId(`random-${i}`);
    expect(await cache.byId(APP.id)).toEqual(APP);
    expect(lookups.get(APP.id)).toBe(1);
    // The last ones are still remembered; the first ones were dropped (the cache holds 100 unknown issuers).
    await cache.byId('random-4999');
    expect(lookups.get('random-4999')).toBe(1);
    await cache.byId('random-0');
    expect(lookups.get('random-0')).toBe(2);
  });
});

describe('the frame limiter', () => {
  it('lets a burst through, then the refill rate; counts refusals per window', () => {
    let now = 0;
    const l = new FrameLimiter(
      {
        framesPerSecond: 10,
        frameBurst: 5,
        maxInflight: 1,
        maxQueued: 1,
        maxRateLimited: 3,
        rateLimitWindowMs: 1000,
      },
      () => now,
    );
    expect(Array.from({ length: 7 }, () => l.admit())).toEqual([true, true, true, true, true, false, false]);
    now += 100;
    expect([l.admit(), l.admit()]).toEqual([true, false]);
    expect([l.refused(), l.refused(), l.refused(), l.refused()]).toEqual([false, false, false, true]);
    now += 1000;
    expect(l.refused()).toBe(false);
  });

  it('runs at most maxInflight statements, queues maxQueued, refuses the rest', async () => {
    const l = new FrameLimiter({ ...defaultGatewayOptions(), maxInflight: 2, maxQueued: 1 });
    const gates: (() => void)[] = [];
    let started = 0;
    const task = () => {
      started++;
      return new Promise<void>((r) => gates.push(r));
    };
    expect([l.schedule(task), l.schedule(task), l.schedule(task), l.schedule(task)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(started).toBe(2);
    gates[0]?.();
    await new Promise((r) => setImmediate(r));
    expect(started).toBe(3);
  });
});

describe('configuration', () => {
  it('reads the limits from the environment and refuses nonsense naming the variable', () => {
    const c = loadConfig({
      HERALD_WS_FRAMES_PER_SECOND: '20',
      HERALD_MAX_DEVICES_PER_ACCOUNT: '5',
      HERALD_TRUST_PROXY: 'true',
      HERALD_STATEMENT_TIMEOUT_MS: '0',
    });
    expect(c).toMatchObject({
      HERALD_WS_FRAMES_PER_SECOND: 20,
      HERALD_WS_FRAME_BURST: 100,
      HERALD_WS_MAX_INFLIGHT: 4,
      HERALD_MAX_CONNECTIONS_PER_ACCOUNT: 20,
      HERALD_MAX_CONNECTIONS_PER_IP: 1000,
      HERALD_MAX_DEVICES_PER_ACCOUNT: 5,
      HERALD_TRUST_PROXY: true,
      HERALD_STATEMENT_TIMEOUT_MS: 0,
    });
    expect(loadConfig({}).HERALD_TRUST_PROXY).toBe(false);
    expect(() => loadConfig({ HERALD_WS_FRAMES_PER_SECOND: '0' })).toThrow(/HERALD_WS_FRAMES_PER_SECOND/);
    expect(() => loadConfig({ HERALD_TRUST_PROXY: 'yes please' })).toThrow(/HERALD_TRUST_PROXY/);
  });
});
