/**
 * Safe to expose, the HTTP side (issue 11): body limits enforced while streaming and after authentication,
 * text PostgreSQL cannot store refused with its field, secrets kept out of the logs and out of /readyz, races
 * that answered 500 or a spurious 429, and the operator's ceilings on what a tenant sets itself.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../api/app.ts';
import { freePort } from '../cli/temporal-dev.ts';
import { ConfigError, loadConfig } from '../core/config.ts';
import type { CreatedApp } from '../db/apps.ts';
import { connectDatabase } from '../db/client.ts';
import { generateApnsKey, generateServiceAccount } from '../fakes/keys.ts';
import { captureLogs, type LogCapture } from './support/logs.ts';
import { client, startTestStack, type TestStack } from './support/stack.ts';

const { Api } = createRequire(import.meta.url)('tls-sig-api-v2') as {
  Api: new (sdkAppId: number, key: string) => { genUserSig(id: string, ttl: number): string };
};

const MiB = 1024 * 1024;
let stack: TestStack;
let logs: LogCapture;
let app: CreatedApp;

beforeAll(async () => {
  logs = captureLogs('debug');
  stack = await startTestStack({ log: logs.logger });
  app = await stack.newApp();
}, 120_000);
afterAll(() => stack?.stop());

const root = () => client(stack.url, stack.config.HERALD_ROOT_KEY);
const deps = () => ({
  config: stack.config,
  database: stack.database,
  temporal: stack.temporal,
  log: logs.logger,
});

/**
 * POSTs `total` bytes chunked (no Content-Length), 1 MiB at a time, until the server answers: the status, how
 * long the answer took and how many bytes had been handed to the socket by then.
 */
