/**
 * Hostile input, generated: malformed and abusive requests to every route the OpenAPI document lists (and the
 * Tencent layer), and malformed frames of every WebSocket frame type. Every one must be answered with a 4xx and
 * a stable error code (or an `error` frame / a documented close code), never a 5xx; no error-level log line may
 * appear; the server must be healthy afterwards; and another tenant's data must be exactly as it was.
 */
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import { captureLogs, type LogCapture } from './support/logs.ts';
import { client, startTestStack, type TestStack } from './support/stack.ts';
import { type Frame, TestSocket } from './support/ws.ts';

const { Api } = createRequire(import.meta.url)('tls-sig-api-v2') as {
  Api: new (sdkAppId: number, key: string) => { genUserSig(id: string, ttl: number): string };
};

let stack: TestStack;
let logs: LogCapture;
let victim: CreatedApp;
let attacker: CreatedApp;

/** Strings that broke something somewhere: NUL, lone surrogates, control characters, huge, odd Unicode. */
const poisonString = fc.constantFrom(
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\u0007\u001b[31m',
  '',
  ' ',
  '\u202e',
  '💥'.repeat(40),
  'x'.repeat(70_000),
  '../../etc/passwd',
  '%00',
  "'; drop table apps; --",
);
const poisonValue = fc.oneof(
  poisonString,
  fc.constantFrom(null, true, -1, 0, 1e308, -1e308, 2 ** 53 + 1, 1.5, [], {}, [[[[[]]]]], { $ne: 1 }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** A valid body for each route that takes one (by `METHOD path-template`), so that one poisoned field is the only fault. */
const VALID_BODIES: Record<string, unknown> = {
  'POST /v1/pushes': {
    audience: { TagsOr: ['vip'] },
    message: { elements: [{ type: 'text', text: 'hi' }], from: 'admin' },
    offline: { title: 't', body: 'b', apns: { title: 'x' }, android: { channelId: 'c' } },
    retentionSeconds: 60,
    sendAt: new Date(Date.now() + 3_600_000).toISOString(),
  },
  'POST /v1/campaigns': {
    name: 'c',
    steps: [
      {
        at: new Date(Date.now() + 3_600_000).toISOString(),
        message: { elements: [{ type: 'text', text: 'x' }] },
      },
    ],
  },
  'PATCH /v1/campaigns/{id}': { steps: [{ index: 0, at: new Date(Date.now() + 7_200_000).toISOString() }] },
  'POST /v1/accounts': { accounts: [{ id: 'mallory', nick: 'M', faceUrl: 'https://x.test/a.png' }] },
  'POST /v1/accounts/search': { condition: { TagsOr: ['vip'] }, limit: 10 },
  'POST /v1/accounts/delete': { accounts: ['nobody-here'] },
  'POST /v1/accounts/{id}/token': { ttlSeconds: 3600 },
  'PUT /v1/accounts/{id}/devices/{platform}/{token}': { environment: 'sandbox', topic: 'com.example.app' },
  'PATCH /v1/apps/current': { name: 'n', dailyPushQuota: 10, minPushIntervalMs: 0, adminIdentifier: 'admin' },
  'POST /v1/apps': { name: 'x', sdkAppId: 1_400_000_001, secretKey: 'k'.repeat(40) },
  'POST /v1/audience/preview': { audience: { AttrsAnd: { city: 'x' } } },
  'PATCH /v1/attributes': { names: { '0': 'city' } },
  'POST /v1/tags/add': { accounts: [{ id: 'alice', tags: ['a'] }] },
  'POST /v1/tags/remove': { accounts: [{ id: 'alice', tags: ['a'] }] },
  'POST /v1/tags/remove-all': { accounts: ['alice'] },
  'POST /v1/tags/get': { accounts: ['alice'] },
  'POST /v1/attributes/set': { accounts: [{ id: 'alice', attributes: { city: 'x' } }] },
  'POST /v1/attributes/remove': { accounts: [{ id: 'alice', attributes: ['city'] }] },
  'POST /v1/attributes/get': { accounts: ['alice'] },
  'POST /v1/accounts/{id}/tags': { tags: ['a'] },
  'POST /v1/accounts/{id}/tags/remove': { tags: ['a'] },
  'POST /v1/accounts/{id}/attributes': { attributes: { city: 'x' } },
  'POST /v1/accounts/{id}/attributes/remove': { attributes: ['city'] },
  'POST /v4/all_member_push/im_push': {
    From_Account: 'administrator',
    MsgRandom: 12345,
    Condition: { TagsOr: ['vip'] },
    MsgLifeTime: 60,
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'hi' } }],
    OfflinePushInfo: {
      Title: 't',
      Desc: 'd',
      Ext: 'e',
      ApnsInfo: { Sound: 's' },
      AndroidInfo: { Sound: 's' },
    },
  },
  'POST /v4/im_open_login_svc/multiaccount_import': { AccountList: [{ UserID: 'mallory', Nick: 'M' }] },
  'POST /v4/all_member_push/im_set_tag': { UserTags: [{ To_Account: 'alice', Tags: ['a'] }] },
  'POST /v4/all_member_push/im_set_attr': { UserAttrs: [{ To_Account: 'alice', Attrs: { city: 'x' } }] },
  'POST /v4/timpush/revoke': { TaskId: 'nope' },
  'PUT /v1/apps/current/credentials/apns': {
    keyId: 'ABCDEFGHIJ',
    teamId: 'ABCDEFGHIJ',
    topic: 'com.example.app',
    privateKey: '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----',
  },
  'PUT /v1/apps/current/credentials/fcm': {
    serviceAccount: {
      type: 'service_account',
      project_id: 'p',
      client_email: 'a@b.test',
      private_key: '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----',
    },
  },
  'PUT /v1/apps/current/credentials/webpush': { subject: 'mailto:ops@example.com' },
};

