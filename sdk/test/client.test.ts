import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as NodeWebSocket } from 'ws';
import { type ApiHandle, startApi } from '../../cli/api.ts';
import { createLogger } from '../../core/log.ts';
import { mintUserToken } from '../../core/user-token.ts';
import type { CreatedApp } from '../../db/apps.ts';
import { client, startTestStack, type TestStack, waitFor } from '../../test/support/stack.ts';
import {
  backoffDelay,
  type CloseInfo,
  connectUrl,
  HeraldClient,
  type HeraldError,
  type HeraldMessage,
  type HeraldStorage,
  memoryStorage,
  type Recall,
} from '../src/node.ts';

let stack: TestStack;
let app: CreatedApp;
let api: ReturnType<typeof client>;
const open: HeraldClient[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  app = await stack.newApp();
  api = client(stack.url, app.apiKey);
});
afterAll(async () => {
  for (const c of open) c.close();
  await stack?.stop();
});

const token = async (account: string, ttlSeconds = 600) =>
  (await api<{ token: string }>('POST', `/v1/accounts/${account}/token`, { ttlSeconds })).body.token;

async function push(text: string, retentionSeconds = 600): Promise<string> {
  const r = await api<{ id: string }>('POST', '/v1/pushes', {
    message: { elements: [{ type: 'text', text }] },
    retentionSeconds,
  });
  expect(r.status).toBe(201);
  return r.body.id;
}

const counters = async (id: string) =>
  (await api<{ counters: Record<string, number> }>('GET', `/v1/pushes/${id}`)).body.counters;

/** Collects what a client emits. */
function record(c: HeraldClient) {
  const log = {
    messages: [] as HeraldMessage[],
    recalls: [] as Recall[],
    closes: [] as CloseInfo[],
    errors: [] as HeraldError[],
    synced: 0,
  };
  c.on('message', (m) => log.messages.push(m));
  c.on('recall', (r) => log.recalls.push(r));
  c.on('close', (i) => log.closes.push(i));
  c.on('error', (e) => log.errors.push(e));
  c.on('synced', () => {
    log.synced++;
  });
  return log;
}

const until = (what: string, ok: () => boolean, timeoutMs = 15_000) =>
  waitFor(
    async () => ok(),
    (v) => v,
    timeoutMs,
    what,
  );

