/**
 * Throughput of the APNs and FCM clients against the local fakes (run by hand):
 *   npx tsx bench/providers.ts [notifications=20000] [batch=1000]
 * The fakes run in a child process so that their work (TLS, JWT checks, validation) does not share the
 * client's event loop; they answer at once, so the figures are the clients' own ceiling, not Apple's or Google's.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChannelClient, DeviceTarget } from '../delivery/channel.ts';
import { createApnsClient } from '../delivery/channels/apns/client.ts';
import type { ApnsNotification } from '../delivery/channels/apns/payload.ts';
import { createFcmClient } from '../delivery/channels/fcm/client.ts';
import type { FcmNotification } from '../delivery/channels/fcm/payload.ts';
import { fakeApnsToken, startFakeApns } from '../fakes/apns.ts';
import { fakeFcmToken, startFakeFcm } from '../fakes/fcm.ts';
import { generateApnsKey, generateServiceAccount } from '../fakes/keys.ts';

/** What both clients render. */
type Notification = ApnsNotification & FcmNotification;

/** What the parent tells the child about the keys, and the child answers with the fakes' addresses. */
interface FakeSpec {
  apns: { publicKey: string; keyId: string; teamId: string; topic: string };
  fcm: { publicKey: string; projectId: string; clientEmail: string };
}
interface FakeAddresses {
  apnsUrl: string;
  ca: string;
  fcmUrl: string;
  tokenUri: string;
}

if (process.argv[2] === '--serve-fakes') await serveFakes();
else await main();

async function serveFakes(): Promise<void> {
  const spec = JSON.parse(process.env.HERALD_BENCH_FAKES ?? '') as FakeSpec;
  const apns = await startFakeApns(spec.apns);
  const fcm = await startFakeFcm(spec.fcm);
  const addresses: FakeAddresses = {
    apnsUrl: apns.url,
    ca: apns.ca,
    fcmUrl: fcm.url,
    tokenUri: fcm.tokenUri,
  };
  console.log(JSON.stringify(addresses));
  // Don't keep every request in memory for the whole run.
  setInterval(() => {
    apns.received.length = 0;
    apns.exchanges.length = 0;
    fcm.received.length = 0;
  }, 1000);
}

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 20_000);
  const batch = Number(process.argv[3] ?? 1_000);
  const apnsKey = generateApnsKey();
  const account = generateServiceAccount();
  const spec: FakeSpec = {
    apns: { publicKey: apnsKey.publicKey, ...apnsKey.credentials },
    fcm: { publicKey: account.publicKey, projectId: account.projectId, clientEmail: account.clientEmail },
  };
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve-fakes'],
    {
      env: { ...process.env, HERALD_BENCH_FAKES: JSON.stringify(spec) },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    const first = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next();
    const fakes = JSON.parse(String(first.value)) as FakeAddresses;
    const apns = createApnsClient({
      credentials: apnsKey.credentials,
      productionUrl: fakes.apnsUrl,
      ca: fakes.ca,
    });
    const fcm = createFcmClient({
      credentials: account.credentials(fakes.tokenUri),
      baseUrl: fakes.fcmUrl,
      ca: fakes.ca,
    });
    const rows = [];
    for (const [name, client, makeToken] of [
      ['APNs (HTTP/2, 2 sessions, 500 streams)', apns, fakeApnsToken],
      ['FCM (HTTP/2, 2 sessions, 200 in flight)', fcm, fakeFcmToken],
    ] as const) {
      await run(client, Array.from({ length: 500 }, makeToken), batch); // warm-up: connections, JWT, access token
      const { ms, sent } = await run(client, Array.from({ length: total }, makeToken), batch);
      rows.push({
        client: name,
        notifications: total,
        sent,
        seconds: Number((ms / 1000).toFixed(2)),
        'per second': Math.round((sent / ms) * 1000),
      });
    }
    console.table(rows);
    await Promise.all([apns.close(), fcm.close()]);
  } finally {
    child.kill();
  }
}

/** Sends the tokens as `batch`-sized send() calls, all started at once, as a fan-out would. */
async function run(
  client: ChannelClient<Notification>,
  tokens: string[],
  batch: number,
): Promise<{ ms: number; sent: number }> {
  const notification: Notification = {
    pushId: 'bench',
    title: 'Benchmark',
    body: 'A notification of ordinary size, with a little custom data beside it.',
    sound: 'default',
    data: { orderId: '42' },
    priority: 'high',
    expiresAt: new Date(Date.now() + 3600_000),
  };
  const targets: DeviceTarget[] = tokens.map((token) => ({ token, environment: 'production' }));
  const started = performance.now();
  const calls = [];
  for (let i = 0; i < targets.length; i += batch)
    calls.push(client.send(targets.slice(i, i + batch), notification));
  const outcomes = (await Promise.all(calls)).flat();
  return { ms: performance.now() - started, sent: outcomes.filter((o) => o.outcome === 'sent').length };
}
