/**
 * End-to-end push benchmark (run by hand, never in CI):
 *
 *   npm run bench -- <all|tag-or|attr-and|every> [--accounts 100000] [--online 10000] [--apns-pct 10]
 *                    [--fcm-pct 10] [--hms-pct 0] [--honor-pct 0] [--xiaomi-pct 0] [--oppo-pct 0] [--vivo-pct 0]
 *                    [--retention 3600] [--apis N] [--workers N] [--page-size N] [--pool-size N]
 *                    [--profile worker[,api]] [--private-pg [--pg-setting k=v]… [--auto-explain MS]]
 *                    [--json out.json] [--keep] [--webhooks] [--local-time N]
 *
 * It starts (or reuses) PostgreSQL and Temporal, spawns `herald api` (one per ~15,000 sockets: a process may
 * not open more than `ulimit -Hn` files) and `herald worker` (N with --workers: each its own process and Temporal
 * identity, on one task queue) as child processes, a child running the APNs,
 * FCM, Huawei and Honor fakes, and children holding the WebSocket clients (≤ 10,000 each). It seeds N accounts in bulk SQL,
 * connects K clients, then pushes — to everyone, to a TagsOr of 3 tags, to an AttrsAnd of 2 attributes, or
 * the three in turn — and measures each push. See docs/performance.md for what each figure means.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { connectDatabase, type Database } from '../db/client.ts';
import { runMigrations } from '../db/migrate.ts';
import { generateApnsKey, generateServiceAccount } from '../fakes/keys.ts';
import { type Receiver, startReceiver } from '../test/support/webhook-receiver.ts';
import type {
  ClientsConnected,
  ClientsProgress,
  ClientsReceipts,
  FakesAddresses,
  FakesReport,
  FakesSpec,
} from './ipc.ts';
import { now, VENDORS, type Vendor, vendorSpec } from './ipc.ts';
import {
  type ActivitySpan,
  activitySpans,
  backendSampler,
  peakPerSecond,
  percentile,
  progressBar,
  type RunHistory,
  statsDelta,
  type TableStats,
  tableStats,
} from './measure.ts';
import { clusterCpu, cpuSeconds, resetPeakRss, statusBytes } from './procstat.ts';
import { type CpuProfile, summarizeProfile } from './profile-summary.ts';
import {
  type CostInputs,
  costModel,
  expectedNotifications,
  type Invariant,
  maxOverlap,
  PAGE_ACTIVITY,
  pageRange,
  partitionBytes,
  perWorker,
  rowsInRanges,
  snapshotWalFromStatements,
  type WalDelta,
  walBetween,
  walDelta,
  walPoint,
} from './scale.ts';
import { scaleTables } from './scale-table.ts';
import { BENCH_ENCRYPTION_KEY, dropBenchApp, onlineAccounts, type Seeded, seedBenchApp } from './seed.ts';
import {
  type DatabaseHandle,
  nextMessage,
  type Proc,
  resolveDatabase,
  resolveTemporal,
  root,
  spawnHerald,
  spawnNode,
  type TemporalHandle,
  waitForApi,
  waitForWorker,
} from './stack.ts';

const AUDIENCES = {
  all: 'all',
  'tag-or': { TagsOr: ['t2', 't7', 't15'] },
  'attr-and': { AttrsAnd: { city: 'c5', level: '2' } },
} as const;
type Scenario = keyof typeof AUDIENCES;
const CLIENTS_PER_PROCESS = 10_000;
const VENDOR_LABELS: Record<Vendor, string> = { xiaomi: 'Xiaomi', oppo: 'OPPO', vivo: 'vivo' };

/** The app credentials the Huawei and Honor fakes accept. */
const BENCH_HMS = { clientId: '101704409', clientSecret: 'bench-hms-secret' };
const BENCH_HONOR = {
  appId: '104443651',
  clientId: 'bench-honor-client',
  clientSecret: 'bench-honor-secret',
};
const SOCKETS_PER_API = 15_000;

const USAGE = `npm run bench -- <all|tag-or|attr-and|every> [--accounts N] [--online K] [--apns-pct 10] [--fcm-pct 10]
  [--hms-pct 0] [--honor-pct 0] [--xiaomi-pct 0] [--oppo-pct 0] [--vivo-pct 0]
  [--retention 3600] [--apis N] [--workers N] [--page-size N] [--pool-size N] [--profile worker[,api]]
  [--private-pg] [--pg-setting name=value]… [--auto-explain MS] [--json out.json] [--keep] [--timeout S]
  [--webhooks]   (a webhook endpoint wanting every event, per-recipient ones included, on a local receiver)
  [--local-time N] (a local-time push over N zones, one wave each, all due at once)`;

interface Options {
  scenarios: Scenario[];
  accounts: number;
  online: number;
  apnsPct: number;
  fcmPct: number;
  hmsPct: number;
  honorPct: number;
  /** The Xiaomi, OPPO and vivo channels' shares of accounts with a device. */
  vendorPct: Record<Vendor, number>;
  retention: number;
  apis: number;
  /** `herald worker` processes, each its own Temporal identity on the one task queue. */
  workers: number;
  pageSize: number | undefined;
  poolSize: number | undefined;
  profile: string[];
  privatePg: boolean;
  pgSettings: string[];
  autoExplainMs: number | undefined;
  json: string | undefined;
  keep: boolean;
  timeoutS: number;
  webhooks: boolean;
  /** Local-time push over this many zones (one wave per zone), 0: a plain push. */
  localTime: number;
}

function parseOptions(argv: string[]): Options {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      accounts: { type: 'string', default: '100000' },
      online: { type: 'string', default: '10000' },
      'apns-pct': { type: 'string', default: '10' },
      'fcm-pct': { type: 'string', default: '10' },
      'hms-pct': { type: 'string', default: '0' },
      'honor-pct': { type: 'string', default: '0' },
      'xiaomi-pct': { type: 'string', default: '0' },
      'oppo-pct': { type: 'string', default: '0' },
      'vivo-pct': { type: 'string', default: '0' },
      retention: { type: 'string', default: '3600' },
      apis: { type: 'string' },
      workers: { type: 'string', default: '1' },
      'page-size': { type: 'string' },
      'pool-size': { type: 'string' },
      profile: { type: 'string' },
      'private-pg': { type: 'boolean', default: false },
      'pg-setting': { type: 'string', multiple: true, default: [] },
      'auto-explain': { type: 'string' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '1800' },
      webhooks: { type: 'boolean', default: false },
      'local-time': { type: 'string', default: '0' },
      help: { type: 'boolean', default: false },
    },
  });
  const scenario = positionals[0];
  if (values.help || !scenario) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(scenario ? 0 : 2);
  }
  if (scenario !== 'every' && !(scenario in AUDIENCES))
    throw new Error(`unknown scenario ${scenario}\n${USAGE}`);
  const int = (name: string, v: string | undefined, min = 0) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
    return n;
  };
  const pct = (name: string, v: string) => {
    const n = Number(v);
    if (!(n >= 0 && n <= 100)) throw new Error(`--${name} must be a percentage`);
    return n;
  };
  const accounts = int('accounts', values.accounts, 1);
  const online = int('online', values.online, 0);
  if (online > accounts) throw new Error('--online cannot exceed --accounts');
  const apnsPct = pct('apns-pct', values['apns-pct']);
  const fcmPct = pct('fcm-pct', values['fcm-pct']);
  const hmsPct = pct('hms-pct', values['hms-pct']);
  const honorPct = pct('honor-pct', values['honor-pct']);
  const vendorPct = {
    xiaomi: pct('xiaomi-pct', values['xiaomi-pct']),
    oppo: pct('oppo-pct', values['oppo-pct']),
    vivo: pct('vivo-pct', values['vivo-pct']),
  };
  if (apnsPct + fcmPct + hmsPct + honorPct + vendorPct.xiaomi + vendorPct.oppo + vendorPct.vivo > 100)
    throw new Error('the --…-pct options must add up to at most 100');
  if (values['auto-explain'] !== undefined && !values['private-pg'])
    throw new Error('--auto-explain needs --private-pg (auto_explain must be preloaded)');
  return {
    scenarios: scenario === 'every' ? ['all', 'tag-or', 'attr-and'] : [scenario as Scenario],
    accounts,
    online,
    apnsPct,
    fcmPct,
    hmsPct,
    honorPct,
    vendorPct,
    retention: int('retention', values.retention, 0),
    apis: values.apis ? int('apis', values.apis, 1) : Math.max(1, Math.ceil(online / SOCKETS_PER_API)),
    workers: int('workers', values.workers, 1),
    pageSize: values['page-size'] ? int('page-size', values['page-size'], 10) : undefined,
    poolSize: values['pool-size'] ? int('pool-size', values['pool-size'], 1) : undefined,
    profile: values.profile ? values.profile.split(',').map((s) => s.trim()) : [],
    privatePg: values['private-pg'] ?? false,
    pgSettings: values['pg-setting'] ?? [],
    autoExplainMs:
      values['auto-explain'] !== undefined ? int('auto-explain', values['auto-explain']) : undefined,
    json: values.json,
    keep: values.keep ?? false,
    timeoutS: int('timeout', values.timeout, 1),
    webhooks: values.webhooks ?? false,
    localTime: Math.min(24, int('local-time', values['local-time'], 0)),
  };
}

