import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { mintUserToken } from '../core/user-token.ts';
import type { CreatedApp } from '../db/apps.ts';
import { connectDatabase } from '../db/client.ts';
import { type CloseInfo, HeraldClient } from '../sdk/src/node.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';
import { type Frame, TestSocket } from './support/ws.ts';

/** Issue #11: what one end user (or one address) may cost everyone else on the gateway. */

let stack: TestStack;
const logLines: { level: number; msg: string }[] = [];
const sockets: TestSocket[] = [];

beforeAll(async () => {
  const log = pino(
    { level: 'debug' },
    { write: (line: string) => void logLines.push(JSON.parse(line) as { level: number; msg: string }) },
  );
  stack = await startTestStack({
    worker: false,
    log,
    env: {
      HERALD_MAX_CONNECTIONS_PER_ACCOUNT: '2',
      HERALD_MAX_DEVICES_PER_ACCOUNT: '3',
    },
  });
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await stack?.stop();
});

const mint = async (app: CreatedApp, accountId: string, ttlSeconds = 600) =>
  (await mintUserToken({ appId: app.id, secretKey: app.secretKey, accountId, ttlSeconds })).token;

async function connect(app: CreatedApp, accountId: string): Promise<TestSocket> {
  const s = await TestSocket.open(stack.wsUrl, await mint(app, accountId));
  sockets.push(s);
  return s;
}

/** Opens a raw socket from a given forwarded address: the HTTP status when the upgrade is refused. */
function openFromUrl(
  wsUrl: string,
  token: string,
  forwardedFor: string,
): Promise<{ ws?: WebSocket; status?: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, ['herald.v1', `herald.token.${token}`], {
      headers: { 'x-forwarded-for': forwardedFor },
    });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode });
      res.resume();
    });
    ws.once('error', reject);
  });
}

const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95) - 1] ?? 0;

describe('frame limits', () => {
  it('answers a flood rate_limited and closes it with 4429, while another tenant’s API keeps its latency', async () => {
    const flooder = await stack.newApp();
    const other = await stack.newApp();
    const otherApi = client(stack.url, other.apiKey);
    const timedGet = async () => {
      const t = Date.now();
      const r = await otherApi('GET', '/v1/accounts/nobody/devices');
      expect(r.status).toBe(200);
      return Date.now() - t;
    };
    const before: number[] = [];
    for (let i = 0; i < 20; i++) before.push(await timedGet());

    const s = await connect(flooder, 'flood');
    await s.synced();
    let flooding = true;
    const during: number[] = [];
    const measuring = (async () => {
      while (flooding || during.length < 20) during.push(await timedGet());
    })();
    for (let i = 0; i < 5000 && s.ws.readyState === WebSocket.OPEN; i++)
      s.ws.send(JSON.stringify({ type: 'ack', ids: [randomUUID(), randomUUID()], ref: `f${i}` }));
    const closed = await s.closedWith(20_000);
    flooding = false;
    await measuring;

    expect(closed).toMatchObject({ code: 4429 });
    expect(closed.reason).toMatch(/^rate_limited/);
    const limited = s.frames.filter((f) => f.type === 'error' && f.code === 'rate_limited');
    expect(limited.length).toBeGreaterThan(50);
    expect(limited[0]?.ref).toMatch(/^f\d+$/);
    // Only what the bucket let through ran: far fewer statements than frames.
    expect(s.frames.filter((f) => f.type === 'ok').length).toBeLessThanOrEqual(200);
    // A generous bound: the point is that one socket cannot stall the others, not a benchmark.
    expect(p95(during)).toBeLessThan(Math.max(500, p95(before) * 5));
  });

  it('refuses statement frames beyond the in-flight and waiting limits without running them', async () => {
    const app = await stack.newApp();
    const s = await connect(app, 'burst');
    await s.synced();
    // 60 registrations at once: 4 run, 32 wait, the rest are refused (well within the frame bucket).
    for (let i = 0; i < 60; i++)
      s.send({ type: 'registerDevice', platform: 'fcm', token: `burst-token-${i}`, ref: `r${i}` });
    await s.until('an answer to every frame', () =>
      s.frames.filter((f) => (f.type === 'ok' || f.type === 'error') && String(f.ref).startsWith('r'))
        .length === 60
        ? true
        : undefined,
    );
    const refused = s.frames.filter((f) => f.type === 'error' && f.code === 'rate_limited');
    expect(refused.length).toBe(60 - 36);
    expect(s.frames.filter((f) => f.type === 'ok')).toHaveLength(36);
    expect(s.closed).toBeUndefined();
  });
});