function postChunked(
  path: string,
  total: number,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; ms: number; sent: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request(`${stack.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', ...headers },
    });
    const chunk = Buffer.alloc(MiB, 'a');
    let sent = 0;
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body, ms: Date.now() - started, sent });
        req.destroy();
      });
    });
    // The server closes the connection after answering (it drains at most a little): not a failure.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const pump = () => {
      if (sent === 0) req.write('{"a":"');
      while (!answered && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) req.end('"}');
    };
    pump();
  });
}

describe('body limits', () => {
  it('refuses an unauthenticated 50 MB chunked body without reading it, and memory stays bounded', async () => {
    const before = process.memoryUsage().rss;
    const v1 = await postChunked('/v1/accounts', 50 * MiB);
    expect(v1.status).toBe(401);
    expect(JSON.parse(v1.body)).toMatchObject({ error: { code: 'unauthorized' } });
    const nowhere = await postChunked('/nowhere/at/all', 50 * MiB);
    expect(nowhere.status).toBe(404);
    const wrongKey = await postChunked('/v1/pushes', 50 * MiB, { authorization: 'Bearer hk_wrong' });
    expect(wrongKey.status).toBe(401);
    const rootRoute = await postChunked('/v1/apps', 50 * MiB, { authorization: 'Bearer nope' });
    expect(rootRoute.status).toBe(401);
    for (const r of [v1, nowhere, wrongKey, rootRoute]) expect(r.ms).toBeLessThan(5_000);
    // Reading and parsing 4 × 50 MB would add hundreds of MB; a few MB of socket buffers may stay.
    const grown = process.memoryUsage().rss - before;
    expect(grown, `rss grew by ${Math.round(grown / MiB)} MiB`).toBeLessThan(40 * MiB);
  });

  it('answers 413 payload_too_large to a 2 MiB authenticated body, with or without Content-Length', async () => {
    const api = client(stack.url, app.apiKey);
    const big = JSON.stringify({ message: { elements: [{ type: 'text', text: 'x'.repeat(2 * MiB) }] } });
    const sized = await api('POST', '/v1/pushes', big);
    expect(sized).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
    const chunked = await postChunked('/v1/pushes', 2 * MiB, { authorization: `Bearer ${app.apiKey}` });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toMatchObject({ error: { code: 'payload_too_large' } });
    // The operator's routes too.
    const made = await root()('POST', '/v1/apps', { name: 'x'.repeat(2 * MiB) });
    expect(made).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
  });

  it('takes the documented largest import batch (1,000 accounts × 100 tags of 50 bytes)', async () => {
    const api = client(stack.url, app.apiKey);
    const accounts = Array.from({ length: 1000 }, (_, i) => ({
      id: `nobody-${i}`,
      tags: Array.from({ length: 100 }, (_, t) => `${t}`.padStart(50, 't')),
    }));
    const body = JSON.stringify({ accounts });
    expect(Buffer.byteLength(body)).toBeGreaterThan(5 * MiB);
    const res = await api('POST', '/v1/tags/add', body);
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
    // Elsewhere the same body is too large.
    expect((await api('POST', '/v1/tags/get', body)).status).toBe(413);
  });

  it('answers an oversized v4 body in Tencent’s shape (60008), after checking the UserSig', async () => {
    const sig = new Api(app.sdkAppId, app.secretKey).genUserSig('administrator', 3600);
    const url = (usersig: string) =>
      `/v4/all_member_push/im_push?sdkappid=${app.sdkAppId}&identifier=administrator&usersig=${usersig}&random=1&contenttype=json`;
    const big = await postChunked(url(sig), 2 * MiB);
    expect(big.status).toBe(200);
    expect(JSON.parse(big.body)).toMatchObject({ ActionStatus: 'FAIL', ErrorCode: 60008 });
    const unsigned = await postChunked(url('bogus'), 50 * MiB);
    expect(JSON.parse(unsigned.body)).toMatchObject({ ActionStatus: 'FAIL', ErrorCode: 70003 });
    expect(unsigned.ms).toBeLessThan(5_000);
  });
});

describe('text PostgreSQL cannot store', () => {
  const text = (t: string) => ({ elements: [{ type: 'text', text: t }] });
  const cases: [string, string, unknown, string][] = [
    ['POST', '/v1/pushes', { message: text('a\u0000b') }, 'message.elements.0.text: '],
    ['POST', '/v1/pushes', { message: text('hi'), offline: { title: 'x\ud800' } }, 'offline.title: '],
    ['POST', '/v1/pushes', { message: { ...text('hi'), from: '\udfff' } }, 'message.from: '],
    [
      'POST',
      '/v1/campaigns',
      {
        name: 'c\u0000',
        steps: [{ at: new Date(Date.now() + 3_600_000).toISOString(), message: text('x') }],
      },
      'name: ',
    ],
    ['PATCH', '/v1/apps/current', { adminIdentifier: 'ad\u0000min' }, 'adminIdentifier: '],
    ['PATCH', '/v1/apps/current', { name: '\ud83d' }, 'name: '],
    [
      'POST',
      '/v1/pushes',
      { message: text('hi'), audience: { 'Tags\u0000Or': ['x'] } },
      'audience.Tags\ufffdOr: ',
    ],
  ];
  it.each(cases)('%s %s: 400 invalid_request at the field', async (method, path, body, start) => {
    const res = await client(stack.url, app.apiKey)<{ error: { code: string; message: string } }>(
      method,
      path,
      body,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.message).toBe(`${start}must not contain NUL or unpaired surrogate characters`);
  });

  // The audience data's own rules refuse such text field by field, with their documented codes.
  const audience: [string, string, unknown, string, string][] = [
    ['PATCH', '/v1/attributes', { names: { '0': 'ci\u0000ty' } }, 'invalid_attribute_name', 'names'],
    [
      'POST',
      '/v1/attributes/set',
      { accounts: [{ id: 'alice', attributes: { 'a\u0000': 'x' } }] },
      'invalid_attribute_name',
      'accounts[0].attributes',
    ],
    ['POST', '/v1/tags/add', { accounts: [{ id: 'alice', tags: ['\ud800'] }] }, 'invalid_tag', 'accounts[0]'],
    ['POST', '/v1/accounts', { accounts: [{ id: 'bob', nick: 'b\u0000' }] }, 'invalid_request', 'accounts'],
  ];
  it.each(audience)('%s %s: the audience rules’ own code', async (method, path, body, code, start) => {
    const res = await client(stack.url, app.apiKey)<{ error: { code: string; message: string } }>(
      method,
      path,
      body,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message.startsWith(start), res.body.error.message).toBe(true);
    expect(res.body.error.message).toMatch(/NUL|unpaired surrogate/);
  });

  it('keeps a well-formed surrogate pair (an emoji)', async () => {
    const res = await client(stack.url, app.apiKey)('POST', '/v1/pushes', { message: text('💥') });
    expect(res.status).toBe(201);
  });

  it('answers a v4 MsgBody with NUL with the command’s bad-parameter code', async () => {
    const sig = new Api(app.sdkAppId, app.secretKey).genUserSig('administrator', 3600);
    const res = await fetch(
      `${stack.url}/v4/all_member_push/im_push?sdkappid=${app.sdkAppId}&identifier=administrator&usersig=${sig}&random=1`,
      {
        method: 'POST',
        body: JSON.stringify({
          From_Account: 'administrator',
          MsgRandom: 7,
          MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'a\u0000' } }],
        }),
      },
    );
    const body = (await res.json()) as { ErrorCode: number; ErrorInfo: string };
    expect(body.ErrorCode).toBe(90002);
    expect(body.ErrorInfo).toContain('MsgBody[0].MsgContent.Text');
  });

  it('answers an empty application/json body with invalid_json, like any other malformed body', async () => {
    const res = await client(stack.url, app.apiKey)('POST', '/v1/pushes', '');
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
  });
});

describe('secrets stay out of the logs', () => {
  it('logs a failed credentials update without the private key or any bound parameter', async () => {
    const victim = await stack.newApp();
    // A database failure on this app's row only: the statement carries the key as a bound parameter.
    const fn = `fail_${victim.id.replace(/-/g, '_')}`;
    await stack.database.sql.unsafe(`
      create function ${fn}() returns trigger language plpgsql as $$
      begin raise exception 'simulated failure'; end $$;
      create trigger ${fn} before update on apps for each row when (old.id = '${victim.id}')
        execute function ${fn}();`);
    try {
      logs.clear();
      const api = client(stack.url, victim.apiKey);
      const apns = generateApnsKey({ topic: 'com.example.app', keyId: 'ABC123DEFG', teamId: 'TEAM123456' });
      const put = await api('PUT', '/v1/apps/current/credentials/apns', apns.credentials);
      expect(put.status).toBe(500);
      const sa = generateServiceAccount('proj-secret');
      const { serviceAccount } = sa.credentials('https://oauth2.example/token');
      const fcm = await api('PUT', '/v1/apps/current/credentials/fcm', { serviceAccount });
      expect(fcm.status, JSON.stringify(fcm.body)).toBe(500);
      const keyLines = (pem: string) => pem.split('\n').filter((l) => l.length > 40);
      const logged = logs.text();
      expect(logged).toContain('simulated failure');
      expect(logged).toContain('P0001');
      for (const line of [...keyLines(apns.credentials.privateKey), ...keyLines(sa.privateKey)])
        expect(logged).not.toContain(line);
    } finally {
      await stack.database.sql.unsafe(`drop trigger ${fn} on apps; drop function ${fn}();`);
    }
  });

  it('names a bad variable without its value', () => {
    const bad = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    const url = bad({ DATABASE_URL: 'mysql://herald:hunter2-secret@db.internal/herald' });
    expect(url).toContain('DATABASE_URL');
    expect(url).not.toContain('hunter2');
    const key = bad({ HERALD_ROOT_KEY: 'short-but-secret-root-key' });
    expect(key).toContain('HERALD_ROOT_KEY');
    expect(key).toContain('32');
    expect(key).not.toContain('short-but-secret');
  });

  it('says on /readyz that PostgreSQL is down without its error text', async () => {
    const port = await freePort();
    const down = connectDatabase(`postgres://herald:pw-secret@127.0.0.1:${port}/nothing`, 1);
    const capture = captureLogs('debug');
    try {
      const api = createApi({ ...deps(), database: down, log: capture.logger });
      const res = await api.request('/readyz');
      const text = await res.text();
      expect(res.status).toBe(503);
      expect(JSON.parse(text)).toMatchObject({ checks: { postgres: 'down', temporal: 'ok' } });
      expect(text).not.toMatch(/ECONNREFUSED|pw-secret|127\.0\.0\.1/);
      const line = capture.lines.find((l) => l.dependency === 'postgres');
      expect(line?.level).toBe(20);
      expect(capture.text()).not.toContain('pw-secret');
    } finally {
      await down.close();
    }
  });
});