/** Path parameters: real, unknown and hostile values. */
const PARAMS: Record<string, string[]> = {
  id: ['alice', 'nobody', '%00', '%ED%A0%80', 'x'.repeat(300), '..%2F..', '%E2%80%AE', '0'],
  platform: ['apns', 'fcm', 'webpush', '%00', 'APNS'],
  token: ['ab'.repeat(32), 'zz', '%00', 'x'.repeat(5000)],
  name: ['city', '%00', 'x'.repeat(300), 'nope'],
  provider: ['apns', 'fcm', 'webpush', 'nope'],
};

type Route = { method: string; template: string };

/** Values every leaf of every valid body is replaced with, one at a time. */
const SYSTEMATIC_POISONS: unknown[] = [
  '\u0000',
  'x\ud800',
  '',
  'x'.repeat(70_000),
  null,
  -1,
  1e308,
  {},
  [],
  true,
];

/** How many leaves `poisonOneLeaf` can pick from. */
function leafCount(value: unknown): number {
  if (value === null || typeof value !== 'object') return 1;
  const children = Array.isArray(value) ? value : Object.values(value);
  return children.length ? children.reduce((n: number, c) => n + leafCount(c), 0) : 1;
}

/** Replaces one leaf (chosen by `pick`) of a JSON value with `poison`. */
function poisonOneLeaf(value: unknown, pick: number, poison: unknown): unknown {
  const leaves: (string | number)[][] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    if (v !== null && typeof v === 'object') {
      const entries = Array.isArray(v) ? v.map((x, i) => [i, x] as const) : Object.entries(v);
      if (!entries.length) leaves.push(path);
      for (const [k, x] of entries) walk(x, [...path, k]);
    } else leaves.push(path);
  };
  walk(value, []);
  const target = leaves[pick % leaves.length] ?? [];
  if (!target.length) return poison;
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let at: Record<string | number, unknown> = copy;
  for (const k of target.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  at[target.at(-1) as string | number] = poison;
  return copy;
}

/** One generated request: which route, which key, what body (as text) and content type. */
const requestArb = (routes: Route[]) =>
  fc.record({
    route: fc.constantFrom(...routes),
    params: fc.record(Object.fromEntries(Object.entries(PARAMS).map(([k, v]) => [k, fc.constantFrom(...v)]))),
    auth: fc.constantFrom('attacker', 'attacker', 'attacker', 'none', 'wrong', 'victim-readonly'),
    body: fc.oneof(
      fc.record({ kind: fc.constant('poisoned' as const), pick: fc.nat(50), poison: poisonValue }),
      fc.record({ kind: fc.constant('random' as const), value: fc.jsonValue({ maxDepth: 4 }) }),
      fc.record({
        kind: fc.constant('raw' as const),
        text: fc.constantFrom('', '{', '{"a":', 'null', '[]', '"x"', '{"a":1}x', '\u0000', '{}'.repeat(1000)),
      }),
    ),
    contentType: fc.constantFrom('application/json', 'application/json', 'text/plain', 'none'),
  });

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function snapshotOf(app: CreatedApp) {
  const api = client(stack.url, app.apiKey);
  const [settings, accounts, pushes, attributes] = await Promise.all([
    api('GET', '/v1/apps/current'),
    api('GET', '/v1/accounts?limit=1000'),
    api('GET', '/v1/pushes?limit=200'),
    api('GET', '/v1/attributes'),
  ]);
  return {
    settings: settings.body,
    accounts: accounts.body,
    pushes: pushes.body,
    attributes: attributes.body,
  };
}

