/**
 * The chaos runner (run by hand, never in CI): real faults against a real stack, then the invariants of each
 * push checked from the database, the fakes' logs and the clients' logs. See docs/reliability.md.
 *
 *   npm run chaos -- <all|worker-kill|pg-restart|temporal-restart|api-kill|bus-drop>[,…] [--accounts 100000]
 *     [--online 2000] [--apns-pct 10] [--fcm-pct 10] [--page-size 100] [--retention 3600] [--kills 20]
 *     [--latency-ms 20] [--down-ms 5000] [--bus-drop-ms 3000] [--timeout 900] [--no-docs]
 */
import { execFileSync } from 'node:child_process';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PAGE_RANGES_PER_WORKER, PAGES_IN_FLIGHT } from '../../core/tunables.ts';
import { runMigrations } from '../../db/migrate.ts';
import { generateApnsKey, generateServiceAccount } from '../../fakes/keys.ts';
import type { FakesAddresses } from '../ipc.ts';
import { now } from '../ipc.ts';
import { BENCH_ENCRYPTION_KEY, onlineAccounts, seedBenchApp } from '../seed.ts';
import { nextMessage, type Proc, root, spawnNode } from '../stack.ts';
import { type Check, checkPush, readTruth, type Tallies } from './checks.ts';
import type { ChaosClientsCollect, ChaosFakesReport, ChaosFakesSpec } from './ipc.ts';
import { ask, PushObserver, type PushView } from './observe.ts';
import {
  apiKill,
  busDrop,
  type FaultContext,
  type FaultRecord,
  pgRestart,
  SCENARIOS,
  type Scenario,
  temporalRestart,
  workerKills,
} from './scenarios.ts';
import { HeraldProcesses, privatePostgres, TemporalProcess, tempDir } from './stack.ts';

const USAGE = `npm run chaos -- <all|${SCENARIOS.join('|')}>[,…] [--accounts 100000] [--online 2000]
  [--apns-pct 10] [--fcm-pct 10] [--page-size 100] [--retention 3600] [--kills 20] [--latency-ms 20]
  [--down-ms 5000] [--bus-drop-ms 3000] [--timeout 900] [--no-docs]`;