/**
 * `--local-time N`: the accounts are spread over N whole-hour zones (bench/seed.ts) and the push is sent at a
 * local time that has already passed in all of them, with pastZones send: one wave per zone, all due at once,
 * run one after another. The figure is the waves' own cost (N plans' worth of snapshots, fan-outs and pages)
 * without the hours a real local-time push waits between them.
 */
function localTimeFields() {
  // 11.5 h ago in UTC has passed in every zone from UTC+12 to UTC−11 (the latest is 11 h behind UTC), and is
  // still ahead in UTC−12, so the push is accepted.
  const localTime = new Date(Date.now() - 11.5 * 3600_000).toISOString().slice(0, 19);
  return { sendAt: { localTime }, pastZones: 'send', window: null };
}

const bar = progressBar();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, digits = 0) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);
const mb = (bytes: number) => round(bytes / 2 ** 20, 0);

interface Stack {
  db: DatabaseHandle;
  database: Database;
  temporal: TemporalHandle;
  fakes: Proc;
  apis: { proc: Proc; url: string }[];
  workers: Proc[];
  clients: Proc[];
  taskQueue: string;
  pgPort: number;
  hasStatements: boolean;
  /** With --webhooks: the local receiver of the endpoint that wants every event. */
  receiver: Receiver | undefined;
}

interface PushRow {
  status: string;
  audience_count: string;
  delivered_online: string;
  stored_offline: string;
  synced_later: string;
  apns_sent: string;
  apns_failed: string;
  fcm_sent: string;
  fcm_failed: string;
  hms_sent: string;
  hms_failed: string;
  honor_sent: string;
  honor_failed: string;
  /** Xiaomi, OPPO and vivo: their channel_counts entries. */
  vendors: Record<string, { sent?: number; failed?: number } | null> | null;
  /** Epoch ms (drizzle tells the shared postgres client to leave timestamps unparsed, so SQL converts them). */
  created_ms: number;
  snapshot_ms: number | null;
  completed_ms: number | null;
  workflow_id: string;
  /** pg_current_wal_lsn() in bytes, read with the row: the WAL timeline of the push. */
  lsn: number;
}

async function pushRow(database: Database, appId: string, pushId: string): Promise<PushRow | undefined> {
  const [row] = await database.sql<PushRow[]>`
    select status, audience_count, delivered_online, stored_offline, synced_later,
      coalesce(channel_counts #>> '{apns,sent}', '0') as apns_sent,
      coalesce(channel_counts #>> '{apns,failed}', '0') as apns_failed,
      coalesce(channel_counts #>> '{fcm,sent}', '0') as fcm_sent,
      coalesce(channel_counts #>> '{fcm,failed}', '0') as fcm_failed,
      coalesce(channel_counts #>> '{hms,sent}', '0') as hms_sent,
      coalesce(channel_counts #>> '{hms,failed}', '0') as hms_failed,
      coalesce(channel_counts #>> '{honor,sent}', '0') as honor_sent,
      coalesce(channel_counts #>> '{honor,failed}', '0') as honor_failed, workflow_id,
      jsonb_build_object('xiaomi', channel_counts -> 'xiaomi', 'oppo', channel_counts -> 'oppo',
        'vivo', channel_counts -> 'vivo') as vendors,
      (extract(epoch from created_at) * 1000)::float8 as created_ms,
      (extract(epoch from snapshot_at) * 1000)::float8 as snapshot_ms,
      (extract(epoch from completed_at) * 1000)::float8 as completed_ms,
      (pg_current_wal_lsn() - '0/0'::pg_lsn)::float8 as lsn
    from pushes where app_id = ${appId} and id = ${pushId}`;
  return row;
}

interface CpuSnapshot {
  [name: string]: number;
}

function cpuSnapshot(stack: Stack): CpuSnapshot {
  const out: CpuSnapshot = {
    worker: stack.workers.reduce((s, w) => s + cpuSeconds(w.pid), 0),
    ...Object.fromEntries(stack.workers.map((w) => [`worker:${w.name}`, cpuSeconds(w.pid)])),
    api: stack.apis.reduce((s, a) => s + cpuSeconds(a.proc.pid), 0),
    clients: stack.clients.reduce((s, c) => s + cpuSeconds(c.pid), 0),
    fakes: cpuSeconds(stack.fakes.pid),
    bench: cpuSeconds(process.pid),
  };
  if (stack.temporal.pid) out.temporal = cpuSeconds(stack.temporal.pid);
  if (stack.db.postmasterPid) out.postgresCluster = clusterCpu(stack.db.postmasterPid);
  return out;
}

