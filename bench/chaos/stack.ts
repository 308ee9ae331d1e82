/**
 * The stack the chaos runner breaks: a private PostgreSQL cluster (so that stopping it is allowed), a Temporal
 * dev server on a database file of its own (so that it can be killed and restarted on that file), the provider
 * fakes, `herald api` ×N, `herald worker`, and the WebSocket clients — with a handle to kill and restart each.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findTemporalCli, freePort, waitForPort } from '../../cli/temporal-dev.ts';
import { connectDatabase, type Database } from '../../db/client.ts';
import type { FakesAddresses } from '../ipc.ts';
import {
  type DatabaseHandle,
  nextMessage,
  type Proc,
  resolveDatabase,
  root,
  spawnHerald,
  tail,
  waitForApi,
} from '../stack.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `temporal server start-dev` on a --db-filename we own, on a fixed port so that a restart keeps the address. */
export class TemporalProcess {
  child: ChildProcess | undefined;
  readonly address: string;
  private constructor(
    private readonly cli: string,
    private readonly dbFile: string,
    private readonly port: number,
  ) {
    this.address = `127.0.0.1:${port}`;
  }

  static async start(dir: string): Promise<TemporalProcess> {
    const cli = findTemporalCli(process.env.TEMPORAL_CLI, root);
    if (!cli) throw new Error('chaos needs the temporal CLI (TEMPORAL_CLI or ./.tools/temporal)');
    const t = new TemporalProcess(cli, path.join(dir, 'temporal.db'), await freePort());
    await t.spawn();
    return t;
  }

  async spawn(): Promise<void> {
    const args = [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(this.port),
      '--namespace',
      'default',
    ];
    args.push('--log-level', 'error', '--db-filename', this.dbFile, '--headless');
    const child = spawn(this.cli, args, { stdio: ['ignore', 'ignore', 'ignore'] });
    this.child = child;
    await waitForPort('127.0.0.1', this.port, 60_000);
  }

  /** SIGKILL, wait for the exit; the database file stays. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
}

export interface ChaosStackOptions {
  apis: number;
  pageSize: number;
  logDir: string;
  caFile: string;
  addresses: FakesAddresses;
}

/** The processes that serve pushes: api ×N and one worker, restartable. */
export class HeraldProcesses {
  apis: { proc: Proc; url: string; port: number; killed: boolean }[] = [];
  worker!: Proc;
  workerStarts = 0;
  /** Worker exits the runner did not cause (e.g. after Temporal went away), with their exit code. */
  unplannedWorkerExits: string[] = [];
  private killing = false;
  private stopped = false;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly logDir: string,
  ) {}

  async startApis(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const port = await freePort();
      const proc = spawnHerald(`api${i + 1}`, 'api', { ...this.env, PORT: String(port) }, this.logDir);
      this.apis.push({ proc, url: `http://127.0.0.1:${port}`, port, killed: false });
    }
    await Promise.all(this.apis.map((a) => waitForApi(a.proc, a.url)));
  }

  /** Starts `herald worker` and resolves once it says it is running (its log line at info level). */
  async startWorker(): Promise<number> {
    const t0 = Date.now();
    this.workerStarts++;
    const proc = spawnHerald(
      `worker${this.workerStarts}`,
      'worker',
      { ...this.env, LOG_LEVEL: 'info' },
      this.logDir,
    );
    this.worker = proc;
    proc.exited.then((code) => {
      if (!this.killing && !this.stopped && this.worker === proc) {
        this.unplannedWorkerExits.push(`${proc.name} exited (${code}): ${tail(proc.logFile, 3)}`);
        // Keep the stack serving: a worker that died by itself is replaced, and counted in the report.
        void this.startWorker().catch(() => {});
      }
    });
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      const onData = (d: Buffer) => {
        seen = (seen + d.toString()).slice(-2000);
        if (seen.includes('worker running')) {
          proc.child.stdout?.off('data', onData);
          resolve();
        }
      };
      proc.child.stdout?.on('data', onData);
      proc.exited.then((code) => reject(new Error(`${proc.name} exited (${code}) before running`)));
      setTimeout(
        () => reject(new Error(`${proc.name} not running after 180 s:\n${tail(proc.logFile)}`)),
        180_000,
      );
    });
    return Date.now() - t0;
  }

  async killWorker(): Promise<void> {
    this.killing = true;
    try {
      this.worker.child.kill('SIGKILL');
      await this.worker.exited;
    } finally {
      this.killing = false;
    }
  }

  async killApi(i: number): Promise<void> {
    const a = this.apis[i];
    if (!a) throw new Error(`no api ${i}`);
    a.killed = true;
    a.proc.child.kill('SIGKILL');
    await a.proc.exited;
  }

  async restartApi(i: number): Promise<void> {
    const a = this.apis[i];
    if (!a) throw new Error(`no api ${i}`);
    a.proc = spawnHerald(`api${i + 1}-restarted`, 'api', { ...this.env, PORT: String(a.port) }, this.logDir);
    a.killed = false;
    await waitForApi(a.proc, a.url);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.worker?.stop(), ...this.apis.map((a) => a.proc.stop())]);
  }
}

/** The LISTEN backends of the api processes (the bus), by pg_stat_activity. */
export async function listenBackends(database: Database): Promise<number[]> {
  const rows = await database.sql<{ pid: number }[]>`
    select pid from pg_stat_activity
    where datname = current_database() and application_name = 'herald' and query ilike 'listen%'`;
  return rows.map((r) => r.pid);
}

export async function terminateBackends(database: Database, pids: number[]): Promise<number> {
  if (!pids.length) return 0;
  const rows = await database.sql<{ ok: boolean }[]>`
    select pg_terminate_backend(pid) as ok from unnest(${pids}::int[]) pid`;
  return rows.filter((r) => r.ok).length;
}

/** The private cluster: stop it, wait, start it again. */
export async function restartPostgres(db: DatabaseHandle, downMs: number): Promise<void> {
  if (!db.control) throw new Error('PostgreSQL restart needs the private cluster');
  db.control.stop();
  await sleep(downMs);
  db.control.start();
}

export async function privatePostgres(): Promise<{ db: DatabaseHandle; database: Database }> {
  // A private cluster is the only PostgreSQL the runner may stop: never the machine's at 127.0.0.1:5432.
  const db = await resolveDatabase({ privatePg: true, pgSettings: ['max_connections=300'] });
  return { db, database: connectDatabase(db.url, 4) };
}

export async function tempDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export { nextMessage, writeFile };
