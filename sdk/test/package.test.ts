/**
 * The SDK as people install it: `npm pack`, installed from the tarball into a scratch project, then used with
 * no TypeScript tooling — from plain Node ESM, as an esbuild bundle for the browser and for a neutral runtime
 * that only has a global WebSocket, and in headless Chromium — each receiving pushes from a real server.
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../../db/apps.ts';
import { client, startTestStack, type TestStack, waitFor } from '../../test/support/stack.ts';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '../..');
const fixtures = path.join(import.meta.dirname, 'fixtures');
const CHROMIUM = '/usr/bin/chromium';

let stack: TestStack;
let dir: string;
let project: string;
const children: ChildProcessWithoutNullStreams[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  dir = await mkdtemp(path.join(os.tmpdir(), 'herald-sdk-pack-'));
  // `npm pack` runs prepack, which builds dist/; the tarball is what a registry would serve.
  const packed = await run('npm', ['pack', '-w', '@herald/sdk', '--json', '--pack-destination', dir], {
    cwd: repo,
  });
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  if (!info) throw new Error('npm pack printed nothing');
  expect(info.files.map((f) => f.path)).toEqual(
    expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/node.js', 'dist/herald.browser.js']),
  );
  expect(info.files.filter((f) => f.path.startsWith('src/'))).toEqual([]);
  project = path.join(dir, 'app');
  await run('mkdir', ['-p', project]);
  await writeFile(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'app', private: true, type: 'module' }),
  );
  await run(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      path.join(dir, info.filename),
    ],
    { cwd: project },
  );
  await copyFile(path.join(fixtures, 'receive.mjs'), path.join(project, 'receive.mjs'));
}, 180_000);

afterAll(async () => {
  for (const c of children) c.kill();
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** An app of its own with one account: its pushes (audience "all") reach that account only. */
async function scenario(account: string) {
  const app: CreatedApp = await stack.newApp();
  const api = client(stack.url, app.apiKey);
  await api('POST', '/v1/accounts', { accounts: [{ id: account }] });
  const tok = (await api<{ token: string }>('POST', `/v1/accounts/${account}/token`, { ttlSeconds: 600 }))
    .body.token;
  const push = async (text: string): Promise<string> => {
    const r = await api<{ id: string }>('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text }] },
      retentionSeconds: 600,
    });
    expect(r.status).toBe(201);
    // The push answers before its snapshot: a client connecting meanwhile would get it live, not as backlog.
    await waitFor(
      async () => (await api<{ status: string }>('GET', `/v1/pushes/${r.body.id}`)).body.status,
      (status) => status !== 'scheduled',
      20_000,
      `push ${r.body.id} snapshotted`,
    );
    return r.body.id;
  };
  return { api, account, token: tok, push };
}
type Scenario = Awaited<ReturnType<typeof scenario>>;

/** Starts `node [args] receive.mjs <spec> <url> <token>` in the scratch project; collects its JSON lines. */
function receiver(nodeArgs: string[], spec: string, sc: Scenario) {
  const child = spawn(process.execPath, [...nodeArgs, 'receive.mjs', spec, stack.url, sc.token], {
    cwd: project,
  });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
    }
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const until = (what: string, ok: () => boolean) =>
    waitFor(async () => ok(), Boolean, 20_000, `${what} from ${sc.account} (stderr: ${err})`);
  return { child, lines, until, push: sc.push };
}

/** The receiver sees `connecting`, the backlog, then a live push; it acks both. */
async function receivesBacklogAndLive(r: ReturnType<typeof receiver>, backlog: string): Promise<void> {
  await r.until('synced', () => r.lines.some((l) => 'synced' in l));
  expect(r.lines.filter((l) => 'state' in l).map((l) => l.state)).toEqual(['connecting', 'open']);
  expect(r.lines.find((l) => 'message' in l)).toMatchObject({
    message: backlog,
    elements: [{ type: 'text', text: 'backlog' }],
  });
  const live = await r.push('live');
  await r.until('the live push', () => r.lines.some((l) => l.message === live));
  expect(r.lines.filter((l) => 'error' in l)).toEqual([]);
  r.child.stdin.end();
}