describe('invalid frames', () => {
  it('refuses NUL and lone surrogates as invalid_frame, with no error log line', async () => {
    const app = await stack.newApp();
    const s = await connect(app, 'nul');
    await s.synced();
    const errorsBefore = logLines.filter((l) => l.level >= 50).length;
    const raw = [
      '{"type":"ack","ids":["\\u0000"],"ref":"a"}',
      '{"type":"ack","id":"x\\ud800","ref":"b"}',
      '{"type":"registerDevice","platform":"fcm","token":"tok\\udc00en","ref":"c"}',
      '{"type":"registerDevice","platform":"apns","token":"ab","topic":"t\\u0000","ref":"d"}',
      '{"type":"unregisterDevice","platform":"fcm","token":"\\u0000","ref":"e"}',
    ];
    for (const r of raw) s.ws.send(r);
    await s.until('five answers', () =>
      s.frames.filter((f) => f.type === 'error').length >= 5 ? true : undefined,
    );
    const errors = s.frames.filter((f) => f.type === 'error');
    expect(errors.map((f) => [f.ref, f.code])).toEqual([
      ['a', 'invalid_frame'],
      ['b', 'invalid_frame'],
      ['c', 'invalid_frame'],
      ['d', 'invalid_frame'],
      ['e', 'invalid_frame'],
    ]);
    // A pair of surrogates (an emoji) is text like any other.
    s.send({ type: 'registerDevice', platform: 'fcm', token: 'emoji-😀-token', ref: 'ok' });
    await s.frame('ok', (f) => f.ref === 'ok');
    expect(logLines.filter((l) => l.level >= 50).length).toBe(errorsBefore);
    expect(s.closed).toBeUndefined();
  });
});

describe('connection limits', () => {
  it('closes an account’s connection beyond the limit with 4409; another account still connects', async () => {
    const app = await stack.newApp();
    const a = await connect(app, 'many');
    const b = await connect(app, 'many');
    await a.synced();
    await b.synced();
    const c = await connect(app, 'many');
    expect(await c.closedWith()).toMatchObject({ code: 4409 });
    expect(c.frames.find((f) => f.type === 'welcome')).toBeUndefined();
    await (await connect(app, 'someone-else')).synced();
    // A place freed is a place taken.
    const open = stack.api.gateway.stats().connections;
    await a.close();
    await waitFor(
      async () => stack.api.gateway.stats().connections,
      (n) => n < open,
      5000,
      'the server to see the close',
    );
    const d = await connect(app, 'many');
    await d.synced();

    // The SDK does not storm back: after 4409 its next attempt waits from the sixth backoff step.
    let attempts = 0;
    class Counting extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        attempts++;
      }
    }
    const sdk = new HeraldClient({
      url: stack.url,
      token: await mint(app, 'many'),
      WebSocket: Counting as unknown as ConstructorParameters<typeof HeraldClient>[0]['WebSocket'],
      reconnect: { initialDelayMs: 100 },
    });
    try {
      const closes: CloseInfo[] = [];
      sdk.on('close', (c) => closes.push(c));
      await waitFor(
        async () => closes.length,
        (n) => n > 0,
        5000,
        'the 4409 close',
      );
      expect(closes[0]).toMatchObject({ code: 4409, willReconnect: true });
      await new Promise((r) => setTimeout(r, 1000));
      expect(attempts).toBe(1);
    } finally {
      sdk.close();
    }
  });

  it('refuses upgrades beyond the limit per client address with HTTP 429 (the proxy’s last hop)', async () => {
    const ipStack = await startTestStack({
      worker: false,
      env: { HERALD_MAX_CONNECTIONS_PER_IP: '4', HERALD_TRUST_PROXY: 'true' },
    });
    const app = await ipStack.newApp();
    const openFrom = (token: string, xff: string) => openFromUrl(ipStack.wsUrl, token, xff);
    const opened: WebSocket[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const r = await openFrom(await mint(app, `ip-${i}`), `198.51.100.${i}, 203.0.113.7`);
        expect(r.ws).toBeDefined();
        if (r.ws) opened.push(r.ws);
      }
      // The first hop is the client's to write; only the last hop (what the proxy saw) counts.
      expect(await openFrom(await mint(app, 'ip-4'), '192.0.2.1, 203.0.113.7')).toEqual({ status: 429 });
      const elsewhere = await openFrom(await mint(app, 'ip-5'), '203.0.113.8');
      expect(elsewhere.ws).toBeDefined();
      elsewhere.ws?.close();
      // A closed socket frees its place.
      opened.shift()?.close();
      await waitFor(
        async () => openFrom(await mint(app, 'ip-6'), '203.0.113.7'),
        (r) => {
          if (r.ws) opened.push(r.ws);
          return r.ws !== undefined;
        },
        5000,
        'a free place',
      );
    } finally {
      for (const ws of opened) ws.close();
      await ipStack.stop();
    }
  });
});