async function runPush(stack: Stack, seeded: Seeded, online: string[], scenario: Scenario, opts: Options) {
  const { database } = stack;
  const appId = seeded.app.id;
  const api = stack.apis[0];
  if (!api) throw new Error('no api');

  // ---- before ----
  const workerPids = stack.workers.map((w) => w.pid);
  const peaksReset = [...workerPids, ...stack.apis.map((a) => a.proc.pid)].every(resetPeakRss);
  const rssBefore = {
    worker: Math.max(...workerPids.map((pid) => statusBytes(pid, 'VmRSS'))),
    api: stack.apis.map((a) => statusBytes(a.proc.pid, 'VmRSS')),
  };
  stack.fakes.child.send({ cmd: 'reset' });
  await nextMessage(stack.fakes.child, 'reset');
  if (stack.hasStatements) await database.sql`select pg_stat_statements_reset()`;
  // Let every backend flush its pending table statistics (PostgreSQL holds them up to 10 s when idle). The
  // idle seconds also measure the background: WAL and PostgreSQL CPU of whatever else runs on the server.
  const idleFrom = { t: now(), wal: await walPoint(database.sql), pg: pgCpu(stack), cpu: cpuSnapshot(stack) };
  await sleep(11_000);
  const idleTo = { t: now(), wal: await walPoint(database.sql), pg: pgCpu(stack), cpu: cpuSnapshot(stack) };
  const idleSeconds = (idleTo.t - idleFrom.t) / 1000;
  const background = {
    seconds: round(idleSeconds, 1) ?? 0,
    walPerSecond: (idleTo.wal.lsn - idleFrom.wal.lsn) / idleSeconds,
    pgCpuPerSecond:
      idleFrom.pg !== undefined && idleTo.pg !== undefined ? (idleTo.pg - idleFrom.pg) / idleSeconds : null,
    cpuPerSecond: Object.fromEntries(
      Object.entries(idleTo.cpu).map(([k, v]) => [k, (v - (idleFrom.cpu[k] ?? 0)) / idleSeconds]),
    ),
  };
  const statsBefore = await tableStats(database.sql);
  const sampler = backendSampler(database.sql, stack.pgPort, [
    ...stack.workers.map((w) => ({ role: 'worker', pid: w.pid })),
    ...stack.apis.map((a) => ({ role: 'api', pid: a.proc.pid })),
  ]);
  await sampler.start();
  let rssPeakSampled = { worker: 0, api: 0 };
  const workerPeakSampled = new Map<number, number>();
  const rssTimer = setInterval(() => {
    for (const pid of workerPids)
      workerPeakSampled.set(pid, Math.max(workerPeakSampled.get(pid) ?? 0, statusBytes(pid, 'VmRSS')));
    rssPeakSampled = {
      worker: Math.max(rssPeakSampled.worker, ...workerPids.map((pid) => workerPeakSampled.get(pid) ?? 0)),
      api: Math.max(rssPeakSampled.api, ...stack.apis.map((a) => statusBytes(a.proc.pid, 'VmRSS'))),
    };
  }, 100);
  const cpuBefore = cpuSnapshot(stack);
  const walBefore = await walPoint(database.sql);

  // ---- the push ----
  const monoStartUs = Number(process.hrtime.bigint() / 1000n);
  const tPost = now();
  const res = await fetch(`${api.url}/v1/pushes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${seeded.app.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      audience: AUDIENCES[scenario],
      message: {
        elements: [{ type: 'text', text: `Benchmark push (${scenario}) at ${new Date().toISOString()}` }],
      },
      retentionSeconds: opts.retention,
      ...(opts.localTime ? localTimeFields() : {}),
    }),
  });
  const tPosted = now();
  if (res.status !== 201) throw new Error(`POST /v1/pushes answered ${res.status}: ${await res.text()}`);
  const pushId = ((await res.json()) as { id: string }).id;

  // Poll the push row (every 50 ms) until it completes: counters over time, and when each settled.
  const timeline: {
    t: number;
    status: string;
    audience: number;
    online: number;
    stored: number;
    apns: number;
    fcm: number;
    hms: number;
    honor: number;
    vendors: number;
  }[] = [];
  let row: PushRow | undefined;
  let tCompletedSeen = Number.NaN;
  let tSnapshotSeen = Number.NaN;
  const lsnSamples: { t: number; lsn: number }[] = [{ t: tPost, lsn: walBefore.lsn }];
  const deadline = Date.now() + opts.timeoutS * 1000;
  for (;;) {
    row = await pushRow(database, appId, pushId);
    const t = now();
    if (row) {
      lsnSamples.push({ t, lsn: row.lsn });
      const point = {
        t: round(t - tPost, 0) ?? 0,
        status: row.status,
        audience: Number(row.audience_count),
        online: Number(row.delivered_online),
        stored: Number(row.stored_offline),
        apns: Number(row.apns_sent) + Number(row.apns_failed),
        fcm: Number(row.fcm_sent) + Number(row.fcm_failed),
        hms: Number(row.hms_sent) + Number(row.hms_failed),
        honor: Number(row.honor_sent) + Number(row.honor_failed),
        vendors: VENDORS.reduce(
          (n, v) => n + Number(row?.vendors?.[v]?.sent ?? 0) + Number(row?.vendors?.[v]?.failed ?? 0),
          0,
        ),
      };
      const last = timeline.at(-1);
      if (!last || JSON.stringify({ ...last, t: 0 }) !== JSON.stringify({ ...point, t: 0 }))
        timeline.push(point);
      if (row.snapshot_ms && Number.isNaN(tSnapshotSeen)) tSnapshotSeen = t;
      bar.update(
        `push ${scenario}`,
        point.stored + point.online,
        Math.max(point.audience, 1),
        `${row.status} · audience ${point.audience} · online ${point.online} · stored ${point.stored} · apns ${point.apns} · fcm ${point.fcm} · hms ${point.hms} · honor ${point.honor} · xiaomi/oppo/vivo ${point.vendors} · ${((t - tPost) / 1000).toFixed(1)} s`,
      );
      if (['completed', 'failed', 'canceled'].includes(row.status)) {
        tCompletedSeen = t;
        break;
      }
    }
    if (Date.now() > deadline) {
      bar.note(`push ${pushId} did not complete within ${opts.timeoutS} s`);
      break;
    }
    await sleep(50);
  }
  const walCompleted = await walPoint(database.sql);
  bar.end();
  if (!row) throw new Error(`push ${pushId} vanished`);

  // Online recipients the gateways should have reached: connected accounts that are in the snapshot.
  const onlineInAudience = online.length
    ? await database.sql<{ account_id: string }[]>`
        select account_id from push_recipients where push_id = ${pushId} and account_id = any(${online}::text[])`
    : [];
  const expected = new Set(onlineInAudience.map((r) => r.account_id));
  // Live delivery can trail the offline pages by a little; give it until every expected client has it, or 5 s.
  const receipts: { account: string; t: number }[] = [];
  const closes: Record<string, number> = {};
  let reconnects = 0;
  const collectUntil = Date.now() + 5_000;
  for (;;) {
    const parts = await Promise.all(
      stack.clients.map(async (c) => {
        const m = nextMessage<ClientsReceipts>(c.child, 'receipts');
        c.child.send({ cmd: 'collect', pushId });
        return { proc: c, msg: await m };
      }),
    );
    for (const { proc, msg } of parts) {
      const accounts = clientAccounts.get(proc) ?? [];
      msg.index.forEach((i, k) => {
        receipts.push({ account: accounts[i] ?? '', t: msg.times[k] ?? Number.NaN });
      });
      for (const [code, n] of Object.entries(msg.closes)) closes[code] = (closes[code] ?? 0) + n;
      reconnects += msg.reconnects;
    }
    const got = new Set(receipts.map((r) => r.account));
    if ([...expected].every((a) => got.has(a)) || Date.now() > collectUntil) break;
    await sleep(250);
  }
  const webhooks = stack.receiver
    ? await drainWebhooks(stack.receiver, database, appId, pushId, tCompletedSeen, opts)
    : null;
  const cpuAfter = cpuSnapshot(stack);
  const monoEndUs = Number(process.hrtime.bigint() / 1000n);
  clearInterval(rssTimer);
  const backendCpu = await sampler.stop();
  const workerPeaks = workerPids.map((pid) =>
    peaksReset ? statusBytes(pid, 'VmHWM') : (workerPeakSampled.get(pid) ?? 0),
  );
  const peak = {
    worker: Math.max(...workerPeaks),
    api: peaksReset
      ? Math.max(...stack.apis.map((a) => statusBytes(a.proc.pid, 'VmHWM')))
      : rssPeakSampled.api,
  };
  stack.fakes.child.send({ cmd: 'report' });
  const fakes = (await nextMessage<{ type: 'report'; report: FakesReport }>(stack.fakes.child, 'report'))
    .report;
  const { spans, runs, history } = await activitySpans(stack.temporal.client, row.workflow_id);
  let statements: unknown[] = [];
  if (stack.hasStatements) statements = await topStatements(database);
  await sleep(11_000);
  const rows = statsDelta(statsBefore, await tableStats(database.sql));
  const walSettled = await walPoint(database.sql);
  const cpu = Object.fromEntries(Object.entries(cpuAfter).map(([k, v]) => [k, v - (cpuBefore[k] ?? 0)]));
  const scale = await scaleFigures(stack, {
    pushId,
    appId,
    row,
    spans,
    history,
    cpu,
    workerPeaks,
    pageSize: opts.pageSize ?? 1000,
    wal: walDelta(walBefore, walCompleted),
    walSettled: walDelta(walBefore, walSettled),
    lsnSamples,
    background,
    seconds: (tCompletedSeen - tPost) / 1000,
  });

  const figures = computeFigures({
    scenario,
    pushId,
    row,
    tPost,
    tPosted,
    tSnapshotSeen,
    tCompletedSeen,
    timeline,
    spans,
    runs,
    expected,
    receipts,
    closes,
    reconnects,
    fakes,
    cpu,
    backendCpu: backendCpu.byRole,
    peak,
    peaksReset,
    rssBefore,
    rows,
    statements,
  });
  const invariants = checkInvariants(figures, scale, opts, scenario);
  return {
    ...figures,
    ...scale,
    invariants,
    webhooks,
    profileWindowUs: [monoStartUs, monoEndUs] as [number, number],
  };
}

/** CPU seconds of the PostgreSQL cluster so far, when its postmaster is on this machine. */
const pgCpu = (stack: Stack): number | undefined =>
  stack.db.postmasterPid ? clusterCpu(stack.db.postmasterPid) : undefined;

/**
 * The scale-out figures of a push: per worker what it ran (from the history's identities), the overlap of the
 * push's activities, and the cost model (bench/scale.ts).
 */
async function scaleFigures(
  stack: Stack,
  c: {
    pushId: string;
    appId: string;
    row: PushRow;
    spans: ActivitySpan[];
    history: RunHistory[];
    cpu: Record<string, number>;
    workerPeaks: number[];
    pageSize: number;
    wal: WalDelta;
    walSettled: WalDelta;
    lsnSamples: { t: number; lsn: number }[];
    background: CostInputs['background'];
    seconds: number;
  },
) {
  const sql = stack.database.sql;
  const pageSpans = c.spans.filter((s) => s.name === PAGE_ACTIVITY);
  const ranges = c.spans.map((s) => (s.name === PAGE_ACTIVITY ? pageRange(s) : undefined));
  const rows = await rowsInRanges(sql, c.pushId, ranges);
  const { workers, unattributed } = perWorker(
    c.spans,
    rows,
    c.history,
    stack.workers.map((w, i) => ({
      name: w.name,
      pid: w.pid,
      cpuSeconds: c.cpu[`worker:${w.name}`] ?? 0,
      peakRss: c.workerPeaks[i] ?? 0,
    })),
    c.pageSize,
  );
  const snapshot = c.spans.filter((s) => s.name === 'snapshotAudience').at(-1);
  const walSnapshotLsn =
    snapshot?.started !== undefined && snapshot.closed !== undefined
      ? walBetween(c.lsnSamples, snapshot.started, snapshot.closed)
      : null;
  const walSnapshotStatements = stack.hasStatements ? await snapshotWalFromStatements(sql) : null;
  const walSnapshot = walSnapshotLsn ?? walSnapshotStatements;
  const notifications = providerTotal(c.row);
  const cost = costModel({
    recipients: Number(c.row.audience_count),
    notifications,
    cpu: c.cpu,
    workers: stack.workers.length,
    apis: stack.apis.length,
    postgres: stack.db.kind === 'private' ? 'private' : stack.db.postmasterPid ? 'shared' : 'unknown',
    temporalPid: stack.temporal.pidFrom,
    wal: c.wal,
    walSettled: c.walSettled,
    walSnapshot,
    background: c.background,
    seconds: c.seconds,
    partition: await partitionBytes(sql, c.pushId),
    history: c.history,
    activityTasks: c.spans.reduce((s, x) => s + x.attempt, 0),
    pageActivities: pageSpans.length,
  });
  return {
    scaleOut: {
      workers,
      unattributedActivities: unattributed,
      overlap: { pageActivities: maxOverlap(pageSpans), allActivities: maxOverlap(c.spans) },
      pageActivities: pageSpans.map((s, k) => {
        const i = c.spans.indexOf(s);
        return {
          worker: workers.find((w) => s.identity?.startsWith(`${w.pid}@`))?.name ?? s.identity ?? '?',
          startMs: round((s.started ?? Number.NaN) - (c.row.created_ms ?? 0), 0),
          ms: round((s.closed ?? Number.NaN) - (s.started ?? Number.NaN), 0),
          range: ranges[i] ?? null,
          rows: rows[i] ?? null,
          attempt: s.attempt,
          outcome: s.outcome,
          n: k + 1,
        };
      }),
      expectedNotifications: await expectedNotifications(sql, c.appId, c.pushId),
      /** The snapshot's WAL both ways: LSN samples bracketing it (null if the poll stalled), its statements'. */
      snapshotWal: { lsn: walSnapshotLsn, statements: walSnapshotStatements },
    },
    cost,
  };
}

/** Provider notifications the push's counters record (sent + failed), every channel. */
function providerTotal(row: PushRow): number {
  const vendors = VENDORS.reduce(
    (n, v) => n + Number(row.vendors?.[v]?.sent ?? 0) + Number(row.vendors?.[v]?.failed ?? 0),
    0,
  );
  return (
    vendors +
    ['apns', 'fcm', 'hms', 'honor'].reduce(
      (n, p) =>
        n + Number(row[`${p}_sent` as keyof PushRow] ?? 0) + Number(row[`${p}_failed` as keyof PushRow] ?? 0),
      0,
    )
  );
}

/**
 * What every push must keep, whatever the number of workers and api processes: it completed; everyone was
 * taken (a push to all); every connected recipient got it live once and nobody else did; every live device of
 * a recipient left pending was notified once (counters = fakes = the devices in the database); the online and
 * stored counts add up to the audience; every page activity's work was attributed to one of the workers.
 */
function checkInvariants(
  f: ReturnType<typeof computeFigures>,
  scale: Awaited<ReturnType<typeof scaleFigures>>,
  opts: Options,
  scenario: Scenario,
): Invariant[] {
  const out: Invariant[] = [];
  const check = (name: string, ok: boolean, detail: string) => out.push({ name, ok, detail });
  check('completed', f.status === 'completed', f.status);
  if (scenario === 'all')
    check('audience = accounts', f.audience === opts.accounts, `${f.audience} of ${opts.accounts}`);
  check(
    'online: every connected recipient received it, nobody else',
    f.online.missing === 0 && f.online.unexpected === 0,
    `received ${f.online.received}, missing ${f.online.missing}, unexpected ${f.online.unexpected}`,
  );
  check(
    'online: no client got it twice',
    f.online.duplicates === 0,
    `${f.online.duplicates} duplicate frames`,
  );
  if (opts.retention > 0)
    check(
      'delivered online + stored offline = audience',
      f.counters.deliveredOnline + f.counters.storedOffline === f.audience,
      `${f.counters.deliveredOnline} + ${f.counters.storedOffline} vs ${f.audience}`,
    );
  const expected = scale.scaleOut.expectedNotifications;
  const channels: [string, { accepted: number | null; rejected: number | null }, number, number][] = [
    ['apns', f.providers.apns, f.counters.apnsSent, f.counters.apnsFailed],
    ['fcm', f.providers.fcm, f.counters.fcmSent, f.counters.fcmFailed],
    ['hms', f.providers.hms, f.counters.hmsSent, f.counters.hmsFailed],
    ['honor', f.providers.honor, f.counters.honorSent, f.counters.honorFailed],
    ...VENDORS.map((v): [string, { accepted: number | null; rejected: number | null }, number, number] => [
      v,
      f.providers[v],
      Number(f.counters[`${v}Sent` as keyof typeof f.counters] ?? 0),
      Number(f.counters[`${v}Failed` as keyof typeof f.counters] ?? 0),
    ]),
  ];
  for (const [name, fake, sent, failed] of channels) {
    const want = expected[name] ?? 0;
    const seen = (fake.accepted ?? 0) + (fake.rejected ?? 0);
    if (!want && !seen && !sent && !failed) continue;
    check(
      `${name}: devices = counted = received by the fake`,
      want === sent + failed && seen === want && fake.accepted === sent,
      `devices ${want}, counted ${sent} sent + ${failed} failed, fake ${fake.accepted} accepted + ${fake.rejected} rejected`,
    );
  }
  check(
    'every activity ran on one of the bench’s workers',
    scale.scaleOut.unattributedActivities === 0,
    `${scale.scaleOut.unattributedActivities} unattributed`,
  );
  const pageRows = scale.scaleOut.workers.reduce<number | null>(
    (s, w) => (s === null || w.pageRows === null ? null : s + w.pageRows),
    0,
  );
  if (pageRows !== null && !opts.localTime)
    check('page ranges cover the audience', pageRows === f.audience, `${pageRows} rows in ranges`);
  return out;
}

/**
 * With --webhooks: waits until the receiver has every per-recipient event of the push (delivered online, and one
 * notification event per provider answer) and its completion; answers when the last of them arrived, after the
 * push completed.
 */
async function drainWebhooks(
  receiver: Receiver,
  database: Database,
  appId: string,
  pushId: string,
  tCompleted: number,
  opts: Options,
) {
  const deadline = Date.now() + opts.timeoutS * 1000;
  for (;;) {
    const row = await pushRow(database, appId, pushId);
    const expected =
      Number(row?.delivered_online ?? 0) +
      Number(row?.apns_sent ?? 0) +
      Number(row?.apns_failed ?? 0) +
      Number(row?.fcm_sent ?? 0) +
      Number(row?.fcm_failed ?? 0);
    const mine = receiver.messages.filter((m) => m.events.some((e) => e.data.pushId === pushId));
    const events = mine.flatMap((m) => m.events.filter((e) => e.data.pushId === pushId));
    const perRecipient = events.filter(
      (e) => e.type.startsWith('recipient.') || e.type.startsWith('notification.'),
    );
    const done = perRecipient.length >= expected && events.some((e) => e.type === 'push.completed');
    bar.update('webhook events', perRecipient.length, Math.max(expected, 1), `${mine.length} requests`);
    if (done || Date.now() > deadline) {
      bar.end();
      const lastAt = Math.max(...mine.map((m) => m.at));
      return {
        perRecipientEvents: perRecipient.length,
        expected,
        events: events.length,
        requests: mine.length,
        largestBatch: Math.max(0, ...mine.map((m) => m.events.length)),
        // Both epoch ms of this process (ipc.ts `now`, and the receiver's Date.now()).
        drainedAfterCompletionMs: done ? round(lastAt - tCompleted, 0) : null,
        signatureFailures: receiver.failures.length,
      };
    }
    await sleep(250);
  }
}

async function topStatements(database: Database): Promise<unknown[]> {
  const rows = await database.sql<Record<string, unknown>[]>`
    select calls, round(total_exec_time::numeric, 1) as total_ms, round(mean_exec_time::numeric, 2) as mean_ms,
      rows, shared_blks_hit, shared_blks_read, shared_blks_dirtied, shared_blks_written, wal_bytes,
      regexp_replace(query, '\\s+', ' ', 'g') as query
    from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())
    order by total_exec_time desc limit 15`;
  return rows.map((r) => ({ ...r, wal_bytes: Number(r.wal_bytes), query: String(r.query).slice(0, 600) }));
}

const clientAccounts = new Map<Proc, string[]>();
const profileTexts: string[] = [];

interface Collected {
  scenario: Scenario;
  pushId: string;
  row: PushRow;
  tPost: number;
  tPosted: number;
  tSnapshotSeen: number;
  tCompletedSeen: number;
  timeline: unknown[];
  spans: ActivitySpan[];
  runs: number;
  expected: Set<string>;
  receipts: { account: string; t: number }[];
  closes: Record<string, number>;
  reconnects: number;
  fakes: FakesReport;
  cpu: Record<string, number>;
  backendCpu: Record<string, number>;
  peak: { worker: number; api: number };
  peaksReset: boolean;
  rssBefore: { worker: number; api: number[] };
  rows: TableStats;
  statements: unknown[];
}

function computeFigures(c: Collected) {
  const audience = Number(c.row.audience_count);
  const span = (name: string) => c.spans.filter((s) => s.name === name);
  const snapshot = span('snapshotAudience').at(-1);
  const publish = span('publishToGateways').at(-1);
  const pages = span('deliverOfflinePages');
  const complete = span('completePush').at(-1);
  const snapshotStart = snapshot?.started ?? Number.NaN;
  const snapshotEnd = snapshot?.closed ?? Number.NaN;
  const offlineStart = pages[0]?.started ?? Number.NaN;
  const offlineEnd = pages.at(-1)?.closed ?? Number.NaN;
  const stored = Number(c.row.stored_offline);
  // When stored_offline reached its final value, as the 50 ms poll saw it.
  const storedFinal = (c.timeline as { t: number; stored: number }[]).find((p) => p.stored === stored);
  const tStoredFinal = storedFinal ? c.tPost + storedFinal.t : Number.NaN;

  const onlineTimes = c.receipts.filter((r) => c.expected.has(r.account));
  const firstPerAccount = new Map<string, number>();
  for (const r of onlineTimes)
    firstPerAccount.set(r.account, Math.min(firstPerAccount.get(r.account) ?? Infinity, r.t));
  const latencies = [...firstPerAccount.values()].map((t) => t - snapshotEnd).sort((a, b) => a - b);
  const lastReceipt = latencies.length ? (latencies.at(-1) ?? 0) + snapshotEnd : Number.NaN;
  const allReceived = firstPerAccount.size === c.expected.size;

  const provider = (a: FakesReport['apns']) => {
    const secs = a.first !== null && a.last !== null ? (a.last - a.first) / 1000 : Number.NaN;
    return {
      accepted: a.accepted,
      rejected: a.rejected,
      rejectedReasons: a.rejectedReasons,
      seconds: round(secs, 2),
      perSecond: a.accepted > 1 && secs > 0 ? round(a.accepted / secs, 0) : null,
      peakPerSecond: peakPerSecond(a.buckets),
      firstAfterSnapshotMs: a.first !== null ? round(a.first - snapshotEnd, 0) : null,
      connections: a.connections,
    };
  };
  const per1k = (x: number) => (audience > 0 ? round(x / (audience / 1000), 4) : null);
  const ms = (x: number) => round(x, 0);
  return {
    scenario: c.scenario,
    pushId: c.pushId,
    audience,
    counters: {
      deliveredOnline: Number(c.row.delivered_online),
      storedOffline: stored,
      syncedLater: Number(c.row.synced_later),
      apnsSent: Number(c.row.apns_sent),
      apnsFailed: Number(c.row.apns_failed),
      fcmSent: Number(c.row.fcm_sent),
      fcmFailed: Number(c.row.fcm_failed),
      hmsSent: Number(c.row.hms_sent),
      hmsFailed: Number(c.row.hms_failed),
      honorSent: Number(c.row.honor_sent),
      honorFailed: Number(c.row.honor_failed),
      ...Object.fromEntries(
        VENDORS.flatMap((v) => [
          [`${v}Sent`, Number(c.row.vendors?.[v]?.sent ?? 0)],
          [`${v}Failed`, Number(c.row.vendors?.[v]?.failed ?? 0)],
        ]),
      ),
    },
    status: c.row.status,
    timings: {
      postMs: ms(c.tPosted - c.tPost),
      postToSnapshotStartMs: ms(snapshotStart - c.tPost),
      snapshotMs: ms(snapshotEnd - snapshotStart),
      snapshotEndToPublishDoneMs: ms((publish?.closed ?? Number.NaN) - snapshotEnd),
      offlinePhaseMs: ms(offlineEnd - offlineStart),
      offlineActivities: pages.length,
      offlineActivityRetries: pages.filter((p) => p.attempt > 1 || p.outcome !== 'completed').length,
      snapshotPlusStoredMs: ms(tStoredFinal - snapshotStart),
      // Copies are stored by the snapshot itself: measured from its start, not from the offline pages'.
      storedPerSecond:
        Number.isFinite(tStoredFinal - snapshotStart) && stored > 0
          ? round(stored / (Math.max(tStoredFinal - snapshotStart, 1) / 1000), 0)
          : null,
      endToEndMs: ms(c.tCompletedSeen - c.tPost),
      endToEndDbMs: c.row.completed_ms ? ms(c.row.completed_ms - c.row.created_ms) : null,
      completePushDoneMs: ms((complete?.closed ?? Number.NaN) - c.tPost),
      workflowRuns: c.runs,
      snapshotAtVsActivityStartMs: c.row.snapshot_ms ? ms(c.row.snapshot_ms - snapshotStart) : null,
    },
    online: {
      connectedInAudience: c.expected.size,
      received: firstPerAccount.size,
      missing: c.expected.size - firstPerAccount.size,
      /** Frames of this push beyond the first at an expected account. */
      duplicates: onlineTimes.length - firstPerAccount.size,
      unexpected: c.receipts.filter((r) => !c.expected.has(r.account)).length,
      p50Ms: ms(percentile(latencies, 50)),
      p99Ms: ms(percentile(latencies, 99)),
      maxMs: ms(percentile(latencies, 100)),
      minMs: ms(percentile(latencies, 0)),
      allReceivedAfterSnapshotMs: allReceived ? ms(lastReceipt - snapshotEnd) : null,
      allReceivedAfterPostMs: allReceived ? ms(lastReceipt - c.tPost) : null,
      closes: c.closes,
      reconnects: c.reconnects,
    },
    providers: {
      apns: provider(c.fakes.apns),
      fcm: provider(c.fakes.fcm),
      hms: provider(c.fakes.hms),
      honor: provider(c.fakes.honor),
      xiaomi: provider(c.fakes.xiaomi),
      oppo: provider(c.fakes.oppo),
      vivo: provider(c.fakes.vivo),
    },
    memory: {
      workerPeakMB: mb(c.peak.worker),
      apiPeakMB: mb(c.peak.api),
      workerBeforeMB: mb(c.rssBefore.worker),
      apiBeforeMB: c.rssBefore.api.map(mb),
      method: c.peaksReset ? 'VmHWM after clear_refs' : 'VmRSS sampled every 100 ms',
    },
    cpuSeconds: Object.fromEntries(Object.entries(c.cpu).map(([k, v]) => [k, round(v, 2)])),
    postgresBackendCpuSeconds: Object.fromEntries(
      Object.entries(c.backendCpu).map(([k, v]) => [k, round(v, 2)]),
    ),
    cpuPer1000: {
      worker: per1k(c.cpu.worker ?? 0),
      api: per1k(c.cpu.api ?? 0),
      postgresWorkerBackends: per1k(c.backendCpu.worker ?? 0),
      postgresApiBackends: per1k(c.backendCpu.api ?? 0),
      postgresCluster: c.cpu.postgresCluster !== undefined ? per1k(c.cpu.postgresCluster) : null,
      temporal: c.cpu.temporal !== undefined ? per1k(c.cpu.temporal) : null,
    },
    rowsWritten: {
      total: Object.values(c.rows).reduce((s, t) => s + t.ins + t.upd + t.del, 0),
      byTable: c.rows,
    },
    activities: summarizeSpans(c.spans, c.tPost),
    timeline: c.timeline,
    statements: c.statements,
  };
}

/** One line per activity type: count, first start and last close relative to the POST, busy time. */
function summarizeSpans(spans: ActivitySpan[], t0: number) {
  const out: Record<
    string,
    { calls: number; startMs: number | null; endMs: number | null; busyMs: number | null }
  > = {};
  for (const s of spans) {
    const o = out[s.name] ?? { calls: 0, startMs: null, endMs: null, busyMs: 0 };
    o.calls++;
    const start = round((s.started ?? s.scheduled) - t0, 0);
    o.startMs = o.startMs === null ? start : Math.min(o.startMs, start ?? Infinity);
    o.endMs = s.closed !== undefined ? round(s.closed - t0, 0) : o.endMs;
    if (s.closed !== undefined && s.started !== undefined)
      o.busyMs = (o.busyMs ?? 0) + Math.round(s.closed - s.started);
    out[s.name] = o;
  }
  return out;
}

type Figures = ReturnType<typeof computeFigures> &
  Awaited<ReturnType<typeof scaleFigures>> & {
    invariants: Invariant[];
    profileWindowUs: [number, number];
    webhooks: Awaited<ReturnType<typeof drainWebhooks>> | null;
  };

function table(results: Figures[], opts: Options): string {
  const v = (x: unknown) =>
    x === null || x === undefined ? '–' : typeof x === 'number' ? x.toLocaleString('en') : String(x);
  const lines: [string, (f: Figures) => unknown][] = [
    ['audience', (f) => f.audience],
    ['status', (f) => f.status],
    ['POST → snapshot start (ms)', (f) => f.timings.postToSnapshotStartMs],
    ['audience snapshot (ms)', (f) => f.timings.snapshotMs],
    ['connected clients in audience', (f) => f.online.connectedInAudience],
    ['online received / missing', (f) => `${v(f.online.received)} / ${v(f.online.missing)}`],
    ['online latency p50 (ms after snapshot)', (f) => f.online.p50Ms],
    ['online latency p99 (ms)', (f) => f.online.p99Ms],
    ['online latency max (ms)', (f) => f.online.maxMs],
    ['all connected have it (ms after snapshot)', (f) => f.online.allReceivedAfterSnapshotMs],
    ['server closes / reconnects', (f) => `${JSON.stringify(f.online.closes)} / ${f.online.reconnects}`],
    ['offline copies stored', (f) => f.counters.storedOffline],
    ['offline copies stored / s', (f) => f.timings.storedPerSecond],
    ['snapshot + offline copies (ms)', (f) => f.timings.snapshotPlusStoredMs],
    [
      'offline phase (ms, activities)',
      (f) => `${v(f.timings.offlinePhaseMs)} (${f.timings.offlineActivities})`,
    ],
    ['APNs accepted / rejected', (f) => `${v(f.providers.apns.accepted)} / ${v(f.providers.apns.rejected)}`],
    [
      'APNs notifications / s (peak 1 s)',
      (f) => `${v(f.providers.apns.perSecond)} (${v(f.providers.apns.peakPerSecond)})`,
    ],
    ['FCM accepted / rejected', (f) => `${v(f.providers.fcm.accepted)} / ${v(f.providers.fcm.rejected)}`],
    [
      'FCM notifications / s (peak 1 s)',
      (f) => `${v(f.providers.fcm.perSecond)} (${v(f.providers.fcm.peakPerSecond)})`,
    ],
    [
      'Huawei accepted / rejected (requests)',
      (f) =>
        `${v(f.providers.hms.accepted)} / ${v(f.providers.hms.rejected)} (${v(f.providers.hms.connections)})`,
    ],
    [
      'Huawei notifications / s (peak 1 s)',
      (f) => `${v(f.providers.hms.perSecond)} (${v(f.providers.hms.peakPerSecond)})`,
    ],
    [
      'Honor accepted / rejected (requests)',
      (f) =>
        `${v(f.providers.honor.accepted)} / ${v(f.providers.honor.rejected)} (${v(f.providers.honor.connections)})`,
    ],
    [
      'Honor notifications / s (peak 1 s)',
      (f) => `${v(f.providers.honor.perSecond)} (${v(f.providers.honor.peakPerSecond)})`,
    ],
    ...VENDORS.map((vendor): [string, (f: Figures) => unknown] => [
      `${VENDOR_LABELS[vendor]} accepted (notifications / s)`,
      (f) => `${v(f.providers[vendor].accepted)} (${v(f.providers[vendor].perSecond)})`,
    ]),
    ['end to end, POST → completed (ms)', (f) => f.timings.endToEndMs],
    [
      'webhook events per recipient / expected',
      (f) => (f.webhooks ? `${v(f.webhooks.perRecipientEvents)} / ${v(f.webhooks.expected)}` : null),
    ],
    [
      'webhook requests (largest batch)',
      (f) => (f.webhooks ? `${f.webhooks.requests} (${f.webhooks.largestBatch})` : null),
    ],
    ['webhook events all received, after completed (ms)', (f) => f.webhooks?.drainedAfterCompletionMs],
    ['worker peak RSS (MB)', (f) => f.memory.workerPeakMB],
    ['api peak RSS (MB, largest)', (f) => f.memory.apiPeakMB],
    ['rows written (ins+upd+del)', (f) => f.rowsWritten.total],
    ['CPU s: worker / api', (f) => `${v(f.cpuSeconds.worker)} / ${v(f.cpuSeconds.api)}`],
    [
      'CPU s: PG backends of worker / api',
      (f) => `${v(f.postgresBackendCpuSeconds.worker)} / ${v(f.postgresBackendCpuSeconds.api)}`,
    ],
    [
      'CPU s: PG cluster / Temporal / fakes / clients',
      (f) =>
        `${v(f.cpuSeconds.postgresCluster)} / ${v(f.cpuSeconds.temporal)} / ${v(f.cpuSeconds.fakes)} / ${v(f.cpuSeconds.clients)}`,
    ],
    ['CPU s per 1k recipients: worker / api', (f) => `${v(f.cpuPer1000.worker)} / ${v(f.cpuPer1000.api)}`],
    [
      'CPU s per 1k: PG worker backends / PG cluster',
      (f) => `${v(f.cpuPer1000.postgresWorkerBackends)} / ${v(f.cpuPer1000.postgresCluster)}`,
    ],
  ];
  const head = `| ${opts.accounts.toLocaleString('en')} accounts, ${opts.online.toLocaleString('en')} online | ${results.map((r) => r.scenario).join(' | ')} |`;
  const sep = `|---|${results.map(() => '--:').join('|')}|`;
  return [
    head,
    sep,
    ...lines.map(([label, get]) => `| ${label} | ${results.map((r) => v(get(r))).join(' | ')} |`),
  ].join('\n');
}

/** --webhooks: a local receiver, verifying every signature, and an endpoint of the bench app wanting '*'. */
async function webhookReceiver(apiUrl: string, apiKey: string): Promise<Receiver> {
  let secret: string | undefined;
  const receiver = await startReceiver(() => secret);
  const res = await fetch(`${apiUrl}/v1/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: receiver.url, eventTypes: ['*'] }),
  });
  if (res.status !== 201) throw new Error(`POST /v1/webhooks answered ${res.status}: ${await res.text()}`);
  secret = ((await res.json()) as { secret: string }).secret;
  return receiver;
}

