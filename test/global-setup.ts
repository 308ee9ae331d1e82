import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../cli/embedded-postgres.ts';
import { findTemporalCli, freePort, startDevTemporal } from '../cli/temporal-dev.ts';
import { bundleWorkflows } from '../cli/worker.ts';
import { createLogger } from '../core/log.ts';
import { connectDatabase } from '../db/client.ts';
import { runMigrations } from '../db/migrate.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    temporalAddress: string;
    workflowBundlePath: string;
    /** History events after which the run's Temporal server suggests continue-as-new. */
    suggestContinueAsNewAfter: number;
  }
}

/**
 * The server suggests continue-as-new after this many history events (default 4096), so that a workflow
 * test reaches it in a few dozen mocked offline pages. The end-to-end pushes stay far below it: a page
 * activity covers 50 pages, so their histories hold a few dozen events.
 */
const SUGGEST_CONTINUE_AS_NEW = 'limit.historyCount.suggestContinueAsNew';
const SUGGEST_CONTINUE_AS_NEW_AFTER = 200;

const MACHINE_PG = process.env.HERALD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function reachable(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** One Temporal dev server and one fresh, migrated database for the whole run. */
export default async function setup(project: TestProject) {
  const log = createLogger(process.env.LOG_LEVEL ?? 'warn', 'test-setup');
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'herald-test-'));
  const cleanups: (() => Promise<void>)[] = [];

  let adminUrl = MACHINE_PG;
  if (MACHINE_PG === 'none' || !(await reachable(MACHINE_PG))) {
    // A data folder of its own directly in the temp folder: as root, PostgreSQL runs as the postgres user,
    // who cannot enter the mode-700 scratch folder (and herald start changes no folder above its data).
    const pgDir = await mkdtemp(path.join(os.tmpdir(), 'herald-test-pg-'));
    const pg = await startEmbeddedPostgres(pgDir, await freePort(), log);
    cleanups.push(() => rm(pgDir, { recursive: true, force: true }), pg.stop);
    adminUrl = pg.url;
  }
  const dbName = `herald_test_${randomBytes(4).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${dbName}` }).toString();
  cleanups.push(async () => {
    await admin.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  });
  const database = connectDatabase(databaseUrl, 2);
  await runMigrations(database);
  await database.close();

  const [temporal, bundle] = await Promise.all([
    startDevTemporal({
      cli: findTemporalCli(process.env.TEMPORAL_CLI),
      dataDir: scratch,
      port: await freePort(),
      uiPort: 0,
      namespace: 'default',
      log,
      ephemeral: true,
      dynamicConfig: { [SUGGEST_CONTINUE_AS_NEW]: SUGGEST_CONTINUE_AS_NEW_AFTER },
    }),
    bundleWorkflows(),
  ]);
  cleanups.push(temporal.stop);
  const workflowBundlePath = path.join(scratch, 'workflows.js');
  await writeFile(workflowBundlePath, bundle.code);

  project.provide('databaseUrl', databaseUrl);
  project.provide('temporalAddress', temporal.address);
  project.provide('workflowBundlePath', workflowBundlePath);
  project.provide('suggestContinueAsNewAfter', SUGGEST_CONTINUE_AS_NEW_AFTER);

  return async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await rm(scratch, { recursive: true, force: true });
  };
}