describe('HeraldClient from Node against the real server', () => {
  it('receives a push, hears its recall, and acks', async () => {
    await api('POST', '/v1/accounts', { accounts: [{ id: 'nia' }] });
    const c = new HeraldClient({ url: stack.url, token: await token('nia') });
    open.push(c);
    const log = record(c);
    const welcome = await c.connect();
    expect(welcome).toMatchObject({ accountId: 'nia', appId: app.id, protocol: 'herald.v1' });
    expect(c.state).toBe('open');

    const id = await push('hi from the SDK test');
    await until('the message', () => log.messages.some((m) => m.id === id));
    expect(log.messages.find((m) => m.id === id)).toMatchObject({
      pushId: id,
      elements: [{ type: 'text', text: 'hi from the SDK test' }],
    });
    c.ack(id);
    await waitFor(
      () => counters(id),
      (x) => x.acked === 1,
      10_000,
      'acked',
    );

    const second = await push('to be recalled');
    await until('the second message', () => log.messages.some((m) => m.id === second));
    await waitFor(
      () => api<{ status: string }>('GET', `/v1/pushes/${second}`),
      (r) => r.body.status === 'completed',
    );
    expect((await api('POST', `/v1/pushes/${second}/recall`)).status).toBe(202);
    await until('the recall', () => log.recalls.some((r) => r.id === second));
  });

  it('reports opens and clicks, counted once per account and message', async () => {
    await api('POST', '/v1/accounts', { accounts: [{ id: 'ona' }] });
    const c = new HeraldClient({ url: stack.url, token: await token('ona') });
    open.push(c);
    const log = record(c);
    await c.connect();
    const id = await push('open me from the SDK');
    await until('the message', () => log.messages.some((m) => m.id === id));
    expect(await c.opened(id)).toEqual({ found: true, counted: { opened: true, clicked: false } });
    expect(await c.opened(id)).toEqual({ found: true, counted: { opened: false, clicked: false } });
    expect(await c.clicked(id, 'more')).toEqual({ found: true, counted: { opened: false, clicked: true } });
    expect(await c.clicked(id)).toEqual({ found: true, counted: { opened: false, clicked: false } });
    expect(await c.opened('00000000-0000-7000-8000-000000000000')).toMatchObject({ found: false });
    expect(await counters(id)).toMatchObject({ opened: 1, clicked: 1 });
  });

  it('reconnects after a server restart and never hands a message over twice', async () => {
    // An API of its own on a fixed port, so it can be stopped and started again at the same address.
    const log0 = createLogger('silent');
    const deps = { config: stack.config, database: stack.database, temporal: stack.temporal, log: log0 };
    let own: ApiHandle = await startApi(deps);
    const port = own.port;
    await api('POST', '/v1/accounts', { accounts: [{ id: 'oli' }] });
    let tokensAsked = 0;
    const c = new HeraldClient({
      url: own.url,
      getToken: async () => {
        tokensAsked++;
        return token('oli');
      },
      reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
    });
    open.push(c);
    const log = record(c);
    await c.connect();

    const first = await push('before the restart');
    await until('first message', () => log.messages.some((m) => m.id === first));
    // Not acked: the server offers it again on the next connection; the client must not emit it again.
    await own.stop();
    await until('the close', () => log.closes.length > 0);
    expect(log.closes[0]).toMatchObject({ code: 1001, willReconnect: true });
    own = await startApi({ ...deps, config: { ...stack.config, PORT: port } });
    try {
      await until('reconnected and synced', () => c.state === 'open' && log.synced >= 2, 20_000);
      const second = await push('after the restart');
      await until('second message', () => log.messages.some((m) => m.id === second));
      expect(log.messages.map((m) => m.id)).toEqual([first, second]);
      expect(tokensAsked).toBeGreaterThanOrEqual(2);

      // Acked now, it is gone on the server for this account.
      c.ack([first, second]);
      await waitFor(
        () => counters(first),
        (x) => x.acked === 1,
        10_000,
        'first acked',
      );
      c.close();
      expect(c.state).toBe('closed');
      const fresh = new HeraldClient({ url: own.url, token: await token('oli') });
      open.push(fresh);
      const freshLog = record(fresh);
      await fresh.connect();
      await until('fresh synced', () => freshLog.synced === 1);
      await waitFor(
        () => counters(second),
        (x) => x.acked === 1,
        10_000,
        'second acked',
      );
      expect(freshLog.messages.map((m) => m.id)).not.toContain(first);
    } finally {
      await own.stop();
    }
  });

  it('gives up on a refused token unless it can get a new one', async () => {
    const expired = await mintUserToken({
      appId: app.id,
      secretKey: app.secretKey,
      accountId: 'pia',
      ttlSeconds: 60,
      now: new Date(Date.now() - 3600_000),
    });
    const c = new HeraldClient({ url: stack.url, token: expired.token, autoConnect: false });
    open.push(c);
    const log = record(c);
    await expect(c.connect()).rejects.toMatchObject({ code: 'closed_4001', closeCode: 4001 });
    expect(c.state).toBe('closed');
    expect(log.closes).toMatchObject([{ code: 4001, willReconnect: false }]);
    expect(log.errors[0]).toMatchObject({ code: 'closed_4001' });

    // With getToken, the first (expired) token is replaced by a fresh one.
    let calls = 0;
    const renewing = new HeraldClient({
      url: stack.url,
      getToken: async () => (++calls === 1 ? expired.token : token('pia')),
      reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
    });
    open.push(renewing);
    const w = await renewing.connect();
    expect(w.accountId).toBe('pia');
    expect(calls).toBe(2);
  });

  it('lets a listener attached after construction see `connecting`', async () => {
    const c = new HeraldClient({ url: stack.url, token: await token('sol') });
    open.push(c);
    const states: string[] = [];
    c.on('state', (s) => states.push(s));
    expect(c.state).toBe('idle');
    await c.connect();
    expect(states).toEqual(['connecting', 'open']);
  });

  it('asks getToken again when the server closes an expired token (4001) and carries on', async () => {
    await api('POST', '/v1/accounts', { accounts: [{ id: 'tao' }] });
    // Valid for about two more seconds: the server closes the connection with 4001 token_expired then.
    const shortLived = await mintUserToken({
      appId: app.id,
      secretKey: app.secretKey,
      accountId: 'tao',
      ttlSeconds: 60,
      now: new Date(Date.now() - 58_000),
    });
    let calls = 0;
    const c = new HeraldClient({
      url: stack.url,
      getToken: async () => (++calls === 1 ? shortLived.token : token('tao')),
      reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
    });
    open.push(c);
    const log = record(c);
    const opens: string[] = [];
    c.on('open', (w) => opens.push(w.connectionId));
    await c.connect();
    await until('the expiry close', () => log.closes.length > 0, 10_000);
    expect(log.closes[0]).toMatchObject({ code: 4001, willReconnect: true });
    await until('reopened', () => opens.length === 2 && c.state === 'open');
    expect(calls).toBe(2);
    const id = await push('after the new token');
    await until('the message after renewal', () => log.messages.some((m) => m.id === id));
    expect(log.errors).toEqual([]);
  });

  it('keeps delivered ids in the injected storage: a new client on it does not show them again', async () => {
    await api('POST', '/v1/accounts', { accounts: [{ id: 'uma' }] });
    // Answering with promises, as React Native's AsyncStorage does: frames wait for the load.
    const memory = memoryStorage();
    const storage: HeraldStorage = {
      getItem: async (k) => memory.getItem(k),
      setItem: async (k, v) => memory.setItem(k, v),
    };
    const first = new HeraldClient({ url: stack.url, token: await token('uma'), storage });
    open.push(first);
    const firstLog = record(first);
    await first.connect();
    const shown = await push('shown, not acked');
    await until('shown', () => firstLog.messages.some((m) => m.id === shown));
    first.close();

    // As after a page reload: the server offers the unacked message again; the client knows it was shown.
    const second = new HeraldClient({ url: stack.url, token: await token('uma'), storage });
    open.push(second);
    const secondLog = record(second);
    await second.connect();
    await until('synced', () => secondLog.synced === 1);
    const next = await push('new one');
    await until('the new one', () => secondLog.messages.some((m) => m.id === next));
    expect(secondLog.messages.map((m) => m.id)).toEqual([next]);
  });

  it('authenticates with an auth frame or the query string as well', async () => {
    for (const auth of ['frame', 'query'] as const) {
      const c = new HeraldClient({ url: `${stack.url}/v1/connect`, token: await token('quin'), auth });
      open.push(c);
      expect((await c.connect()).accountId).toBe('quin');
      c.close();
    }
  });
});