beforeAll(async () => {
  logs = captureLogs('warn');
  stack = await startTestStack({ log: logs.logger });
  victim = await stack.newApp();
  attacker = await stack.newApp();
  for (const app of [victim, attacker]) {
    const api = client(stack.url, app.apiKey);
    expect((await api('PATCH', '/v1/attributes', { names: { '0': 'city' } })).status).toBe(200);
    expect((await api('POST', '/v1/accounts', { accounts: [{ id: 'alice' }, { id: 'bob' }] })).status).toBe(
      200,
    );
    expect((await api('POST', '/v1/tags/add', { accounts: [{ id: 'alice', tags: ['vip'] }] })).status).toBe(
      200,
    );
  }
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('hostile HTTP requests', () => {
  it('answers every generated malformed request with a 4xx and a stable code, never a 5xx', async () => {
    const doc = (await (await fetch(`${stack.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const routes: Route[] = Object.entries(doc.paths).flatMap(([template, ops]) =>
      Object.keys(ops).map((m) => ({ method: m.toUpperCase(), template })),
    );
    routes.push(
      { method: 'POST', template: '/v4/all_member_push/im_push' },
      { method: 'POST', template: '/v4/im_open_login_svc/multiaccount_import' },
      { method: 'POST', template: '/nowhere/{id}' },
    );
    expect(routes.length).toBeGreaterThan(30);
    const before = await snapshotOf(victim);
    const failures: string[] = [];
    let count = 0;
    const statuses = new Map<number, number>();
    const attackerSig = new Api(attacker.sdkAppId, attacker.secretKey).genUserSig('administrator', 3600);

    type Sent = { method: string; path: string; auth: string; contentType: string; text: string };
    const send = async ({ method, path, auth, contentType, text }: Sent) => {
      count++;
      const url = path.startsWith('/v4/')
        ? `${path}?sdkappid=${attacker.sdkAppId}&identifier=administrator&usersig=${auth === 'attacker' ? attackerSig : 'bogus'}&random=1&contenttype=json`
        : path;
      const headers: Record<string, string> = {
        ...(contentType === 'none' ? {} : { 'content-type': contentType }),
        ...(auth === 'attacker' ? bearer(attacker.apiKey) : {}),
        ...(auth === 'wrong' ? bearer('hk_wrong') : {}),
        ...(auth === 'victim-readonly' && method === 'GET' ? bearer(victim.apiKey) : {}),
      };
      const hasBody = method !== 'GET' && method !== 'DELETE';
      const res = await fetch(`${stack.url}${url}`, { method, headers, ...(hasBody ? { body: text } : {}) });
      const raw = await res.text();
      let body: { error?: { code?: unknown }; ErrorCode?: unknown } | undefined;
      try {
        body = JSON.parse(raw) as typeof body;
      } catch {
        body = undefined;
      }
      const what = `${method} ${url.slice(0, 120)} (${auth}, ${contentType}) ${text.slice(0, 120)} → ${res.status} ${raw.slice(0, 200)}`;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) failures.push(what);
      else if (path.startsWith('/v4/')) {
        if (res.status !== 200 || typeof body?.ErrorCode !== 'number' || body.ErrorCode >= 91_000)
          failures.push(what);
      } else if (res.status >= 400 && typeof body?.error?.code !== 'string') failures.push(what);
    };
    const fill = (template: string, params: Record<string, string>) =>
      template.replace(/\{(\w+)\}/g, (_, k: string) => params[k] ?? 'x');

    // Every leaf of every route's valid body, poisoned in turn with each of the values that broke things.
    for (const [key, valid] of Object.entries(VALID_BODIES)) {
      const [method = 'POST', template = '/'] = key.split(' ');
      const path = fill(template, {
        id: 'alice',
        platform: 'fcm',
        token: 'tok',
        name: 'city',
        provider: 'fcm',
      });
      for (let pick = 0; pick < leafCount(valid); pick++) {
        for (const poison of SYSTEMATIC_POISONS) {
          const text = JSON.stringify(poisonOneLeaf(valid, pick, poison));
          await send({ method, path, auth: 'attacker', contentType: 'application/json', text });
        }
      }
    }
    // Then random requests to every route: random keys, bodies, content types and path parameters.
    await fc.assert(
      fc.asyncProperty(requestArb(routes), async (r) => {
        const { method, template } = r.route;
        const validBody = VALID_BODIES[`${method} ${template}`] ?? {};
        const text =
          r.body.kind === 'raw'
            ? r.body.text
            : JSON.stringify(
                r.body.kind === 'random'
                  ? r.body.value
                  : poisonOneLeaf(validBody, r.body.pick, r.body.poison),
              );
        await send({
          method,
          path: fill(template, r.params),
          auth: r.auth,
          contentType: r.contentType,
          text,
        });
      }),
      { numRuns: 320, seed: Number(process.env.HOSTILE_SEED ?? 20261201) },
    );

    console.log(
      [...statuses]
        .sort()
        .map(([k, v]) => `${k}: ${v}`)
        .join(', '),
    );
    expect(count).toBeGreaterThanOrEqual(800);
    expect(failures.slice(0, 20)).toEqual([]);
    expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
    expect(await snapshotOf(victim)).toEqual(before);
    expect(logs.errors()).toEqual([]);
  }, 240_000);
});

describe('hostile WebSocket frames', () => {
  const FRAME_TEMPLATES: Record<string, Record<string, unknown>> = {
    ack: { type: 'ack', ids: ['0190a5c8-0000-7000-8000-000000000000'], ref: 'r' },
    ping: { type: 'ping', ref: 'r' },
    registerDevice: {
      type: 'registerDevice',
      platform: 'fcm',
      token: 'tok',
      environment: 'sandbox',
      ref: 'r',
    },
    unregisterDevice: { type: 'unregisterDevice', platform: 'fcm', token: 'tok', ref: 'r' },
    auth: { type: 'auth', token: 'x.y.z', ref: 'r' },
    unknown: { type: 'subscribe', ref: 'r' },
  };

  it('answers every malformed frame of every type with an error frame or a documented close, never internal', async () => {
    logs.clear();
    const token = await client(stack.url, attacker.apiKey)<{ token: string }>(
      'POST',
      '/v1/accounts/alice/token',
      {
        ttlSeconds: 3600,
      },
    );
    const documentedCloses = new Set([1000, 1009, 4001, 4003, 4008, 4400, 4429]);
    const bad: string[] = [];
    let sent = 0;
    const sockets: TestSocket[] = [];
    const reopen = async () => {
      const s = await TestSocket.open(stack.wsUrl, token.body.token);
      await s.synced();
      sockets.push(s);
      return s;
    };
    let socket = await reopen();

    const sendFrame = async (f: unknown) => {
      if (socket.closed) {
        if (!documentedCloses.has(socket.closed.code)) bad.push(`closed ${JSON.stringify(socket.closed)}`);
        socket = await reopen();
      }
      socket.ws.send(JSON.stringify(f));
      sent++;
      await new Promise((r) => setTimeout(r, 2));
    };
    // Every leaf of every frame type, poisoned in turn, then random poisons.
    for (const template of Object.values(FRAME_TEMPLATES)) {
      for (let pick = 0; pick < leafCount(template); pick++) {
        for (const poison of SYSTEMATIC_POISONS) await sendFrame(poisonOneLeaf(template, pick, poison));
      }
    }
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...Object.keys(FRAME_TEMPLATES)),
        fc.nat(10),
        poisonValue,
        async (type, pick, poison) => {
          const template = FRAME_TEMPLATES[type] ?? {};
          // Keep `type` intact half of the time so the frame's own fields are what is wrong.
          const f = poisonOneLeaf(template, pick, poison) as Record<string, unknown>;
          if (pick % 2 === 0) f.type = template.type;
          await sendFrame(f);
        },
      ),
      { numRuns: 150, seed: Number(process.env.HOSTILE_SEED ?? 20261201) },
    );
    await new Promise((r) => setTimeout(r, 1000));
    const internal = (s: TestSocket) =>
      s.frames.filter((f: Frame) => f.type === 'error' && f.code === 'internal');
    expect(sent).toBeGreaterThanOrEqual(300);
    expect(sockets.flatMap(internal)).toEqual([]);
    expect(bad).toEqual([]);
    if (socket.closed) expect(documentedCloses.has(socket.closed.code)).toBe(true);
    await Promise.all(sockets.map((s) => s.close()));
    expect(logs.errors()).toEqual([]);
  }, 120_000);
});