async function machineInfo(database: Database) {
  const [pg] = await database.sql<Record<string, string>[]>`
    select version() as version, current_setting('shared_buffers') as shared_buffers,
      current_setting('work_mem') as work_mem, current_setting('max_parallel_workers_per_gather') as parallel,
      current_setting('jit') as jit, current_setting('synchronous_commit') as synchronous_commit,
      current_setting('max_wal_size') as max_wal_size`;
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? '?',
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    postgres: pg,
    fdLimit: (await import('node:child_process'))
      .execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' })
      .trim(),
  };
}

/** Answers the exit code: 0, or 3 when a push broke an invariant (the figures are written either way). */
async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const outDir = path.join(root, 'bench', 'results', `run-${stamp}`);
  const logDir = path.join(outDir, 'logs');
  await mkdir(logDir, { recursive: true });
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse())
      await c().catch((err) => bar.note(`cleanup: ${(err as Error).message}`));
    cleanups.length = 0;
  };
  process.once('SIGINT', () => {
    bar.note('interrupted: stopping the stack');
    void cleanup().finally(() => process.exit(130));
  });
  try {
    bar.note(
      `bench: ${opts.scenarios.join(', ')} — ${opts.accounts.toLocaleString('en')} accounts, ${opts.online.toLocaleString('en')} online, ${opts.apis} api process(es), ${opts.workers} worker(s); logs in ${path.relative(root, outDir)}`,
    );
    const db = await resolveDatabase({ privatePg: opts.privatePg, pgSettings: opts.pgSettings });
    cleanups.push(() => db.stop());
    if (!opts.privatePg)
      bar.note(
        'cost model: without --private-pg, PostgreSQL CPU and WAL are the whole server’s, other databases’ load included',
      );
    const database = connectDatabase(db.url, 4);
    cleanups.push(() => database.close());
    await runMigrations(database);
    let hasStatements = false;
    if (opts.privatePg) {
      await database.sql`create extension if not exists pg_stat_statements`;
      hasStatements = true;
    }
    if (opts.autoExplainMs !== undefined) {
      const dbName = new URL(db.url).pathname.slice(1);
      for (const [k, val] of [
        ['auto_explain.log_min_duration', `${opts.autoExplainMs}ms`],
        ['auto_explain.log_analyze', 'on'],
        ['auto_explain.log_buffers', 'on'],
        ['auto_explain.log_nested_statements', 'on'],
      ])
        await database.sql.unsafe(`alter database "${dbName}" set ${k} = '${val}'`);
    }
    const info = await machineInfo(database);
    const pgPort = Number(new URL(db.url).port || 5432);

    const temporal = await resolveTemporal();
    cleanups.push(() => temporal.stop());

    // Provider fakes, in their own process.
    const apnsKey = generateApnsKey({ topic: 'com.example.herald.bench' });
    const account = generateServiceAccount('herald-bench');
    const vendorCredentials = vendorSpec();
    const spec: FakesSpec = {
      apns: { publicKey: apnsKey.publicKey, ...apnsKey.credentials },
      fcm: { publicKey: account.publicKey, projectId: account.projectId, clientEmail: account.clientEmail },
      hms: BENCH_HMS,
      honor: BENCH_HONOR,
      ...vendorCredentials,
    };
    const baseEnv = { ...process.env };
    delete baseEnv.NODE_OPTIONS;
    const fakes = spawnNode(
      'fakes',
      ['--import', 'tsx', 'bench/fakes-child.ts'],
      { ...baseEnv, HERALD_BENCH_FAKES: JSON.stringify(spec) },
      logDir,
      true,
    );
    cleanups.push(() => fakes.stop());
    const addresses = (
      await nextMessage<{ type: 'ready'; addresses: FakesAddresses }>(fakes.child, 'ready', 60_000)
    ).addresses;
    const caFile = path.join(outDir, 'fake-apns-ca.pem');
    await writeFile(caFile, addresses.ca);

    // herald api ×N and herald worker.
    const taskQueue = `herald-bench-${Math.random().toString(36).slice(2, 8)}`;
    const profileDir = path.join(outDir, 'profiles');
    const heraldEnv = (): NodeJS.ProcessEnv => ({
      ...baseEnv,
      DATABASE_URL: db.url,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      HOST: '127.0.0.1',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      APNS_URL: addresses.apnsUrl,
      APNS_SANDBOX_URL: addresses.apnsSandboxUrl,
      FCM_URL: addresses.fcmUrl,
      HERALD_ALLOWED_TOKEN_URIS: addresses.tokenUri,
      HMS_URL: addresses.hmsUrl,
      HMS_TOKEN_URL: addresses.hmsTokenUrl,
      HONOR_URL: addresses.honorUrl,
      HONOR_TOKEN_URL: addresses.honorTokenUrl,
      XIAOMI_URL: addresses.xiaomiUrl,
      OPPO_URL: addresses.oppoUrl,
      VIVO_URL: addresses.vivoUrl,
      HERALD_ENCRYPTION_KEY: BENCH_ENCRYPTION_KEY,
      // --webhooks: the receiver is on this machine.
      HERALD_WEBHOOK_ALLOW_PRIVATE: 'true',
      NODE_EXTRA_CA_CERTS: caFile,
      ...(opts.pageSize ? { HERALD_PAGE_SIZE: String(opts.pageSize) } : {}),
      ...(opts.poolSize ? { DATABASE_POOL_SIZE: String(opts.poolSize) } : {}),
    });
    const nodeFlags = (role: string, name: string) =>
      opts.profile.includes(role) ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, name)}`] : [];
    const { freePort } = await import('../cli/temporal-dev.ts');
    const apis: Stack['apis'] = [];
    for (let i = 0; i < opts.apis; i++) {
      const port = await freePort();
      const name = `api${i + 1}`;
      const proc = spawnHerald(
        name,
        'api',
        { ...heraldEnv(), PORT: String(port) },
        logDir,
        nodeFlags('api', name),
      );
      cleanups.push(() => proc.stop());
      apis.push({ proc, url: `http://127.0.0.1:${port}` });
    }
    const workers: Proc[] = [];
    for (let i = 0; i < opts.workers; i++) {
      const name = `worker${i + 1}`;
      const proc = spawnHerald(name, 'worker', heraldEnv(), logDir, nodeFlags('worker', name));
      cleanups.push(() => proc.stop());
      workers.push(proc);
    }

    // Seed while the processes start.
    const seeding = seedBenchApp(database, {
      accounts: opts.accounts,
      apnsPct: opts.apnsPct,
      fcmPct: opts.fcmPct,
      hmsPct: opts.hmsPct,
      honorPct: opts.honorPct,
      zones: opts.localTime,
      xiaomiPct: opts.vendorPct.xiaomi,
      oppoPct: opts.vendorPct.oppo,
      vivoPct: opts.vendorPct.vivo,
      onProgress: (done, total, label) => bar.update(label, done, total),
    });
    const seeded = await seeding;
    bar.end();
    bar.note(
      `seeded ${seeded.accounts.toLocaleString('en')} accounts (${seeded.apnsDevices.toLocaleString('en')} APNs, ${seeded.fcmDevices.toLocaleString('en')} FCM, ${seeded.hmsDevices.toLocaleString('en')} Huawei, ${seeded.honorDevices.toLocaleString('en')} Honor, ${seeded.vendorDevices.toLocaleString('en')} Xiaomi/OPPO/vivo tokens) in ${seeded.seconds.toFixed(1)} s`,
    );
    if (db.kind === 'given' && !opts.keep) cleanups.push(() => dropBenchApp(database, seeded.app.id));
    await Promise.all(apis.map((a) => waitForApi(a.proc, a.url)));
    for (const w of workers) await waitForWorker(w, temporal.client, taskQueue);

    // The app's provider credentials, through the API as an operator would set them.
    const put = async (what: string, body: unknown) => {
      const r = await fetch(`${apis[0]?.url}/v1/apps/current/credentials/${what}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${seeded.app.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!r.ok) throw new Error(`PUT credentials/${what}: ${r.status} ${await r.text()}`);
    };
    await put('apns', apnsKey.credentials);
    await put('fcm', { serviceAccount: account.credentials(addresses.tokenUri).serviceAccount });
    await put('hms', BENCH_HMS);
    await put('honor', BENCH_HONOR);
    for (const vendor of VENDORS) await put(vendor, vendorCredentials[vendor]);

    // WebSocket clients.
    const online = onlineAccounts(opts.accounts, opts.online);
    const clients: Proc[] = [];
    const tConnect = now();
    const apiCpuBeforeConnect = apis.reduce((s, a) => s + cpuSeconds(a.proc.pid), 0);
    const progress = new Map<Proc, number>();
    const connectedMsgs: ClientsConnected[] = [];
    for (let i = 0; i < online.length; i += CLIENTS_PER_PROCESS) {
      const proc = spawnNode(
        `clients${clients.length + 1}`,
        ['--import', 'tsx', 'bench/clients-child.ts'],
        baseEnv,
        logDir,
        true,
      );
      cleanups.push(async () => {
        proc.child.connected && proc.child.send({ cmd: 'close' });
        await Promise.race([proc.exited, sleep(3000)]);
        await proc.stop();
      });
      clients.push(proc);
      const accounts = online.slice(i, i + CLIENTS_PER_PROCESS);
      clientAccounts.set(proc, accounts);
      proc.child.on('message', (m: ClientsProgress) => {
        if (m.type !== 'progress') return;
        progress.set(proc, m.connected);
        const done = [...progress.values()].reduce((a, b) => a + b, 0);
        bar.update('connecting clients', done, online.length, `${done} / ${online.length}`);
      });
    }
    await Promise.all(
      clients.map(async (proc) => {
        await nextMessage(proc.child, 'ready', 60_000);
        const connected = nextMessage<ClientsConnected>(proc.child, 'connected', 1_800_000);
        proc.child.send({
          cmd: 'start',
          urls: apis.map((a) => a.url.replace('http://', 'ws://')),
          appId: seeded.app.id,
          secretKey: seeded.app.secretKey,
          accounts: clientAccounts.get(proc),
          concurrency: 100,
        });
        connectedMsgs.push(await connected);
      }),
    );
    bar.end();
    const connect = {
      clients: connectedMsgs.reduce((s, m) => s + m.connected, 0),
      failed: connectedMsgs.reduce((s, m) => s + m.failed, 0),
      errors: connectedMsgs.flatMap((m) => m.errors),
      seconds: round((now() - tConnect) / 1000, 1),
      apiCpuSeconds: round(apis.reduce((s, a) => s + cpuSeconds(a.proc.pid), 0) - apiCpuBeforeConnect, 2),
      apiRssMB: apis.map((a) => mb(statusBytes(a.proc.pid, 'VmRSS'))),
    };
    bar.note(
      `connected ${connect.clients.toLocaleString('en')} clients in ${connect.seconds} s (${connect.failed} failed)`,
    );

    const stack: Stack = {
      db,
      database,
      temporal,
      fakes,
      apis,
      workers,
      clients,
      taskQueue,
      pgPort,
      hasStatements,
      receiver: opts.webhooks ? await webhookReceiver(apis[0]?.url ?? '', seeded.app.apiKey) : undefined,
    };
    const results: Figures[] = [];
    for (const scenario of opts.scenarios) {
      const figures = await runPush(stack, seeded, online, scenario, opts);
      results.push(figures);
      bar.note(
        `${scenario}: audience ${figures.audience.toLocaleString('en')}, end to end ${figures.timings.endToEndMs} ms`,
      );
    }

    await stack.receiver?.close();
    // Stop the measured processes now, so their CPU profiles are written.
    for (const c of clients) {
      c.child.connected && c.child.send({ cmd: 'close' });
    }
    await Promise.all(clients.map((c) => Promise.race([c.exited, sleep(3000)])));
    await Promise.all([...workers.map((w) => w.stop()), ...apis.map((a) => a.proc.stop())]);
    // One profile per thread (main = tid 0; the Temporal worker runs workflows in worker threads), each
    // summarized over each push's window (the monotonic clock is the one V8 stamps profiles with).
    const profiles: Record<string, unknown> = {};
    const profiled = opts.profile.flatMap((role) =>
      role === 'api' ? apis.map((a) => a.proc.name) : role === 'worker' ? workers.map((w) => w.name) : [role],
    );
    for (const name of profiled) {
      const dir = path.join(profileDir, name);
      const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.cpuprofile'));
      for (const f of files) {
        const tid = f.split('.').at(-3) ?? '?';
        const label = `${name} thread ${tid}`;
        try {
          const profile = JSON.parse(await readFile(path.join(dir, f), 'utf8')) as CpuProfile;
          const perPush: Record<string, unknown> = {};
          let text = '';
          for (const r of results) {
            const summary = summarizeProfile(profile, {
              fromAbsUs: r.profileWindowUs[0],
              toAbsUs: r.profileWindowUs[1],
            });
            if (summary.busyMs < 50) continue;
            perPush[r.scenario] = {
              busyMs: summary.busyMs,
              self: summary.self,
              inclusive: summary.inclusive,
              byPackage: summary.byPackage,
            };
            text += `## ${label}, push ${r.scenario}\n${summary.text}\n\n`;
          }
          if (!text) continue;
          profiles[label] = { file: path.relative(root, path.join(dir, f)), perPush };
          await writeFile(path.join(dir, `${f}.summary.txt`), text);
          profileTexts.push(text);
        } catch (err) {
          profiles[label] = { error: (err as Error).message };
        }
      }
    }
    let autoExplain: string | undefined;
    if (opts.autoExplainMs !== undefined && db.logFile) {
      autoExplain = path.join(outDir, 'auto-explain.log');
      await writeFile(autoExplain, await readFile(db.logFile, 'utf8'));
    }

    const git = (args: string[]) => {
      try {
        return execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
      } catch {
        return '';
      }
    };
    const report = {
      when: new Date().toISOString(),
      code: {
        commit: git(['rev-parse', '--short', 'HEAD']),
        uncommitted: git([
          'status',
          '--porcelain',
          '--',
          'activities',
          'workflows',
          'api',
          'delivery',
          'db',
          'cli',
          'core',
        ])
          .split('\n')
          .filter(Boolean),
      },
      command: `npm run bench -- ${process.argv.slice(2).join(' ')}`,
      options: opts,
      machine: info,
      database: { kind: db.kind, url: db.url.replace(/\/\/[^@]*@/, '//…@') },
      temporal: {
        address: temporal.address,
        startedHere: temporal.pidFrom === 'started',
        pidFrom: temporal.pidFrom,
      },
      apis: apis.length,
      workers: workers.length,
      seed: { ...seeded, app: { id: seeded.app.id } },
      connect,
      scenarios: results,
      profiles,
      autoExplainLog: autoExplain ? path.relative(root, autoExplain) : undefined,
      logs: path.relative(root, logDir),
    };
    const jsonFile = opts.json
      ? path.resolve(opts.json)
      : path.join(root, 'bench', 'results', `bench-${stamp}.json`);
    writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`\n${table(results, opts)}\n\n`);
    for (const r of results) process.stdout.write(`${scaleTables(r)}\n\n`);
    for (const text of profileTexts) process.stdout.write(text);
    process.stdout.write(`figures: ${path.relative(process.cwd(), jsonFile)}\n`);
    const broken = results.flatMap((r) =>
      r.invariants.filter((i) => !i.ok).map((i) => `${r.scenario}: ${i.name}`),
    );
    if (broken.length) bar.note(`invariants broken: ${broken.join('; ')}`);
    return broken.length ? 3 : 0;
  } finally {
    await cleanup();
  }
}

await main().then(
  (code) => process.exit(code),
  (err) => {
    bar.note(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
