/**
 * Worker-side CPU per provider notification (run by hand):
 *   npx tsx bench/provider-cpu.ts [notifications=20000] [perPage=200] [pagesInFlight=PAGES_IN_FLIGHT]
 * Sends through delivery/channels/{apns,fcm,hms,honor,xiaomi,oppo,vivo} to the fakes (bench/fakes-child.ts,
 * another process) the way deliverOfflinePages does — pages of `perPage` devices, `pagesInFlight` at a time (its PAGES_IN_FLIGHT)
 * — and reports the sending process's CPU (process.cpuUsage, all threads) per notification, the fakes' (from
 * /proc, over the same window) and the rate, in a fresh process per mode (Huawei, Honor, Xiaomi, OPPO and vivo
 * send a page's devices in requests of up to 1,000 tokens, APNs and FCM one request per device). Web Push
 * encrypts each message for its own subscription (an ECDH key pair, two HKDFs and AES-GCM per notification) and
 * the fake decrypts it as the browser would, so both sides cost more than a plain request:
 *   plain  nothing else in the process
 *   als    an AsyncLocalStorage in use, as in a Temporal worker (activities run inside one): Node 20 then
 *          runs promise hooks for every promise the process creates
 * With HERALD_BENCH_PROFILE=<dir> each measuring process writes a V8 CPU profile there (node --cpu-prof), for
 * bench/profile-summary.ts. HERALD_BENCH_PROVIDERS=APNs,FCM measures only the named clients (comma-separated,
 * as the output names them), and HERALD_BENCH_MODES=plain only that mode: quicker runs while tuning one client.
 */

import { AsyncLocalStorage } from 'node:async_hooks';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PAGES_IN_FLIGHT } from '../core/tunables.ts';
import type { ChannelClient, DeviceTarget } from '../delivery/channel.ts';
import { createApnsClient } from '../delivery/channels/apns/client.ts';
import type { ApnsNotification } from '../delivery/channels/apns/payload.ts';
import { createFcmClient } from '../delivery/channels/fcm/client.ts';
import type { FcmNotification } from '../delivery/channels/fcm/payload.ts';
import { createHmsClient } from '../delivery/channels/hms/client.ts';
import type { HmsNotification } from '../delivery/channels/hms/payload.ts';
import { createHonorClient } from '../delivery/channels/honor/client.ts';
import type { HonorNotification } from '../delivery/channels/honor/payload.ts';
import { createOppoClient } from '../delivery/channels/oppo/client.ts';
import type { OppoNotification } from '../delivery/channels/oppo/payload.ts';
import { createVivoClient } from '../delivery/channels/vivo/client.ts';
import type { VivoNotification } from '../delivery/channels/vivo/payload.ts';
import { createWebPushClient } from '../delivery/channels/webpush/client.ts';
import {
  storeWebPushCredentials,
  type WebPushCredentials,
} from '../delivery/channels/webpush/credentials.ts';
import { encryptPayload } from '../delivery/channels/webpush/encryption.ts';
import { type WebPushNotification, webPushPayload } from '../delivery/channels/webpush/payload.ts';
import { decodeWebPushToken } from '../delivery/channels/webpush/subscription.ts';
import { createXiaomiClient } from '../delivery/channels/xiaomi/client.ts';
import type { XiaomiNotification } from '../delivery/channels/xiaomi/payload.ts';
import { fakeApnsToken } from '../fakes/apns.ts';
import { fakeFcmToken } from '../fakes/fcm.ts';
import { fakeHmsToken } from '../fakes/hms.ts';
import { fakeHonorToken } from '../fakes/honor.ts';
import { generateApnsKey, generateServiceAccount } from '../fakes/keys.ts';
import { fakeOppoToken } from '../fakes/oppo.ts';
import { fakeVivoToken } from '../fakes/vivo.ts';
import { fakeXiaomiToken } from '../fakes/xiaomi.ts';
import { type FakesAddresses, type FakesSpec, vendorSpec } from './ipc.ts';
import { readStat } from './procstat.ts';
import { nextMessage } from './stack.ts';

/** What every client renders. */
type Notification = ApnsNotification &
  FcmNotification &
  HmsNotification &
  HonorNotification &
  XiaomiNotification &
  OppoNotification &
  VivoNotification &
  WebPushNotification;

const HMS = { clientId: '101704409', clientSecret: 'bench-hms-secret' };
const HONOR = { appId: '104443651', clientId: 'bench-honor-client', clientSecret: 'bench-honor-secret' };

