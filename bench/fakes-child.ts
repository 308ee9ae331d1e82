/**
 * The APNs (production and sandbox), FCM, Huawei, Honor, Xiaomi, OPPO, vivo and Web Push fakes of fakes/, in a
 * process of their own so that their CPU (TLS, JWT checks, validation) is measured apart from Herald's. Started by bench/main.ts over IPC:
 *   env HERALD_BENCH_FAKES = FakesSpec (JSON)
 *   → { type: 'ready', addresses: FakesAddresses }
 *   ← { cmd: 'reset' } → { type: 'reset' }   forget what was received so far
 *   ← { cmd: 'report' } → { type: 'report', report: FakesReport }
 *   ← { cmd: 'subscribe', key, count, file } → { type: 'subscribed' }   `count` Web Push subscriptions made with
 *     the VAPID public key `key`, their device tokens written to `file` one per line (the fake keeps their
 *     private keys, decrypting what it receives as a browser would)
 * Every accepted notification is timestamped on arrival (wall clock with sub-millisecond precision, the same
 * clock every bench process uses); nothing else is kept, so a million notifications cost a few counters.
 */

import { writeFileSync } from 'node:fs';
import { webPushToken } from '../delivery/channels/webpush/subscription.ts';
import { startFakeApns } from '../fakes/apns.ts';
import { startFakeFcm } from '../fakes/fcm.ts';
import { startFakeHms } from '../fakes/hms.ts';
import { startFakeHonor } from '../fakes/honor.ts';
import { startFakeOppo } from '../fakes/oppo.ts';
import { startFakeVivo } from '../fakes/vivo.ts';
import { startFakeWebPush } from '../fakes/webpush.ts';
import { startFakeXiaomi } from '../fakes/xiaomi.ts';
import type { Arrivals, FakesAddresses, FakesReport, FakesSpec } from './ipc.ts';
import { now, VENDORS } from './ipc.ts';

function arrivals(): Arrivals {
  return {
    accepted: 0,
    rejected: 0,
    rejectedReasons: {},
    first: null,
    last: null,
    buckets: {},
    connections: 0,
  };
}

function accept(a: Arrivals, n = 1): void {
  const t = now();
  a.accepted += n;
  a.first ??= t;
  a.last = t;
  const b = String(Math.floor(t / 100) * 100);
  a.buckets[b] = (a.buckets[b] ?? 0) + n;
}

function reject(a: Arrivals, reason: string, n: number): void {
  a.rejected += n;
  a.rejectedReasons[reason] = (a.rejectedReasons[reason] ?? 0) + n;
}

/** An array stand-in whose push() only counts: the fakes push every request into their `received`. */
const counting = <T>(onPush: (item: T) => void): T[] =>
  ({
    push(...items: T[]) {
      for (const item of items) onPush(item);
      return 0;
    },
    length: 0,
  }) as unknown as T[];

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.HERALD_BENCH_FAKES ?? '') as FakesSpec;
  const fresh = (): FakesReport => ({
    apns: arrivals(),
    fcm: arrivals(),
    hms: arrivals(),
    honor: arrivals(),
    xiaomi: arrivals(),
    oppo: arrivals(),
    vivo: arrivals(),
  });
  let report = fresh();
  const apnsFakes = await Promise.all([startFakeApns(spec.apns), startFakeApns(spec.apns)]);
  const fcm = await startFakeFcm(spec.fcm);
  const vendors = {
    xiaomi: spec.xiaomi ? await startFakeXiaomi(spec.xiaomi) : undefined,
    oppo: spec.oppo ? await startFakeOppo(spec.oppo) : undefined,
    vivo: spec.vivo ? await startFakeVivo(spec.vivo) : undefined,
  };
  if (vendors.xiaomi) vendors.xiaomi.received = counting(() => accept(report.xiaomi));
  if (vendors.oppo) vendors.oppo.received = counting(() => accept(report.oppo));
  if (vendors.vivo) vendors.vivo.received = counting(() => accept(report.vivo));
  for (const fake of apnsFakes) {
    fake.received = counting(() => accept(report.apns));
    fake.exchanges = counting((e) => {
      if (e.status === 200) return;
      report.apns.rejected++;
      const k = `${e.status} ${e.reason ?? ''}`.trim();
      report.apns.rejectedReasons[k] = (report.apns.rejectedReasons[k] ?? 0) + 1;
    });
  }
  fcm.received = counting(() => accept(report.fcm));
  // Batch APIs: one accepted request reaches many devices; each counts as one arrival.
  const hms = spec.hms ? await startFakeHms(spec.hms) : undefined;
  if (hms) {
    hms.received = counting((r) => accept(report.hms, r.tokens.length));
    hms.exchanges = counting((e) => {
      report.hms.connections++;
      // 80100000 (some tokens illegal) is counted by what `received` got; the bench's tokens are all valid.
      if (e.code !== '80000000' && e.code !== '80100000')
        reject(report.hms, `${e.status} ${e.code}`.trim(), e.tokens);
    });
  }
  const honor = spec.honor ? await startFakeHonor(spec.honor) : undefined;
  if (honor) {
    honor.received = counting((r) => accept(report.honor, r.tokens.length));
    honor.exchanges = counting((e) => {
      report.honor.connections++;
      if (e.code !== 200) reject(report.honor, `${e.status} ${e.code}`, e.tokens);
    });
  }
  const webpush = await startFakeWebPush();
  webpush.received = counting(() => {});
  webpush.exchanges = counting(() => {});
  let fcmSendsAtReset = 0;
  const send = (m: unknown) => process.send?.(m);
  process.on('message', (m: { cmd: string; key?: string; count?: number; file?: string }) => {
    if (m.cmd === 'subscribe') {
      const tokens = Array.from({ length: m.count ?? 0 }, () => webPushToken(webpush.subscribe(m.key ?? '')));
      writeFileSync(m.file ?? '', tokens.join('\n'));
      send({ type: 'subscribed' });
    } else if (m.cmd === 'reset') {
      report = fresh();
      fcmSendsAtReset = fcm.sendRequests;
      send({ type: 'reset' });
    } else if (m.cmd === 'report') {
      report.apns.connections = apnsFakes.reduce((n, f) => n + f.stats.sessions, 0);
      report.fcm.connections = fcm.maxInFlight;
      report.fcm.rejected = fcm.sendRequests - fcmSendsAtReset - report.fcm.accepted;
      for (const v of VENDORS) report[v].connections = vendors[v]?.maxInFlight ?? 0;
      send({ type: 'report', report });
    }
  });
  process.on('disconnect', () => process.exit(0));
  const [production, sandbox] = apnsFakes;
  const addresses: FakesAddresses = {
    apnsUrl: production?.url ?? '',
    apnsSandboxUrl: sandbox?.url ?? '',
    // Every fake serves the one test certificate (fakes/keys.ts), FCM's too: this CA covers them all.
    ca: production?.ca ?? '',
    fcmUrl: fcm.url,
    tokenUri: fcm.tokenUri,
    ...(hms ? { hmsUrl: hms.url, hmsTokenUrl: hms.tokenUrl } : {}),
    ...(honor ? { honorUrl: honor.url, honorTokenUrl: honor.tokenUrl } : {}),
    webPushUrl: webpush.url,
  };
  if (vendors.xiaomi) addresses.xiaomiUrl = vendors.xiaomi.url;
  if (vendors.oppo) addresses.oppoUrl = vendors.oppo.url;
  if (vendors.vivo) addresses.vivoUrl = vendors.vivo.url;
  send({ type: 'ready', addresses });
}

await main();