function parseOptions(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      accounts: { type: 'string', default: '100000' },
      online: { type: 'string', default: '2000' },
      'apns-pct': { type: 'string', default: '10' },
      'fcm-pct': { type: 'string', default: '10' },
      'page-size': { type: 'string', default: '100' },
      retention: { type: 'string', default: '3600' },
      kills: { type: 'string', default: '20' },
      'latency-ms': { type: 'string', default: '20' },
      'down-ms': { type: 'string', default: '5000' },
      'bus-drop-ms': { type: 'string', default: '3000' },
      timeout: { type: 'string', default: '900' },
      'no-docs': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const arg = positionals[0];
  if (values.help || !arg) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(arg ? 0 : 2);
  }
  const scenarios = arg === 'all' ? [...SCENARIOS] : (arg.split(',') as Scenario[]);
  for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown fault ${s}\n${USAGE}`);
  const int = (name: string, v: string | undefined, min = 0) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
    return n;
  };
  const accounts = int('accounts', values.accounts, 100);
  const online = int('online', values.online, 1);
  if (online > accounts) throw new Error('--online cannot exceed --accounts');
  return {
    scenarios,
    accounts,
    online,
    apnsPct: Number(values['apns-pct']),
    fcmPct: Number(values['fcm-pct']),
    pageSize: int('page-size', values['page-size'], 10),
    retention: int('retention', values.retention, 0),
    kills: int('kills', values.kills, 1),
    latencyMs: int('latency-ms', values['latency-ms'], 0),
    downMs: int('down-ms', values['down-ms'], 0),
    busDropMs: int('bus-drop-ms', values['bus-drop-ms'], 100),
    timeoutS: int('timeout', values.timeout, 10),
    docs: !values['no-docs'],
  };
}
type Options = ReturnType<typeof parseOptions>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

interface PushResult {
  fault: Scenario;
  label: string;
  pushId: string;
  status: string;
  fault_: FaultRecord;
  checks: Check[];
  tallies: Tallies;
  lossBound: number;
  seconds: number;
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const outDir = path.join(root, 'bench', 'results', `chaos-${stamp}`);
  const logDir = path.join(outDir, 'logs');
  await mkdir(logDir, { recursive: true });
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch((err) => say(`cleanup: ${(err as Error).message}`));
    cleanups.length = 0;
  };
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
  const results: PushResult[] = [];
  try {
    say(
      `chaos: ${opts.scenarios.join(', ')} — ${opts.accounts} accounts, ${opts.online} clients; logs in ${path.relative(root, logDir)}`,
    );
    const { db, database } = await privatePostgres();
    cleanups.push(() => db.stop());
    cleanups.push(() => database.close());
    await runMigrations(database);
    const tdir = await tempDir('herald-chaos-temporal-');
    cleanups.push(() => tdir.remove());
    const temporal = await TemporalProcess.start(tdir.dir);
    cleanups.push(() => temporal.stop());

    const apnsKey = generateApnsKey({ topic: 'com.example.herald.chaos' });
    const account = generateServiceAccount('herald-chaos');
    const spec: ChaosFakesSpec = {
      apns: { publicKey: apnsKey.publicKey, ...apnsKey.credentials },
      fcm: { publicKey: account.publicKey, projectId: account.projectId, clientEmail: account.clientEmail },
      latencyMs: opts.latencyMs,
    };
    const baseEnv = { ...process.env };
    delete baseEnv.NODE_OPTIONS;
    const fakes = spawnNode(
      'fakes',
      ['--import', 'tsx', 'bench/chaos/fakes-child.ts'],
      { ...baseEnv, HERALD_CHAOS_FAKES: JSON.stringify(spec) },
      logDir,
      true,
    );
    cleanups.push(() => fakes.stop());
    const addresses = (
      await nextMessage<{ type: 'ready'; addresses: FakesAddresses }>(fakes.child, 'ready', 60_000)
    ).addresses;
    const caFile = path.join(outDir, 'fake-ca.pem');
    await writeFile(caFile, addresses.ca);

    const herald = new HeraldProcesses(
      {
        ...baseEnv,
        DATABASE_URL: db.url,
        TEMPORAL_ADDRESS: temporal.address,
        TEMPORAL_TASK_QUEUE: `herald-chaos-${Math.random().toString(36).slice(2, 8)}`,
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        APNS_URL: addresses.apnsUrl,
        APNS_SANDBOX_URL: addresses.apnsSandboxUrl,
        FCM_URL: addresses.fcmUrl,
        HERALD_ALLOWED_TOKEN_URIS: addresses.tokenUri,
        HERALD_ENCRYPTION_KEY: BENCH_ENCRYPTION_KEY,
        NODE_EXTRA_CA_CERTS: caFile,
        HERALD_PAGE_SIZE: String(opts.pageSize),
      },
      logDir,
    );
    cleanups.push(() => herald.stop());
    const started = Promise.all([herald.startApis(2), herald.startWorker()]);
    const seeded = await seedBenchApp(database, {
      accounts: opts.accounts,
      apnsPct: opts.apnsPct,
      fcmPct: opts.fcmPct,
    });
    say(
      `seeded ${seeded.accounts} accounts (${seeded.apnsDevices} APNs, ${seeded.fcmDevices} FCM) in ${seeded.seconds.toFixed(1)} s`,
    );
    await started;
    const app = seeded.app;
    const api = async (
      method: string,
      url: string,
      body?: unknown,
    ): Promise<{ status: number; json: unknown }> => {
      // Any api still alive answers: the runner must keep reading while one is down.
      let last: unknown;
      for (const a of herald.apis.filter((x) => !x.killed)) {
        try {
          const r = await fetch(`${a.url}${url}`, {
            method,
            headers: { authorization: `Bearer ${app.apiKey}`, 'content-type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: AbortSignal.timeout(10_000),
          });
          return { status: r.status, json: await r.json().catch(() => undefined) };
        } catch (err) {
          last = err;
        }
      }
      throw last ?? new Error('no api alive');
    };
    for (const [what, body] of [
      ['apns', apnsKey.credentials],
      ['fcm', { serviceAccount: account.credentials(addresses.tokenUri).serviceAccount }],
    ] as const) {
      const r = await api('PUT', `/v1/apps/current/credentials/${what}`, body);
      if (r.status >= 300) throw new Error(`PUT credentials/${what}: ${r.status} ${JSON.stringify(r.json)}`);
    }

    // WebSocket clients, half on each api.
    const clientAccounts = onlineAccounts(opts.accounts, opts.online);
    const clients: Proc = spawnNode(
      'clients',
      ['--import', 'tsx', 'bench/chaos/clients-child.ts'],
      baseEnv,
      logDir,
      true,
    );
    cleanups.push(async () => {
      clients.child.connected && clients.child.send({ cmd: 'close' });
      await Promise.race([clients.exited, sleep(3000)]);
      await clients.stop();
    });
    await nextMessage(clients.child, 'ready', 60_000);
    const conn = await ask<{ connected: number; failed: number }>(
      clients.child,
      {
        cmd: 'start',
        urls: herald.apis.map((a) => a.url.replace('http://', 'ws://')),
        appId: app.id,
        secretKey: app.secretKey,
        accounts: clientAccounts,
        concurrency: 100,
        ack: true,
      },
      'connected',
      600_000,
    );
    say(`connected ${conn.connected} clients (${conn.failed} failed)`);

    const getPush = async (id: string) => {
      const r = await api('GET', `/v1/pushes/${id}`);
      return r.status === 200 ? (r.json as PushView) : undefined;
    };
    const waitForClients = async (moved: number) => {
      const until = Date.now() + 120_000;
      // The closed sockets count as open until their close completes: give them a moment first.
      await sleep(3000);
      for (;;) {
        const s = await ask<{ open: number }>(clients.child, { cmd: 'status' }, 'status');
        if (s.open >= conn.connected || Date.now() > until) {
          say(`rebalanced ${moved} clients; ${s.open} connected`);
          return;
        }
        await sleep(500);
      }
    };
    const message = (label: string) => ({
      elements: [{ type: 'text', text: `chaos ${label} ${new Date().toISOString()}` }],
    });

    /** One push (or campaign step) through one fault, then its invariants. */
    const runPush = async (
      fault: Scenario,
      label: string,
      retention: number,
      create: () => Promise<string>,
      inject: (ctx: FaultContext) => Promise<FaultRecord>,
    ): Promise<void> => {
      await ask(fakes.child, { cmd: 'reset' }, 'reset');
      const status = await ask<{ open: number; frames: number }>(clients.child, { cmd: 'status' }, 'status');
      const t0 = now();
      const pushId = await create();
      const tPost = now();
      say(`${fault} · ${label}: push ${pushId} (${status.open} clients connected)`);
      const observer = new PushObserver(pushId, getPush, fakes.child, [clients.child]);
      const exitsBefore = herald.unplannedWorkerExits.length;
      const ctx: FaultContext = {
        observer,
        herald,
        db,
        database,
        temporal,
        clients: clients.child,
        framesAtPost: status.frames,
        opts: {
          kills: opts.kills,
          downMs: opts.downMs,
          busDropMs: opts.busDropMs,
          recoveryTimeoutMs: 180_000,
        },
      };
      const rec = await inject(ctx);
      const done = await observer.settled(opts.timeoutS * 1000);
      if (!done) rec.notes.push(`not terminal within ${opts.timeoutS} s`);
      // Live deliveries and reconnect syncs can trail the completion: wait until the clients are quiet for 3 s.
      let frames = -1;
      const quietUntil = Date.now() + 30_000;
      while (Date.now() < quietUntil) {
        const s = await ask<{ frames: number; open: number }>(clients.child, { cmd: 'status' }, 'status');
        if (s.frames === frames && s.open >= status.open) break;
        frames = s.frames;
        await sleep(3000);
      }
      await observer.stop();
      const view = await getPush(pushId).catch(() => observer.view);
      const fakesReport = (await ask<{ report: ChaosFakesReport }>(fakes.child, { cmd: 'report' }, 'report'))
        .report;
      const collected = await ask<ChaosClientsCollect>(
        clients.child,
        { cmd: 'collect', pushId },
        'collected',
      );
      const truth = await readTruth(database, app.id, pushId, clientAccounts, t0);
      const unplanned = herald.unplannedWorkerExits.length - exitsBefore;
      const crashes = rec.crashes + unplanned;
      // One worker runs PAGE_RANGES_PER_WORKER page ranges of the push at once, each with its pages in flight.
      const lossBound = crashes * PAGE_RANGES_PER_WORKER * PAGES_IN_FLIGHT * opts.pageSize;
      const { checks, tallies } = checkPush({
        view,
        truth,
        fakes: fakesReport,
        connections: collected.connections.map((c) => ({
          ...c,
          accountId: clientAccounts[c.account] ?? '?',
        })),
        clientAccounts,
        tPost,
        tCollect: now(),
        connectedAtPost: status.open,
        lossBound,
        retention,
      });
      if (unplanned) rec.notes.push(`${unplanned} unplanned worker exit(s)`);
      const result: PushResult = {
        fault,
        label,
        pushId,
        status: view?.status ?? '?',
        fault_: rec,
        checks,
        tallies,
        lossBound,
        seconds: (now() - t0) / 1000,
      };
      results.push(result);
      for (const c of checks)
        say(
          `  ${c.verdict.padEnd(17)} ${c.name}: ${c.found}${c.examples.length ? ` — e.g. ${c.examples.join(', ')}` : ''}`,
        );
      for (const n of rec.notes) say(`  note: ${n}`);
      await writeFile(
        path.join(outDir, `${fault}-${label}.json`),
        `${JSON.stringify({ ...result, view, truth: { ...truth, clientStates: undefined, devices: truth.devices.length } }, null, 2)}\n`,
      );
    };

    const createPush = (label: string, retention: number) => async () => {
      const r = await api('POST', '/v1/pushes', { message: message(label), retentionSeconds: retention });
      if (r.status !== 201) throw new Error(`POST /v1/pushes: ${r.status} ${JSON.stringify(r.json)}`);
      return (r.json as { id: string }).id;
    };
    const createCampaignStep = (label: string, retention: number) => async () => {
      const at = new Date(Date.now() + 5000).toISOString();
      const r = await api('POST', '/v1/campaigns', {
        name: `chaos ${label}`,
        steps: [{ at, retentionSeconds: retention, message: message(label) }],
      });
      if (r.status !== 201) throw new Error(`POST /v1/campaigns: ${r.status} ${JSON.stringify(r.json)}`);
      const step = (r.json as { steps: { push: { id: string } }[] }).steps[0];
      if (!step) throw new Error('campaign without a step');
      return step.push.id;
    };

    for (const fault of opts.scenarios) {
      const R = opts.retention;
      if (fault === 'worker-kill') {
        await runPush(fault, 'push', R, createPush('worker-kill', R), workerKills);
        await runPush(fault, 'campaign-step', R, createCampaignStep('worker-kill', R), workerKills);
      } else if (fault === 'pg-restart') {
        await runPush(fault, 'push', R, createPush('pg-restart', R), pgRestart);
      } else if (fault === 'temporal-restart') {
        await runPush(fault, 'push', R, createPush('temporal-restart', R), temporalRestart);
      } else if (fault === 'api-kill') {
        // With retention (the killed api's clients catch up through the sync) and without (live only).
        for (const [label, retention] of [
          ['push', R],
          ['retention-0', 0],
        ] as const) {
          await runPush(fault, label, retention, createPush(`api-kill ${label}`, retention), (ctx) =>
            apiKill(ctx, 1),
          );
          await herald.restartApi(1);
          // Its clients moved to api 1: send every second one back, as a load balancer would spread them.
          const moved = await ask<{ moved: number }>(clients.child, { cmd: 'rebalance' }, 'rebalanced');
          await waitForClients(moved.moved);
        }
      } else if (fault === 'bus-drop') {
        for (const [label, retention] of [
          ['push', R],
          ['retention-0', 0],
        ] as const)
          await runPush(fault, label, retention, createPush(`bus-drop ${label}`, retention), busDrop);
      }
    }

    const report = await renderReport(opts, results, database);
    process.stdout.write(`\n${report.table}\n\n${report.details}\n`);
    await writeFile(
      path.join(outDir, 'report.md'),
      `${report.header}\n\n${report.table}\n\n${report.details}\n`,
    );
    if (opts.docs) {
      const file = path.join(root, 'docs', 'reliability.md');
      const existing = await readFile(file, 'utf8').catch(() => '');
      if (!existing) await writeFile(file, '# Reliability\n\n## Runs\n');
      await appendFile(file, `\n${report.header}\n\n${report.table}\n\n${report.details}\n`);
      say(`appended to ${path.relative(process.cwd(), file)}`);
    }
  } finally {
    await cleanup();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)] ?? 0) : Number.NaN;
};

async function renderReport(
  opts: Options,
  results: PushResult[],
  database: { sql: import('../../db/client.ts').Sql },
) {
  const [pg] = await database.sql<{ v: string }[]>`select current_setting('server_version') as v`;
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  };
  const header = [
    `### ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — \`npm run chaos -- ${process.argv.slice(2).join(' ')}\``,
    '',
    `Machine: nproc ${os.availableParallelism()}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, node ${process.version}, ` +
      `PostgreSQL ${pg?.v ?? '?'} (private cluster), code ${git(['rev-parse', '--short', 'HEAD'])}. ` +
      `${opts.accounts.toLocaleString('en')} accounts (${opts.apnsPct + opts.fcmPct} % with a device token), ` +
      `${opts.online.toLocaleString('en')} clients on 2 api processes, page size ${opts.pageSize}, ` +
      `PAGES_IN_FLIGHT ${PAGES_IN_FLIGHT}, retention ${opts.retention} s, fakes' latency ${opts.latencyMs} ms.`,
  ].join('\n');
  const rows = opts.scenarios.map((fault) => {
    const rs = results.filter((r) => r.fault === fault);
    const rec = rs.flatMap((r) => r.fault_.recoveriesMs);
    const failed = [
      ...new Set(rs.flatMap((r) => r.checks.filter((c) => c.verdict === 'FAIL').map((c) => c.name))),
    ];
    const events = rs.reduce((s, r) => s + r.fault_.events, 0);
    return [
      fault,
      `${rs.length} (${events} faults)`,
      `${rs.filter((r) => r.status === 'completed').length} / ${rs.length}`,
      String(rs.reduce((s, r) => s + r.tallies.duplicates, 0)),
      `${rs.reduce((s, r) => s + r.tallies.deviceLosses, 0)} devices (bound ${rs.reduce((s, r) => s + r.lossBound, 0)}), ` +
        `${rs.reduce((s, r) => s + r.tallies.clientLosses, 0)} clients`,
      rec.length
        ? `${(median(rec) / 1000).toFixed(1)} s median, ${(Math.max(...rec) / 1000).toFixed(1)} s max`
        : '–',
      failed.length ? failed.join('; ') : 'none',
    ];
  });
  const table = [
    '| fault | runs | pushes completed | duplicates | losses (bound) | recovery | invariants failed |',
    '|---|--:|--:|--:|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
  const details = results
    .map((r) =>
      [
        `<details><summary>${r.fault} · ${r.label} (push ${r.pushId}, ${r.status}, ${r.seconds.toFixed(0)} s, ${r.fault_.events} faults)</summary>`,
        '',
        ...r.checks.map(
          (c) =>
            `- **${c.verdict}** ${c.name}: ${c.found}${c.examples.length ? ` — e.g. ${c.examples.join(', ')}` : ''}`,
        ),
        ...r.fault_.notes.map((n) => `- note: ${n}`),
        r.fault_.recoveriesMs.length
          ? `- recoveries (s): ${r.fault_.recoveriesMs.map((x) => (x / 1000).toFixed(1)).join(', ')}`
          : '',
        '',
        '</details>',
      ].join('\n'),
    )
    .join('\n\n');
  return { header, table, details };
}

await main().then(
  () => process.exit(0),
  (err) => {
    say(`chaos failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