describe('the packed SDK', () => {
  it('resolves to compiled JavaScript: dist/node.js in Node, dist/index.js elsewhere', async () => {
    const resolve = async (spec: string) =>
      (
        await run(
          process.execPath,
          ['--input-type=module', '-e', `console.log(import.meta.resolve('${spec}'))`],
          {
            cwd: project,
          },
        )
      ).stdout.trim();
    expect(await resolve('@herald/sdk')).toMatch(/node_modules\/@herald\/sdk\/dist\/node\.js$/);
    expect(await resolve('@herald/sdk/browser')).toMatch(
      /node_modules\/@herald\/sdk\/dist\/herald\.browser\.js$/,
    );
    const pkg = JSON.parse(
      await readFile(path.join(project, 'node_modules/@herald/sdk/package.json'), 'utf8'),
    ) as {
      version: string;
      dependencies: Record<string, string>;
    };
    const { SDK_VERSION } = (await import(
      pathToFileURL(path.join(project, 'node_modules/@herald/sdk/dist/index.js')).href
    )) as { SDK_VERSION: string };
    expect(SDK_VERSION).toBe(pkg.version);
    expect(Object.keys(pkg.dependencies)).toEqual(['ws']);
  });

  it('works from plain Node ESM (Node 20 has no global WebSocket: the `ws` dependency)', async () => {
    const sc = await scenario('node-esm');
    const backlog = await sc.push('backlog');
    await receivesBacklogAndLive(receiver([], '@herald/sdk', sc), backlog);
  });

  it('bundles for the browser and for a neutral runtime without ws or Node built-ins', async () => {
    const entry = path.join(project, 'entry.js');
    await writeFile(entry, "export { HeraldClient, SDK_VERSION } from '@herald/sdk';\n");
    for (const platform of ['browser', 'neutral'] as const) {
      const out = path.join(project, `bundle.${platform}.mjs`);
      const result = await build({
        entryPoints: [entry],
        bundle: true,
        format: 'esm',
        platform,
        outfile: out,
        metafile: true,
        logLevel: 'silent',
      });
      const inputs = Object.keys(result.metafile.inputs);
      expect(
        inputs.filter((i) => !i.includes('node_modules/@herald/sdk/dist/') && !i.endsWith('/entry.js')),
      ).toEqual([]);
      const code = await readFile(out, 'utf8');
      // Self-contained: no require, no import of anything (ws, node:*), static or dynamic.
      expect(code).not.toMatch(/\brequire\(|^\s*import\s|\bimport\(/m);
    }

    // The neutral bundle in a runtime whose only WebSocket is the global one.
    const sc = await scenario('neutral-runtime');
    const backlog = await sc.push('backlog');
    const bundle = pathToFileURL(path.join(project, 'bundle.neutral.mjs')).href;
    const polyfill = pathToFileURL(path.join(fixtures, 'global-websocket.mjs')).href;
    await receivesBacklogAndLive(receiver(['--import', polyfill], bundle, sc), backlog);
  });

  const needChromium = process.env.HERALD_REQUIRE_CHROMIUM === '1';
  it.skipIf(!existsSync(CHROMIUM) && !needChromium)(
    'loads the one-file browser build in headless Chromium: backlog, live push, acks kept across a reload',
    async () => {
      const { chromium } = await import('playwright-core');
      const browserFile = path.join(project, 'node_modules/@herald/sdk/dist/herald.browser.js');
      const page = await readFile(path.join(fixtures, 'page.html'));
      const server: Server = createServer((req, res) => {
        if (req.url?.startsWith('/herald.browser.js')) {
          void readFile(browserFile).then((js) =>
            res.writeHead(200, { 'content-type': 'text/javascript' }).end(js),
          );
        } else res.writeHead(200, { 'content-type': 'text/html' }).end(page);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const profile = await mkdtemp(path.join(os.tmpdir(), 'herald-chromium-'));
      const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--no-first-run',
          '--disable-sync',
        ],
      });
      try {
        const sc = await scenario('chromium');
        const backlog = await sc.push('backlog');
        const tab = await context.newPage();
        const at = `http://127.0.0.1:${(server.address() as AddressInfo).port}/?${new URLSearchParams({ url: stack.url, token: sc.token })}`;
        await tab.goto(at);
        type Log = {
          version: string;
          states: string[];
          messages: { id: string; text: string }[];
          synced: number[];
        };
        const read = () => tab.evaluate(() => (window as unknown as { heraldLog?: Log }).heraldLog);
        await waitFor(read, (l) => (l?.synced.length ?? 0) > 0, 20_000, 'synced in the page');
        const live = await sc.push('live');
        const log = await waitFor(
          read,
          (l) => !!l?.messages.some((m) => m.id === live),
          20_000,
          'live in the page',
        );
        expect(log?.states.slice(0, 2)).toEqual(['connecting', 'open']);
        expect(log?.messages).toEqual([
          { id: backlog, text: 'backlog' },
          { id: live, text: 'live' },
        ]);
        // Both acked: after a reload the backlog is empty.
        await waitFor(
          () => sc.api<{ counters: Record<string, number> }>('GET', `/v1/pushes/${live}`),
          (r) => r.body.counters.acked === 1,
          10_000,
          'live acked',
        );
        await tab.reload();
        const again = await waitFor(read, (l) => (l?.synced.length ?? 0) > 0, 20_000, 'synced after reload');
        expect(again?.synced).toEqual([0]);
        expect(again?.messages).toEqual([]);
      } finally {
        await context.close();
        server.close();
        await rm(profile, { recursive: true, force: true });
      }
    },
  );
});
