import { Client, Connection } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import { dbPoolMax } from '../core/metrics.ts';
import { connectDatabase, type Database } from '../db/client.ts';
import { runMigrations } from '../db/migrate.ts';
import { startEmbeddedPostgres } from './embedded-postgres.ts';
import { findTemporalCli, startDevTemporal } from './temporal-dev.ts';

export interface BackingServices {
  databaseUrl: string;
  temporalAddress: string;
  temporalUiUrl: string | undefined;
  /** Stops whatever this process started itself (embedded PostgreSQL, the dev Temporal server). */
  stop(): Promise<void>;
}

/** DATABASE_URL and TEMPORAL_ADDRESS when set; otherwise the embedded PostgreSQL and the dev Temporal server. */
export async function resolveBackingServices(config: Config, log: Logger): Promise<BackingServices> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((err) => log.warn({ err }, 'stopping a service failed'));
  };
  try {
    let databaseUrl = config.DATABASE_URL;
    if (!databaseUrl) {
      const pg = await startEmbeddedPostgres(config.dataDir, config.HERALD_POSTGRES_PORT, log);
      stops.push(pg.stop);
      databaseUrl = pg.url;
    }
    let temporalAddress = config.TEMPORAL_ADDRESS;
    let temporalUiUrl: string | undefined;
    if (!temporalAddress) {
      const dev = await startDevTemporal({
        cli: findTemporalCli(config.TEMPORAL_CLI),
        dataDir: config.dataDir,
        port: config.HERALD_TEMPORAL_PORT,
        uiPort: config.TEMPORAL_UI_PORT,
        namespace: config.TEMPORAL_NAMESPACE,
        log,
      });
      stops.push(dev.stop);
      temporalAddress = dev.address;
      temporalUiUrl = dev.uiUrl;
    }
    return { databaseUrl, temporalAddress, temporalUiUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export async function openDatabase(config: Config, url: string, migrate: boolean): Promise<Database> {
  if (migrate) {
    // Migrations (an index build over a large table, the wait for another start's lock) may take longer than
    // any ceiling meant for requests: they run on a pool of their own without one.
    const migrator = connectDatabase(url, 2, { statementTimeoutMs: 0 });
    try {
      await runMigrations(migrator);
    } finally {
      await migrator.close();
    }
  }
  // postgres.js reports no connections in use or waiting: the pool's size is what can be shown honestly.
  dbPoolMax.set({ pool: 'main' }, config.DATABASE_POOL_SIZE);
  return connectDatabase(url, config.DATABASE_POOL_SIZE, {
    statementTimeoutMs: config.HERALD_STATEMENT_TIMEOUT_MS,
  });
}

export async function connectTemporal(config: Config, address: string): Promise<Client> {
  const connection = await Connection.connect({ address });
  // The workflow start becomes a span of the request's trace, and carries its context to the workflow.
  return new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
  });
}
