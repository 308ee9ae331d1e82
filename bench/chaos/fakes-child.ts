/**
 * The APNs (production and sandbox) and FCM fakes for the chaos runner, in a process of their own. Unlike
 * bench/fakes-child.ts it keeps a log per device token: how many notifications each token received since the
 * last reset, which is what "no device gets two notifications for one push" is checked against.
 *   env HERALD_CHAOS_FAKES = ChaosFakesSpec (JSON)
 *   → { type: 'ready', addresses: FakesAddresses }
 *   ← { cmd: 'reset' }    → { type: 'reset' }      forget every receipt (the runner resets before each push)
 *   ← { cmd: 'progress' } → { type: 'progress', accepted, rejected }
 *   ← { cmd: 'report' }   → { type: 'report', report: ChaosFakesReport }
 */
import { startFakeApns } from '../../fakes/apns.ts';
import { startFakeFcm } from '../../fakes/fcm.ts';
import type { FakesAddresses } from '../ipc.ts';
import type { ChaosFakesReport, ChaosFakesSpec } from './ipc.ts';

type Platform = 'apns' | 'fcm';

interface Log {
  perToken: Map<string, number>;
  accepted: number;
  rejected: number;
  /** FCM carries the push id in data.pushId: notifications naming another push than the runner's. */
  pushIds: Map<string, number>;
}

const fresh = (): Log => ({ perToken: new Map(), accepted: 0, rejected: 0, pushIds: new Map() });

/** An array stand-in whose push() only records: the fakes push every request into their `received`. */
const recording = <T>(onPush: (item: T) => void): T[] =>
  ({
    push(...items: T[]) {
      for (const item of items) onPush(item);
      return 0;
    },
    length: 0,
  }) as unknown as T[];

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.HERALD_CHAOS_FAKES ?? '') as ChaosFakesSpec;
  let logs: Record<Platform, Log> = { apns: fresh(), fcm: fresh() };
  const accept = (platform: Platform, token: string, pushId?: string) => {
    const log = logs[platform];
    log.accepted++;
    log.perToken.set(token, (log.perToken.get(token) ?? 0) + 1);
    if (pushId !== undefined) log.pushIds.set(pushId, (log.pushIds.get(pushId) ?? 0) + 1);
  };
  const latencyMs = spec.latencyMs;
  const apnsFakes = await Promise.all([
    startFakeApns({ ...spec.apns, latencyMs }),
    startFakeApns({ ...spec.apns, latencyMs }),
  ]);
  const fcm = await startFakeFcm({ ...spec.fcm, latencyMs });
  for (const fake of apnsFakes) {
    fake.received = recording((r) => accept('apns', r.token));
    fake.exchanges = recording((e) => {
      if (e.status !== 200) logs.apns.rejected++;
    });
  }
  fcm.received = recording((r) => {
    const data = (r.message as { data?: { pushId?: string } }).data;
    accept('fcm', r.token, data?.pushId ?? '');
  });
  let fcmSendsAtReset = 0;
  const fcmRejected = () => fcm.sendRequests - fcmSendsAtReset - logs.fcm.accepted;
  const send = (m: unknown) => process.send?.(m);
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'reset') {
      logs = { apns: fresh(), fcm: fresh() };
      fcmSendsAtReset = fcm.sendRequests;
      send({ type: 'reset' });
    } else if (m.cmd === 'progress') {
      send({
        type: 'progress',
        accepted: logs.apns.accepted + logs.fcm.accepted,
        rejected: logs.apns.rejected + fcmRejected(),
      });
    } else if (m.cmd === 'report') {
      const report: ChaosFakesReport = {
        apns: {
          accepted: logs.apns.accepted,
          rejected: logs.apns.rejected,
          perToken: [...logs.apns.perToken],
          pushIds: {},
        },
        fcm: {
          accepted: logs.fcm.accepted,
          rejected: fcmRejected(),
          perToken: [...logs.fcm.perToken],
          pushIds: Object.fromEntries(logs.fcm.pushIds),
        },
      };
      send({ type: 'report', report });
    }
  });
  process.on('disconnect', () => process.exit(0));
  const [production, sandbox] = apnsFakes;
  const addresses: FakesAddresses = {
    apnsUrl: production?.url ?? '',
    apnsSandboxUrl: sandbox?.url ?? '',
    // Every fake serves the one test certificate (fakes/keys.ts): this CA covers them all.
    ca: production?.ca ?? '',
    fcmUrl: fcm.url,
    tokenUri: fcm.tokenUri,
  };
  send({ type: 'ready', addresses });
}

await main();