describe('races', () => {
  it('answers two concurrent creates of one sdkAppId with 201 and 409, never 500', async () => {
    logs.clear();
    for (let round = 0; round < 3; round++) {
      const sdkAppId = 2_000_000_000 + Math.floor(Math.random() * 1_000_000_000);
      const secretKey = 's'.repeat(40);
      const answers = await Promise.all(
        [1, 2].map(() => root()('POST', '/v1/apps', { name: 'race', sdkAppId, secretKey })),
      );
      expect(answers.map((a) => a.status).sort()).toEqual([201, 409]);
      expect(answers.find((a) => a.status === 409)?.body).toMatchObject({
        error: { code: 'sdk_app_id_taken' },
      });
    }
    expect(logs.errors()).toEqual([]);
  });

  it('never refuses a burst of pushes as too_frequent when the interval is 0', async () => {
    const burst = await stack.newApp({ minPushIntervalMs: 0 });
    const api = client(stack.url, burst.apiKey);
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(
        Array.from({ length: 8 }, () =>
          api('POST', '/v1/pushes', { message: { elements: [{ type: 'text', text: 'burst' }] } }),
        ),
      );
      expect(answers.map((a) => `${a.status} ${JSON.stringify(a.body).slice(0, 80)}`)).toEqual(
        answers.map((a) => `201 ${JSON.stringify(a.body).slice(0, 80)}`),
      );
    }
  });
});

