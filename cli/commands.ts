import type { Config } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import { createApp } from '../db/apps.ts';
import { openDatabase } from './services.ts';

const requireDatabaseUrl = (config: Config): string => {
  if (!config.DATABASE_URL)
    throw new Error('DATABASE_URL is not set (herald start runs an embedded PostgreSQL instead)');
  return config.DATABASE_URL;
};

export async function runMigrate(config: Config, log: Logger): Promise<void> {
  const database = await openDatabase(config, requireDatabaseUrl(config), true);
  await database.close();
  log.info('migrations applied');
}

export async function runAppsCreate(
  config: Config,
  _log: Logger,
  opts: { name: string; json: boolean; sdkAppId?: number | undefined; secretKey?: string | undefined },
): Promise<void> {
  const { json } = opts;
  const database = await openDatabase(config, requireDatabaseUrl(config), true);
  try {
    const app = await createApp(database.db, {
      name: opts.name,
      ...(opts.sdkAppId !== undefined ? { sdkAppId: opts.sdkAppId } : {}),
      ...(opts.secretKey !== undefined ? { secretKey: opts.secretKey } : {}),
    });
    if (json) process.stdout.write(`${JSON.stringify(app)}\n`);
    else {
      process.stdout.write(
        `Created app "${app.name}"\n  id:        ${app.id}\n  sdkAppId:  ${app.sdkAppId}\n  apiKey:    ${app.apiKey}\n  secretKey: ${app.secretKey}\nThe keys are shown only now.\n`,
      );
    }
  } finally {
    await database.close();
  }
}
