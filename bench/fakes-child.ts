/**
 * The APNs (production and sandbox) and FCM fakes of fakes/, in a process of their own so that their CPU
 * (TLS, JWT checks, validation) is measured apart from Herald's. Started by bench/main.ts over IPC:
 *   env HERALD_BENCH_FAKES = FakesSpec (JSON)
 *   → { type: 'ready', addresses: FakesAddresses }
 *   ← { cmd: 'reset' } → { type: 'reset' }   forget what was received so far
 *   ← { cmd: 'report' } → { type: 'report', report: FakesReport }
 * Every accepted notification is timestamped on arrival (wall clock with sub-millisecond precision, the same
 * clock every bench process uses); nothing else is kept, so a million notifications cost a few counters.
 */
import { startFakeApns } from '../fakes/apns.ts';
import { startFakeFcm } from '../fakes/fcm.ts';
import type { Arrivals, FakesAddresses, FakesReport, FakesSpec } from './ipc.ts';
import { now } from './ipc.ts';

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

function accept(a: Arrivals): void {
  const t = now();
  a.accepted++;
  a.first ??= t;
  a.last = t;
  const b = String(Math.floor(t / 100) * 100);
  a.buckets[b] = (a.buckets[b] ?? 0) + 1;
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
  let report: FakesReport = { apns: arrivals(), fcm: arrivals() };
  const apnsFakes = await Promise.all([startFakeApns(spec.apns), startFakeApns(spec.apns)]);
  const fcm = await startFakeFcm(spec.fcm);
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
  let fcmSendsAtReset = 0;
  const send = (m: unknown) => process.send?.(m);
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'reset') {
      report = { apns: arrivals(), fcm: arrivals() };
      fcmSendsAtReset = fcm.sendRequests;
      send({ type: 'reset' });
    } else if (m.cmd === 'report') {
      report.apns.connections = apnsFakes.reduce((n, f) => n + f.stats.sessions, 0);
      report.fcm.connections = fcm.maxInFlight;
      report.fcm.rejected = fcm.sendRequests - fcmSendsAtReset - report.fcm.accepted;
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
  };
  send({ type: 'ready', addresses });
}

await main();