const self = fileURLToPath(import.meta.url);
const measuring = process.argv[2] === '--measure';
const numbers = process.argv.slice(measuring ? 4 : 2);
const total = Number(numbers[0] ?? 20_000);
const perPage = Number(numbers[1] ?? 200);
const pagesInFlight = Number(numbers[2] ?? PAGES_IN_FLIGHT);
const only = process.env.HERALD_BENCH_PROVIDERS?.split(',').map((p) => p.trim().toLowerCase());
const selected = (provider: string) => !only || only.includes(provider.toLowerCase());

interface Setup {
  addresses: FakesAddresses;
  apns: ReturnType<typeof generateApnsKey>['credentials'];
  fcmPrivateKey: string;
  fcmProject: string;
  fcmEmail: string;
  vendors: ReturnType<typeof vendorSpec>;
  caFile: string;
  /** The fakes' process, whose CPU over the same window is reported beside the client's. */
  fakesPid: number;
  /** The app's VAPID key pair, and a file of Web Push device tokens (one per line) the fake can decrypt for. */
  vapid: WebPushCredentials;
  webPushTokensFile: string;
}

async function measure(mode: 'plain' | 'als', setup: Setup): Promise<void> {
  const account = {
    credentials: {
      projectId: setup.fcmProject,
      clientEmail: setup.fcmEmail,
      serviceAccount: {
        type: 'service_account',
        project_id: setup.fcmProject,
        private_key: setup.fcmPrivateKey,
        client_email: setup.fcmEmail,
        token_uri: setup.addresses.tokenUri,
      },
    },
  };
  const clients: [string, ChannelClient<Notification>, () => string][] = [
    [
      'APNs',
      createApnsClient({ credentials: setup.apns, productionUrl: setup.addresses.apnsUrl }),
      fakeApnsToken,
    ],
    [
      'FCM',
      createFcmClient({
        credentials: account.credentials,
        baseUrl: setup.addresses.fcmUrl,
        allowedTokenUris: [setup.addresses.tokenUri],
      }),
      fakeFcmToken,
    ],
    [
      'Huawei',
      createHmsClient({
        credentials: HMS,
        baseUrl: setup.addresses.hmsUrl ?? '',
        tokenUrl: setup.addresses.hmsTokenUrl ?? '',
      }),
      fakeHmsToken,
    ],
    [
      'Honor',
      createHonorClient({
        credentials: HONOR,
        baseUrl: setup.addresses.honorUrl ?? '',
        tokenUrl: setup.addresses.honorTokenUrl ?? '',
      }),
      fakeHonorToken,
    ],
    [
      'Xiaomi',
      createXiaomiClient({ credentials: setup.vendors.xiaomi, baseUrl: setup.addresses.xiaomiUrl ?? '' }),
      fakeXiaomiToken,
    ],
    [
      'OPPO',
      createOppoClient({ credentials: setup.vendors.oppo, baseUrl: setup.addresses.oppoUrl ?? '' }),
      fakeOppoToken,
    ],
    [
      'vivo',
      createVivoClient({ credentials: setup.vendors.vivo, baseUrl: setup.addresses.vivoUrl ?? '' }),
      fakeVivoToken,
    ],
    [
      'Web Push',
      createWebPushClient({ credentials: setup.vapid, services: [setup.addresses.webPushUrl ?? ''] }),
      (
        (tokens: string[], next = 0) =>
        () =>
          tokens[next++] ?? ''
      )(readFileSync(setup.webPushTokensFile, 'utf8').split('\n')),
    ],
  ];
  const notification: Notification = {
    pushId: 'bench',
    body: 'A notification of ordinary size.',
    sound: 'default',
    expiresAt: new Date(Date.now() + 3600_000),
  };
  const als = new AsyncLocalStorage<{ n: number }>();
  const run = <T>(fn: () => Promise<T>) => (mode === 'als' ? als.run({ n: 1 }, fn) : fn());
  for (const [name, client, token] of clients) {
    if (!selected(name)) {
      await client.close();
      continue;
    }
    // The pages are made before the clock starts: random tokens are the bench's cost, not the client's.
    const makePages = (count: number) => {
      const targets: DeviceTarget[][] = [];
      for (let i = 0; i < count; i += perPage)
        targets.push(
          Array.from({ length: Math.min(perPage, count - i) }, () => ({
            token: token(),
            environment: 'production' as const,
          })),
        );
      return targets;
    };
    let sent = 0;
    const send = async (targets: DeviceTarget[][]) => {
      const inFlight = new Set<Promise<unknown>>();
      for (const page of targets) {
        const p: Promise<unknown> = client
          .send(page, notification)
          .then((outcomes) => {
            for (const o of outcomes) if (o.outcome === 'sent') sent++;
          })
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= pagesInFlight) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    };
    await run(() => send(makePages(1000))); // warm-up: sessions, JWT, access token
    const measured = makePages(total);
    sent = 0;
    const fakes0 = readStat(setup.fakesPid)?.cpu ?? 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await run(() => send(measured));
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const fakesUs = (((readStat(setup.fakesPid)?.cpu ?? 0) - fakes0) * 1e6) / total;
    const us = (cpu.user + cpu.system) / total;
    process.stdout.write(
      `${JSON.stringify({ mode, provider: name, notifications: total, sent, perPage, pagesInFlight, perSecond: Math.round((total / ms) * 1000), cpuMicrosPerNotification: Math.round(us), fakesCpuMicrosPerNotification: Math.round(fakesUs) })}\n`,
    );
    await client.close();
  }
  // The part of Web Push's cost that no client can avoid: each message encrypted for its own subscription.
  if (!selected('Web Push')) return;
  const keys = readFileSync(setup.webPushTokensFile, 'utf8')
    .split('\n')
    .slice(0, total)
    .map((t) => decodeWebPushToken(t)?.keys ?? { p256dh: '', auth: '' });
  const plaintext = Buffer.from(JSON.stringify(webPushPayload(notification)));
  const cpu0 = process.cpuUsage();
  for (const k of keys) encryptPayload(plaintext, k);
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(
    `${JSON.stringify({ mode, provider: 'Web Push encryption alone', notifications: keys.length, cpuMicrosPerNotification: Math.round((cpu.user + cpu.system) / keys.length) })}\n`,
  );
}