describe('operator ceilings and the root key', () => {
  it('keeps a tenant within HERALD_MAX_DAILY_PUSH_QUOTA and HERALD_MIN_PUSH_INTERVAL_MS', async () => {
    expect(stack.config.HERALD_MAX_DAILY_PUSH_QUOTA).toBe(10_000);
    expect(stack.config.HERALD_MIN_PUSH_INTERVAL_MS).toBe(1000);
    const over = await root()('POST', '/v1/apps', { name: 'greedy', dailyPushQuota: 10_001 });
    expect(over).toMatchObject({ status: 400, body: { error: { code: 'limit_above_ceiling' } } });
    expect((over.body as { error: { message: string } }).error.message).toMatch(/^dailyPushQuota: .*10000/);
    const fast = await root()('POST', '/v1/apps', { name: 'greedy', minPushIntervalMs: 0 });
    expect(fast).toMatchObject({ status: 400, body: { error: { code: 'limit_above_ceiling' } } });

    const made = await root()<CreatedApp>('POST', '/v1/apps', { name: 'tenant', dailyPushQuota: 10_000 });
    expect(made.status).toBe(201);
    const tenant = client(stack.url, made.body.apiKey);
    const raise = await tenant<{ error: { code: string; message: string } }>('PATCH', '/v1/apps/current', {
      dailyPushQuota: 1_000_000,
    });
    expect(raise.status).toBe(400);
    expect(raise.body.error.code).toBe('limit_above_ceiling');
    expect(raise.body.error.message).toMatch(/^dailyPushQuota: at most 10000 .*HERALD_MAX_DAILY_PUSH_QUOTA/);
    const quick = await tenant<{ error: { message: string } }>('PATCH', '/v1/apps/current', {
      minPushIntervalMs: 0,
    });
    expect(quick).toMatchObject({ status: 400, body: { error: { code: 'limit_above_ceiling' } } });
    expect(quick.body.error.message).toMatch(/^minPushIntervalMs: at least 1000/);
    expect((await tenant('PATCH', '/v1/apps/current', { dailyPushQuota: 500 })).status).toBe(200);

    // The operator sets more; the tenant may keep or lower it, not raise it further.
    const limits = await root()('PATCH', `/v1/apps/${made.body.id}/limits`, {
      dailyPushQuota: 500_000,
      minPushIntervalMs: 0,
    });
    expect(limits).toMatchObject({
      status: 200,
      body: { id: made.body.id, dailyPushQuota: 500_000, minPushIntervalMs: 0 },
    });
    expect((await tenant('GET', '/v1/apps/current')).body).toMatchObject({
      dailyPushQuota: 500_000,
      minPushIntervalMs: 0,
    });
    expect((await tenant('PATCH', '/v1/apps/current', { dailyPushQuota: 500_000, name: 'n' })).status).toBe(
      200,
    );
    expect((await tenant('PATCH', '/v1/apps/current', { dailyPushQuota: 500_001 })).status).toBe(400);
    expect((await tenant('PATCH', '/v1/apps/current', { minPushIntervalMs: 0 })).status).toBe(200);
  });

  it('guards the limits route with the root key', async () => {
    const path = `/v1/apps/${app.id}/limits`;
    expect((await client(stack.url, app.apiKey)('PATCH', path, { dailyPushQuota: 5 })).status).toBe(401);
    expect((await client(stack.url, 'x')('PATCH', path, { dailyPushQuota: 5 })).status).toBe(401);
    expect((await client(stack.url)('PATCH', path, { dailyPushQuota: 5 })).status).toBe(401);
    const longer = client(stack.url, `${stack.config.HERALD_ROOT_KEY}x`);
    expect((await longer('PATCH', path, { dailyPushQuota: 5 })).status).toBe(401);
    const missing = await root()('PATCH', '/v1/apps/no-such-app/limits', { dailyPushQuota: 5 });
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    const bad = await root()('PATCH', path, { dailyPushQuota: 0 });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });

    const noRoot = createApi({ ...deps(), config: { ...stack.config, HERALD_ROOT_KEY: undefined } });
    for (const [method, p] of [
      ['PATCH', path],
      ['POST', '/v1/apps'],
    ] as const) {
      const res = await noRoot.request(p, {
        method,
        headers: {
          authorization: `Bearer ${stack.config.HERALD_ROOT_KEY}`,
          'content-type': 'application/json',
        },
        body: '{"dailyPushQuota":5,"name":"x"}',
      });
      expect(res.status).toBe(404);
    }
  });

  it('takes an operator-supplied secret key of 32 characters or more only', async () => {
    const short = await root()('POST', '/v1/apps', { name: 'k', secretKey: 'k'.repeat(31) });
    expect(short).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    expect((short.body as { error: { message: string } }).error.message).toMatch(/^secretKey:/);
    expect((await root()('POST', '/v1/apps', { name: 'k', secretKey: 'k'.repeat(32) })).status).toBe(201);
  });
});

it('logged nothing at error level but the simulated failures', () => {
  expect(logs.errors().filter((e) => !e.includes('simulated failure'))).toEqual([]);
});