describe('the language option', () => {
  it('gives the account its language on connect, and messages arrive in its variant', async () => {
    await api('POST', '/v1/accounts', { accounts: [{ id: 'lin', language: 'en' }] });
    const c = new HeraldClient({ url: stack.url, token: await token('lin'), language: 'zh-hant-tw' });
    open.push(c);
    const log = record(c);
    await c.connect();
    const account = await api<{ language: string | null }>('GET', '/v1/accounts/lin');
    expect(account.body.language).toBe('zh-Hant-TW');

    const r = await api<{ id: string }>('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text: 'hello' }] },
      localized: { zh: { elements: [{ type: 'text', text: '你好' }] } },
      retentionSeconds: 600,
    });
    await until('the message', () => log.messages.some((m) => m.id === r.body.id));
    expect(log.messages.find((m) => m.id === r.body.id)).toMatchObject({
      elements: [{ type: 'text', text: '你好' }],
      language: 'zh',
    });
    c.close();

    // A client without the option leaves the language as it is.
    const plain = new HeraldClient({ url: stack.url, token: await token('lin') });
    open.push(plain);
    await plain.connect();
    expect((await api<{ language: string | null }>('GET', '/v1/accounts/lin')).body.language).toBe(
      'zh-Hant-TW',
    );
    plain.close();
  });

  it('refuses a language that is not a BCP 47 tag when constructed', () => {
    for (const language of ['en_US', '', 'x'.repeat(36)])
      expect(() => new HeraldClient({ url: stack.url, token: 't', language, autoConnect: false })).toThrow(
        TypeError,
      );
  });
});

describe('helpers', () => {
  it('turns a base URL into the connect URL', () => {
    expect(connectUrl('https://push.example.com')).toBe('wss://push.example.com/v1/connect');
    expect(connectUrl('http://127.0.0.1:8080/')).toBe('ws://127.0.0.1:8080/v1/connect');
    expect(connectUrl('wss://h/custom/path', 'a.b.c')).toBe('wss://h/custom/path?token=a.b.c');
    expect(connectUrl('https://h', undefined, 'zh-Hant')).toBe('wss://h/v1/connect?language=zh-Hant');
    expect(() => connectUrl('ftp://x')).toThrow();
  });

  it('backs off exponentially with jitter, within the cap', () => {
    const o = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2 };
    expect(backoffDelay(0, o, () => 0)).toBe(50);
    expect(backoffDelay(0, o, () => 1)).toBe(100);
    expect(backoffDelay(2, o, () => 1)).toBe(400);
    expect(backoffDelay(10, o, () => 1)).toBe(1000);
    expect(backoffDelay(10, o, () => 0)).toBe(500);
  });
});

describe('browser bundle', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'herald-sdk-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('builds for the browser without Node built-ins and works with a global WebSocket', async () => {
    const result = await build({
      entryPoints: [path.join(import.meta.dirname, '../src/index.ts')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const code = result.outputFiles[0]?.text ?? '';
    expect(code).toMatch(/HeraldClient = class/);
    // Nothing from Node or from the `ws` package went in.
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((i) => i.includes('node_modules/ws/lib'))).toEqual([]);
    expect(code).not.toMatch(
      /\brequire\(\s*["'](node:)?(events|http|https|net|tls|crypto|stream|zlib|buffer|url)["']/,
    );
    expect(code).not.toMatch(/from\s*["']node:/);
    expect(code).not.toMatch(/import\(\s*["']ws["']\)/);

    // Run the bundle as a browser would: a global WebSocket and nothing else.
    const file = path.join(dir, 'herald.browser.js');
    await writeFile(file, code);
    const g = globalThis as { WebSocket?: unknown };
    const had = g.WebSocket;
    g.WebSocket = NodeWebSocket;
    try {
      const bundled = (await import(pathToFileURL(file).href)) as typeof import('../src/index.ts');
      await api('POST', '/v1/accounts', { accounts: [{ id: 'rio' }] });
      const c = new bundled.HeraldClient({ url: stack.url, token: await token('rio') });
      open.push(c);
      const got: string[] = [];
      c.on('message', (m) => got.push(m.id));
      await c.connect();
      const id = await push('to the bundle');
      await until('bundle message', () => got.includes(id));
    } finally {
      g.WebSocket = had;
    }
  });
});