async function main(): Promise<void> {
  const apnsKey = generateApnsKey({ topic: 'com.example.herald.bench' });
  const account = generateServiceAccount('herald-bench');
  const vendors = vendorSpec();
  const spec: FakesSpec = {
    apns: { publicKey: apnsKey.publicKey, ...apnsKey.credentials },
    fcm: { publicKey: account.publicKey, projectId: account.projectId, clientEmail: account.clientEmail },
    hms: HMS,
    honor: HONOR,
    ...vendors,
  };
  const fakes = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(path.dirname(self), 'fakes-child.ts')],
    {
      env: { ...process.env, HERALD_BENCH_FAKES: JSON.stringify(spec) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  try {
    const { addresses } = await nextMessage<{ type: 'ready'; addresses: FakesAddresses }>(
      fakes,
      'ready',
      60_000,
    );
    const caFile = path.join(tmpdir(), `herald-bench-ca-${process.pid}.pem`);
    writeFileSync(caFile, addresses.ca);
    // Subscriptions for the warm-up and the measured sends, made by the fake (which keeps their private keys).
    const vapid = storeWebPushCredentials({ subject: 'mailto:bench@example.com' }, undefined);
    const webPushTokensFile = path.join(tmpdir(), `herald-bench-webpush-${process.pid}.txt`);
    if (selected('Web Push')) {
      fakes.send({ cmd: 'subscribe', key: vapid.publicKey, count: total + 1000, file: webPushTokensFile });
      await nextMessage<{ type: 'subscribed' }>(fakes, 'subscribed', 300_000);
    } else writeFileSync(webPushTokensFile, '');
    const setup: Setup = {
      addresses,
      apns: apnsKey.credentials,
      fcmPrivateKey: account.privateKey,
      fcmProject: account.projectId,
      fcmEmail: account.clientEmail,
      vendors,
      caFile,
      fakesPid: fakes.pid ?? 0,
      vapid,
      webPushTokensFile,
    };
    const modes = (['plain', 'als'] as const).filter(
      (m) => !process.env.HERALD_BENCH_MODES || process.env.HERALD_BENCH_MODES.split(',').includes(m),
    );
    for (const mode of modes) {
      const profile = process.env.HERALD_BENCH_PROFILE;
      const r = spawnSync(
        process.execPath,
        [
          ...(profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : []),
          '--import',
          'tsx',
          self,
          '--measure',
          mode,
          String(total),
          String(perPage),
          String(pagesInFlight),
        ],
        {
          env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile, HERALD_BENCH_SETUP: JSON.stringify(setup) },
          encoding: 'utf8',
        },
      );
      process.stdout.write(r.stdout || r.stderr);
    }
  } finally {
    fakes.kill();
    rmSync(path.join(tmpdir(), `herald-bench-webpush-${process.pid}.txt`), { force: true });
  }
}

if (measuring) {
  const setup = JSON.parse(process.env.HERALD_BENCH_SETUP ?? '') as Setup;
  await measure(process.argv[3] === 'als' ? 'als' : 'plain', setup);
  process.exit(0);
} else {
  await main();
}
