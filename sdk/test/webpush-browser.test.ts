/**
 * Web Push in headless Chromium (/usr/bin/chromium, driven by playwright-core): the SDK's `subscribeWebPush` in a
 * page with the example service worker (sdk/examples/webpush/service-worker.js), Herald sending to the fake push
 * service, and the real service worker showing what the push service delivered.
 *
 * What Chromium cannot do here: `pushManager.subscribe()` registers with Google's push service (GCM check-in and
 * registration), unreachable from this machine, and never settles. So the page hands the SDK a PushManager whose
 * subscribe() gets its subscription from the fake push service (which plays the browser's keys too), and the
 * message the fake accepted and decrypted is handed to the real service worker with the DevTools protocol's
 * `ServiceWorker.deliverPushMessage`, as Chromium's push service connection would.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type FakesStack, startStackWithFakes } from '../../test/support/fakes-stack.ts';
import { client, waitFor } from '../../test/support/stack.ts';

const CHROMIUM = '/usr/bin/chromium';
const sdk = path.resolve(import.meta.dirname, '..');
const needChromium = process.env.HERALD_REQUIRE_CHROMIUM === '1';

let fakes: FakesStack;
let server: Server;

beforeAll(async () => {
  fakes = await startStackWithFakes({ topic: 'com.example.herald', projectId: 'herald-browser' });
  // The one-file browser build, as sdk/scripts/build.mjs makes it, from the sources.
  const bundle = await build({
    entryPoints: [path.join(sdk, 'src/index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    write: false,
    logLevel: 'warning',
  });
  const files: Record<string, [string, string | Buffer]> = {
    '/herald.browser.js': ['text/javascript', bundle.outputFiles[0]?.text ?? ''],
    '/service-worker.js': [
      'text/javascript',
      await readFile(path.join(sdk, 'examples/webpush/service-worker.js')),
    ],
    '/': ['text/html', await readFile(path.join(sdk, 'test/fixtures/webpush.html'))],
  };
  server = createServer((req, res) => {
    const file = files[new URL(req.url ?? '/', 'http://x').pathname];
    if (!file) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': file[0] }).end(file[1]);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
}, 120_000);

afterAll(async () => {
  server?.close();
  await fakes?.stop();
});

it.skipIf(!existsSync(CHROMIUM) && !needChromium)(
  'a browser subscribes through the SDK, and its service worker shows the push Herald sent',
  async () => {
    const { chromium } = await import('playwright-core');
    const { stack, webpush } = fakes;
    const app = await stack.newApp();
    const api = client(stack.url, app.apiKey);
    const credentials = await api<{ credentials: { webpush: { publicKey: string } } }>(
      'PUT',
      '/v1/apps/current/credentials/webpush',
      { subject: 'mailto:ops@example.com' },
    );
    const publicKey = credentials.body.credentials.webpush.publicKey;
    await api('POST', '/v1/accounts', { accounts: [{ id: 'browser' }] });
    const minted = await api<{ token: string }>('POST', '/v1/accounts/browser/token', { ttlSeconds: 600 });

    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const profile = await mkdtemp(path.join(os.tmpdir(), 'herald-chromium-webpush-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--no-first-run',
      ],
    });
    try {
      await context.grantPermissions(['notifications'], { origin });
      const page = await context.newPage();
      const asked: { key: string; userVisibleOnly: boolean }[] = [];
      await page.exposeFunction('pushServiceSubscribe', (key: string, userVisibleOnly: boolean) => {
        asked.push({ key, userVisibleOnly });
        return webpush.subscribe(key);
      });
      await page.goto(`${origin}/`);
      type Subscribed = { token: string; created: boolean; scope: string };
      const subscribed = await page.evaluate(
        (args) => (window as unknown as { subscribe: (a: object) => Promise<Subscribed> }).subscribe(args),
        { url: stack.url, token: minted.body.token },
      );
      // The SDK asked Herald for the app's key and subscribed with it, visible only.
      expect(asked).toEqual([{ key: publicKey, userVisibleOnly: true }]);
      expect(subscribed.created).toBe(true);
      const devices = await api<{ devices: { platform: string; token: string }[] }>(
        'GET',
        '/v1/accounts/browser/devices',
      );
      expect(devices.body.devices).toEqual([
        expect.objectContaining({ platform: 'webpush', token: subscribed.token }),
      ]);

      const created = await api<{ id: string }>('POST', '/v1/pushes', {
        message: { elements: [{ type: 'text', text: 'Hello browser' }] },
        retentionSeconds: 300,
        offline: {
          title: 'Hi',
          webpush: {
            tag: 'greeting',
            url: '/inbox',
            icon: 'https://example.com/icon.png',
            requireInteraction: true,
          },
        },
      });
      const received = await waitFor(
        async () => webpush.received.find((r) => r.payload?.pushId === created.body.id),
        (r) => r !== undefined,
        30_000,
        'the push service to receive the message',
      );

      // What the push service delivers to Chromium: the decrypted message, to the page's service worker.
      const cdp = await context.newCDPSession(page);
      const registrations: { registrationId: string; scopeURL: string }[] = [];
      cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => registrations.push(...e.registrations));
      await cdp.send('ServiceWorker.enable');
      const registration = await waitFor(
        async () => registrations.find((r) => r.scopeURL === subscribed.scope),
        (r) => r !== undefined,
        10_000,
        'the service worker registration',
      );
      const deliver = () =>
        cdp.send('ServiceWorker.deliverPushMessage', {
          origin,
          registrationId: registration?.registrationId ?? '',
          data: received?.plaintext ?? '',
        });
      type Shown = {
        title: string;
        body: string;
        tag: string;
        icon: string;
        requireInteraction: boolean;
        data: unknown;
      };
      // A loaded machine may have stopped the idle worker, and Chromium can drop a push that arrives while it
      // starts again; a push service re-delivers what was not acknowledged, so the test does too. The tag makes
      // a second delivery replace the first, so exactly one notification is ever shown.
      await deliver();
      let lastDelivery = Date.now();
      const shown = await waitFor(
        async () => {
          const now = await page.evaluate(() =>
            (window as unknown as { notifications: () => Promise<Shown[]> }).notifications(),
          );
          if (now.length === 0 && Date.now() - lastDelivery > 3_000) {
            await deliver();
            lastDelivery = Date.now();
          }
          return now;
        },
        (n) => n.length > 0,
        30_000,
        'the notification',
      );
      expect(shown).toEqual([
        {
          title: 'Hi',
          body: 'Hello browser',
          tag: 'greeting',
          icon: 'https://example.com/icon.png',
          requireInteraction: true,
          data: { url: '/inbox', pushId: created.body.id },
        },
      ]);
    } finally {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    }
  },
);
