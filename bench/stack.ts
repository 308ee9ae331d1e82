/**
 * The stack a benchmark runs against: PostgreSQL (the machine's, a private cluster, or DATABASE_URL), Temporal
 * (TEMPORAL_ADDRESS or a headless, ephemeral dev server from cli/temporal-dev.ts), and the processes it
 * measures — `herald api` (one or more) and `herald worker` — each a child process of its own so that its
 * CPU and RSS can be read from /proc, plus the provider fakes and the WebSocket clients.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import postgres from 'postgres';
import { findTemporalCli, freePort, startDevTemporal } from '../cli/temporal-dev.ts';
import { createLogger } from '../core/log.ts';
import { pidListeningOn, readStat } from './procstat.ts';

export const root = fileURLToPath(new URL('..', import.meta.url));
const heraldBin = path.join(root, 'bin', 'herald.js');

export interface DatabaseHandle {
  url: string;
  /** What the URL names: `scratch` (herald_bench, recreated), `private` (a cluster of our own), `given`. */
  kind: 'scratch' | 'private' | 'given';
  postmasterPid: number | undefined;
  /** The private cluster's server log (auto_explain writes its plans there). */
  logFile: string | undefined;
  /** A private cluster only: stop (`pg_ctl stop -m fast`) and start it again on the same port and data. */
  control?: { stop(): void; start(): void };
  stop(): Promise<void>;
}

const withDatabase = (url: string, db: string) => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
};