describe('devices per account', () => {
  type Device = { platform: string; token: string; updatedAt: string };
  const list = async (api: ReturnType<typeof client>, account: string) =>
    (await api<{ devices: Device[] }>('GET', `/v1/accounts/${account}/devices`)).body.devices;

  it('evicts the least recently updated device beyond the cap, over REST and over the WebSocket', async () => {
    const app = await stack.newApp();
    const api = client(stack.url, app.apiKey);
    for (const t of ['one', 'two', 'three']) {
      expect((await api('PUT', `/v1/accounts/dee/devices/fcm/token-${t}`, {})).status).toBe(201);
      await new Promise((r) => setTimeout(r, 20));
    }
    // Re-registering "one" makes it the most recent; "two" is now the oldest.
    expect((await api('PUT', '/v1/accounts/dee/devices/fcm/token-one', {})).status).toBe(200);
    await new Promise((r) => setTimeout(r, 20));
    expect((await api('PUT', '/v1/accounts/dee/devices/fcm/token-four', {})).status).toBe(201);
    expect((await list(api, 'dee')).map((d) => d.token).sort()).toEqual([
      'token-four',
      'token-one',
      'token-three',
    ]);

    const s = await connect(app, 'dee');
    await s.synced();
    s.send({ type: 'registerDevice', platform: 'fcm', token: 'token-five', ref: 'r5' });
    expect(await s.frame('ok', (f) => f.ref === 'r5')).toMatchObject({ created: true });
    expect((await list(api, 'dee')).map((d) => d.token).sort()).toEqual([
      'token-five',
      'token-four',
      'token-one',
    ]);
  });

  it('never exceeds the cap when registrations race', async () => {
    const app = await stack.newApp();
    const api = client(stack.url, app.apiKey);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => api('PUT', `/v1/accounts/race/devices/fcm/race-${i}`, {})),
    );
    expect(results.every((r) => r.status === 201)).toBe(true);
    expect(await list(api, 'race')).toHaveLength(3);
  });
});

describe('token edge cases', () => {
  const jwt = (app: CreatedApp, exp: number) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(app.id)
      .setSubject('far')
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(app.secretKey));

  it('refuses an exp beyond 30 days (1e300 too) with 4001 before the socket counts anywhere', async () => {
    const app = await stack.newApp();
    const now = Math.floor(Date.now() / 1000);
    for (const exp of [1e300, now + 31 * 86400]) {
      const s = await TestSocket.open(stack.wsUrl, await jwt(app, exp));
      sockets.push(s);
      const closed = await s.closedWith();
      expect(closed.code).toBe(4001);
      expect(closed.reason).toMatch(/^token_invalid/);
      expect(s.frames.find((f) => f.type === 'welcome')).toBeUndefined();
    }
    const rows = await stack.database.sql`
      select 1 from presence where app_id = ${app.id} union all select 1 from accounts where app_id = ${app.id}`;
    expect(rows).toHaveLength(0);
    // 29 days is fine, and the welcome says when it ends.
    const ok = await TestSocket.open(stack.wsUrl, await jwt(app, now + 29 * 86400));
    sockets.push(ok);
    const welcome = await ok.frame('welcome');
    expect(Date.parse(String(welcome.tokenExpiresAt))).toBe((now + 29 * 86400) * 1000);
  });
});

describe('device topics and moved tokens over the WebSocket', () => {
  it('allows only the app’s APNs topic over the WebSocket, any topic over REST, and never says who had a token', async () => {
    const app = await stack.newApp();
    await stack.database.sql`
      update apps set channel_credentials = ${JSON.stringify({
        apns: {
          keyId: 'KEY1234567',
          teamId: 'TEAM123456',
          topic: 'com.example.app',
          privateKey: 'not-a-real-key',
        },
      })}::jsonb where id = ${app.id}`;
    const api = client(stack.url, app.apiKey);
    const token = 'ab'.repeat(32);
    const s = await connect(app, 'tess');
    await s.synced();
    s.send({ type: 'registerDevice', platform: 'apns', token, topic: 'com.evil.app', ref: 'bad' });
    expect(await s.frame('error', (f) => f.ref === 'bad')).toMatchObject({ code: 'topic_not_allowed' });
    s.send({ type: 'registerDevice', platform: 'apns', token, topic: 'com.example.app', ref: 'good' });
    expect(await s.frame('ok', (f) => f.ref === 'good')).toMatchObject({ created: true });

    // The app server may name any topic.
    const rest = await api('PUT', `/v1/accounts/uma/devices/apns/${'cd'.repeat(32)}`, { topic: 'com.other' });
    expect(rest.status).toBe(201);

    // uma's token moves to tess; tess hears only that it was not new.
    s.send({ type: 'registerDevice', platform: 'apns', token: 'cd'.repeat(32), ref: 'move' });
    const moved: Frame = await s.frame('ok', (f) => f.ref === 'move');
    expect(moved).toEqual({ type: 'ok', ref: 'move', created: false });
  });
});

describe('statement_timeout', () => {
  it('bounds every statement of a pool: 30 s by default, configurable', async () => {
    const url = stack.config.DATABASE_URL as string;
    const plain = connectDatabase(url, 1);
    const short = connectDatabase(url, 1, { statementTimeoutMs: 200 });
    try {
      expect(await plain.sql`show statement_timeout`).toEqual([{ statement_timeout: '30s' }]);
      await expect(short.sql`select pg_sleep(2)`).rejects.toMatchObject({ code: '57014' });
      // The pool's connection is usable after.
      expect(await short.sql`select 1 as one`).toEqual([{ one: 1 }]);
    } finally {
      await plain.close();
      await short.close();
    }
  });
});
