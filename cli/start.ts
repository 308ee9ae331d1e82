import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import { currentTracing } from '../core/tracing.ts';
import { type CreatedApp, createApp, findDefaultApp } from '../db/apps.ts';
import type { Database } from '../db/client.ts';
import { providerRegistry, providerSettings } from '../delivery/registry.ts';
import { startApi } from './api.ts';
import { startMetricsServer } from './metrics-server.ts';
import { assertPortsFree, portsToBind } from './ports.ts';
import { type BackingServices, connectTemporal, openDatabase, resolveBackingServices } from './services.ts';
import { startWorker } from './worker.ts';

/** Runs `stop` once on SIGINT / SIGTERM; a second signal exits at once. */
function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}

/** The default app's keys live in the data folder: the database keeps only the key's hash. */
async function ensureDefaultApp(
  database: Database,
  dataDir: string,
): Promise<CreatedApp | { id: string; name: string; sdkAppId: number }> {
  const file = path.join(dataDir, 'default-app.json');
  const existing = await findDefaultApp(database.db);
  if (existing) {
    if (existsSync(file)) {
      const saved = JSON.parse(await readFile(file, 'utf8')) as CreatedApp;
      if (saved.id === existing.id) return saved;
    }
    return { id: existing.id, name: existing.name, sdkAppId: existing.sdkAppId };
  }
  const created = await createApp(database.db, { name: 'default', isDefault: true });
  await writeFile(file, `${JSON.stringify(created, null, 2)}\n`, { mode: 0o600 });
  return created;
}

function banner(lines: [string, string][]): string {
  const width = Math.max(...lines.map(([k]) => k.length));
  const body = lines.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n');
  return `\nHerald is running\n${body}\n\nCtrl-C stops everything.\n\n`;
}

/** What a process started, stopped in reverse order: the API before the worker before the database. */
function shutdownSteps(log: Logger) {
  const steps: (() => Promise<void>)[] = [];
  return {
    defer: (step: () => Promise<void>) => steps.push(step),
    async run() {
      for (const step of steps.reverse())
        await step().catch((err) => log.warn({ err }, 'shutdown step failed'));
    },
  };
}

const providersFor = (config: Config) => providerRegistry(providerSettings(config));

export async function runStart(config: Config, log: Logger): Promise<void> {
  let services: BackingServices | undefined;
  const cleanups = shutdownSteps(log);
  // Deferred first, so it runs last: the spans of the drain are flushed too.
  cleanups.defer(async () => currentTracing()?.shutdown());
  const stopAll = async () => {
    await cleanups.run();
    await services?.stop();
  };
  onShutdown(log, stopAll);
  try {
    await assertPortsFree(portsToBind(config, 'start'));
    services = await resolveBackingServices(config, log);
    const database = await openDatabase(config, services.databaseUrl, true);
    cleanups.defer(() => database.close());
    const temporal = await connectTemporal(config, services.temporalAddress);
    cleanups.defer(() => temporal.connection.close());
    const providers = providersFor(config);
    cleanups.defer(() => providers.close());
    const worker = await startWorker({
      config,
      temporalAddress: services.temporalAddress,
      database,
      providers,
      log,
      sdkMetrics: true,
    });
    cleanups.defer(() => worker.stop());
    const api = await startApi(
      { config, database, temporal, log },
      { temporalUiUrl: config.HERALD_TEMPORAL_UI_URL ?? services.temporalUiUrl },
    );
    cleanups.defer(() => api.stop());
    const app = await ensureDefaultApp(database, config.dataDir);
    const lines: [string, string][] = [
      ['API', api.url],
      ['Docs', `${api.url}/docs`],
      ['Console', `${api.url}/console`],
      ['Temporal UI', services.temporalUiUrl ?? `(external Temporal at ${services.temporalAddress})`],
      ['Default app', `${app.name} (id ${app.id}, sdkAppId ${app.sdkAppId})`],
    ];
    if ('apiKey' in app) lines.push(['API key', app.apiKey], ['Secret key', app.secretKey]);
    else lines.push(['API key', '(created elsewhere; keys are shown only when an app is made)']);
    process.stdout.write(banner(lines));
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** `herald api` / `herald worker`: one role against external PostgreSQL and Temporal. */
export async function runProcess(config: Config, log: Logger, role: 'api' | 'worker'): Promise<void> {
  if (!config.DATABASE_URL || !config.TEMPORAL_ADDRESS) {
    throw new Error(
      `herald ${role} needs DATABASE_URL and TEMPORAL_ADDRESS (herald start provides both itself)`,
    );
  }
  if (role === 'api') await assertPortsFree(portsToBind(config, 'api'));
  const cleanups = shutdownSteps(log);
  // Deferred first, so it runs last: the spans of the drain are flushed too.
  cleanups.defer(async () => currentTracing()?.shutdown());
  onShutdown(log, () => cleanups.run());
  const database = await openDatabase(config, config.DATABASE_URL, role === 'api');
  cleanups.defer(() => database.close());
  if (role === 'worker') {
    if (config.HERALD_WORKER_METRICS_PORT > 0) {
      const metrics = await startMetricsServer({
        host: config.HOST,
        port: config.HERALD_WORKER_METRICS_PORT,
        token: config.HERALD_METRICS_TOKEN,
        log,
      });
      cleanups.defer(() => metrics.stop());
    }
    const providers = providersFor(config);
    cleanups.defer(() => providers.close());
    const worker = await startWorker({
      config,
      temporalAddress: config.TEMPORAL_ADDRESS,
      database,
      providers,
      log,
      sdkMetrics: true,
    });
    cleanups.defer(() => worker.stop());
    return;
  }
  const temporal = await connectTemporal(config, config.TEMPORAL_ADDRESS);
  cleanups.defer(() => temporal.connection.close());
  const api = await startApi({ config, database, temporal, log });
  cleanups.defer(() => api.stop());
}
