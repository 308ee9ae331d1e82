import type { Config } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import { createApp, type KeyKind, reencryptApps, revokePreviousKey, rotateAppKey } from '../db/apps.ts';
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

/** `herald apps rotate-key`: prints the new key once, and until when the old one still works. */
export async function runAppsRotateKey(
  config: Config,
  opts: { appId: string; kind: KeyKind; overlap: number; json: boolean },
): Promise<void> {
  const database = await openDatabase(config, requireDatabaseUrl(config), true);
  try {
    const rotated = await rotateAppKey(database.db, opts.appId, opts.kind, opts.overlap);
    if (!rotated) throw new Error(`app ${opts.appId} does not exist`);
    if (opts.json) process.stdout.write(`${JSON.stringify(rotated)}\n`);
    else {
      const until = rotated.previousExpiresAt
        ? `The previous key works until ${rotated.previousExpiresAt.toISOString()} (herald apps revoke-previous ends it now).`
        : 'The previous key no longer works.';
      process.stdout.write(
        `New ${opts.kind === 'api' ? 'API' : 'secret'} key of app ${opts.appId}:\n  ${rotated.key}\nIt is shown only now. ${until}\n`,
      );
    }
  } finally {
    await database.close();
  }
}

export async function runAppsRevokePrevious(config: Config, opts: { appId: string; kind: KeyKind }) {
  const database = await openDatabase(config, requireDatabaseUrl(config), true);
  try {
    if (!(await revokePreviousKey(database.db, opts.appId, opts.kind)))
      throw new Error(`app ${opts.appId} does not exist`);
    process.stdout.write(`Only the newest ${opts.kind} key of app ${opts.appId} works now.\n`);
  } finally {
    await database.close();
  }
}

/** `herald keys reencrypt`: every app's secrets sealed under HERALD_ENCRYPTION_KEY (docs/security.md). */
export async function runKeysReencrypt(config: Config, log: Logger): Promise<void> {
  const database = await openDatabase(config, requireDatabaseUrl(config), true);
  try {
    const result = await reencryptApps(database.db);
    log.info(result, 'reencrypted');
    process.stdout.write(
      `${result.rewritten} of ${result.apps} apps rewritten under the current key` +
        (result.changedMeanwhile ? `; ${result.changedMeanwhile} changed meanwhile: run it again\n` : '\n'),
    );
  } finally {
    await database.close();
  }
}