/** The postmaster of the server behind `url`: the parent of our own backend. */
async function postmasterOf(url: string): Promise<number | undefined> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const pm = row ? readStat(row.pid)?.ppid : undefined;
    return pm && readStat(pm)?.comm.startsWith('postgres') ? pm : undefined;
  } catch {
    return undefined;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function recreate(adminUrl: string, name: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`drop database if exists "${name}" with (force)`);
    await sql.unsafe(`create database "${name}"`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function pgBinDir(): string {
  if (process.env.HERALD_BENCH_PG_BIN) return process.env.HERALD_BENCH_PG_BIN;
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => existsSync(path.join(base, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions[0])
    throw new Error('--private-pg: no initdb under /usr/lib/postgresql (set HERALD_BENCH_PG_BIN)');
  return path.join(base, versions[0], 'bin');
}

/** Runs a PostgreSQL binary as the `postgres` user when we are root (the server refuses to run as root). */
function asPostgres(bin: string, args: string[]): void {
  const asRoot = process.getuid?.() === 0;
  execFileSync(asRoot ? 'runuser' : bin, asRoot ? ['-u', 'postgres', '--', bin, ...args] : args, {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/**
 * A PostgreSQL cluster of our own, with pg_stat_statements and auto_explain preloaded (the machine's server
 * has neither in shared_preload_libraries, and loading them there needs a restart). Settings are initdb's
 * defaults, as the machine's server has, unless `settings` says otherwise.
 */
async function privateCluster(settings: string[]): Promise<DatabaseHandle> {
  const bin = pgBinDir();
  const dir = await mkdtemp(path.join(tmpdir(), 'herald-bench-pg-'));
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres', dir]);
  asPostgres(path.join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  const port = await freePort();
  const options = [
    `-c port=${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    "-c shared_preload_libraries='pg_stat_statements,auto_explain'",
    '-c pg_stat_statements.track=all',
    '-c max_connections=200',
    ...settings.map((s) => `-c ${s}`),
  ].join(' ');
  const start = () =>
    asPostgres(path.join(bin, 'pg_ctl'), ['-D', data, '-l', logFile, '-o', options, '-w', 'start']);
  start();
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await recreate(adminUrl, 'herald_bench');
  const url = withDatabase(adminUrl, 'herald_bench');
  return {
    url,
    kind: 'private',
    postmasterPid: await postmasterOf(url),
    logFile,
    control: {
      stop: () => asPostgres(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']),
      start,
    },
    stop: async () => {
      asPostgres(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
      // The server log is copied into the run's folder first when --auto-explain asked for it.
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function resolveDatabase(opts: {
  privatePg: boolean;
  pgSettings: string[];
}): Promise<DatabaseHandle> {
  if (opts.privatePg) return privateCluster(opts.pgSettings);
  const given = process.env.DATABASE_URL;
  if (given) {
    return {
      url: given,
      kind: 'given',
      postmasterPid: await postmasterOf(given),
      logFile: undefined,
      stop: async () => {},
    };
  }
  const adminUrl = 'postgres://postgres@127.0.0.1:5432/postgres';
  await recreate(adminUrl, 'herald_bench');
  const url = withDatabase(adminUrl, 'herald_bench');
  return {
    url,
    kind: 'scratch',
    postmasterPid: await postmasterOf(url),
    logFile: undefined,
    stop: async () => {},
  };
}

export interface TemporalHandle {
  address: string;
  /**
   * The server's pid: the dev server we started, or (TEMPORAL_ADDRESS) the process listening on its port when
   * this machine's /proc shows it; undefined for a server elsewhere, whose CPU the bench cannot read.
   */
  pid: number | undefined;
  /** How `pid` was found: `started` here, `port` (a reused server found by its listening port), or `unknown`. */
  pidFrom: 'started' | 'port' | 'unknown';
  client: Client;
  stop(): Promise<void>;
}

export async function resolveTemporal(): Promise<TemporalHandle> {
  let address = process.env.TEMPORAL_ADDRESS;
  let stopServer = async () => {};
  let pid: number | undefined;
  if (!address) {
    const before = new Set(childPids());
    const dataDir = await mkdtemp(path.join(tmpdir(), 'herald-bench-temporal-'));
    const dev = await startDevTemporal({
      cli: findTemporalCli(process.env.TEMPORAL_CLI, root),
      dataDir,
      port: await freePort(),
      uiPort: 0,
      namespace: 'default',
      log: createLogger('warn', 'bench'),
      ephemeral: true,
    });
    address = dev.address;
    stopServer = async () => {
      await dev.stop();
      await rm(dataDir, { recursive: true, force: true });
    };
    pid = childPids().find((p) => !before.has(p));
  }
  const pidFrom = pid !== undefined ? 'started' : undefined;
  if (pid === undefined) {
    const { hostname, port } = new URL(`http://${address}`);
    if (['127.0.0.1', 'localhost', '[::1]', '0.0.0.0'].includes(hostname)) pid = pidListeningOn(Number(port));
  }
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
  return {
    address,
    pid,
    pidFrom: pidFrom ?? (pid !== undefined ? 'port' : 'unknown'),
    client,
    stop: async () => {
      await connection.close();
      await stopServer();
    },
  };
}

function childPids(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    if (readStat(Number(name))?.ppid === process.pid) out.push(Number(name));
  }
  return out;
}

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * Spawns `node <args>` through `sh -c 'ulimit -n <hard>; exec …'` so it may open as many sockets as the
 * machine allows; `exec` keeps the pid, so /proc/<pid> is node's own.
 */
export function spawnNode(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logDir: string,
  ipc = false,
): Proc {
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${name}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(
    'sh',
    ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, ...args],
    {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? (['ipc'] as const) : [])],
    },
  );
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    name,
    child,
    pid: child.pid ?? 0,
    logFile,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

export const tail = (file: string, lines = 20): string => {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
};

/**
 * The per-IP connection cap protects a gateway from one address; every client of a benchmark comes from
 * loopback, so the bench's api processes lift it (unless the caller set it).
 */
const BENCH_LIMITS = { HERALD_MAX_CONNECTIONS_PER_IP: '1000000' };

/** `node [nodeFlags] bin/herald.js api|worker`; --cpu-prof goes in nodeFlags (NODE_OPTIONS refuses it). */
export function spawnHerald(
  name: string,
  role: 'api' | 'worker',
  env: NodeJS.ProcessEnv,
  logDir: string,
  nodeFlags: string[] = [],
): Proc {
  return spawnNode(name, [...nodeFlags, heraldBin, role], { ...BENCH_LIMITS, ...env }, logDir);
}

/** Resolves once GET /readyz answers 200, or throws with the tail of the process's log. */
export async function waitForApi(proc: Proc, url: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) break;
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${proc.name} did not become ready:\n${tail(proc.logFile)}`);
}

/** Resolves once the worker polls the task queue for both workflow and activity tasks. */
export async function waitForWorker(
  proc: Proc,
  client: Client,
  taskQueue: string,
  timeoutMs = 180_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) break;
    const kinds = await Promise.all(
      [1, 2].map(async (taskQueueType) => {
        const res = await client.workflowService.describeTaskQueue({
          namespace: client.options.namespace,
          taskQueue: { name: taskQueue },
          taskQueueType,
        });
        return (res.pollers?.length ?? 0) > 0;
      }),
    );
    if (kinds.every(Boolean)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${proc.name} did not start polling ${taskQueue}:\n${tail(proc.logFile)}`);
}

/** Waits for one IPC message of `type` from a child. */
export function nextMessage<T extends { type: string }>(
  child: ChildProcess,
  type: T['type'],
  timeoutMs = 600_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`no ${type} message within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m: { type?: string }) => {
      if (m?.type !== type) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(m as T);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) while waiting for ${type}`));
    });
  });
}
