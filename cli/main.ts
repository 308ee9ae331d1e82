import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../core/config.ts';
import { createLogger } from '../core/log.ts';
import { configureMetrics } from '../core/metrics.ts';
import { installEncryptionKey } from './encryption-key.ts';

const USAGE = `Usage: herald <command>

Commands:
  start                 everything in one process: API, worker, and (when unset) embedded PostgreSQL
                        and a Temporal dev server
  api                   the REST API and WebSocket gateway (needs DATABASE_URL and TEMPORAL_ADDRESS)
  doctor                check this machine for herald start: Node, the Temporal CLI, Go, the ports,
                        the data folder, the encryption key, DATABASE_URL / TEMPORAL_ADDRESS when set
  worker                the Temporal worker (needs DATABASE_URL and TEMPORAL_ADDRESS)
  migrate               apply database migrations (needs DATABASE_URL)
  temporal setup        register Herald's search attributes on the namespace (needs TEMPORAL_ADDRESS;
                        idempotent; Temporal Cloud: see docs/operations.md)
  apps create --name N [--json] [--sdk-app-id N --secret-key K]
                        create an app and print its keys (needs DATABASE_URL); the last two
                        keep a Tencent SDKAppID and secret key (32–128 characters)
  apps rotate-key --app ID --kind api|secret [--overlap SECONDS] [--json]
                        give an app a new API key or secret key; the old one keeps working
                        SECONDS more (default 86400, 0 = stops now)
  apps revoke-previous --app ID --kind api|secret
                        end a rotation's overlap now: only the newest key works
  keys reencrypt        rewrite every app's secrets under HERALD_ENCRYPTION_KEY (after a key change)

Secrets are encrypted with HERALD_ENCRYPTION_KEY (or the key file herald start writes in HERALD_DATA_DIR).
`;

const APPS_USAGE = `herald apps create --name <name> [--json] [--sdk-app-id <number> --secret-key <key>]
herald apps rotate-key --app <id> --kind api|secret [--overlap <seconds>] [--json]
herald apps revoke-previous --app <id> --kind api|secret`;

/** The longest overlap a rotation may give the replaced key: 30 days. */
const MAX_OVERLAP_SECONDS = 30 * 24 * 3600;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help') {
    process.stdout.write(USAGE);
    return;
  }
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);
  configureMetrics({ appLabel: config.HERALD_METRICS_APP_LABEL });
  // Traces are opt-in (OTEL_* variables): only the long-running processes export them.
  if (['start', 'api', 'worker'].includes(command)) {
    const { installTracing, tracingWanted } = await import('../core/tracing.ts');
    if (tracingWanted()) installTracing(`herald-${command}`);
  }
  switch (command) {
    case 'start': {
      const { runStart } = await import('./start.ts');
      await installEncryptionKey(config, command, { generate: true });
      return runStart(config, log);
    }
    case 'doctor': {
      const { runDoctor } = await import('./doctor.ts');
      return runDoctor(config);
    }
    case 'api':
    case 'worker': {
      const { runProcess } = await import('./start.ts');
      await installEncryptionKey(config, command);
      return runProcess(config, log, command);
    }
    case 'keys': {
      if (rest[0] !== 'reencrypt' || rest.length > 1) throw new UsageError('herald keys reencrypt');
      await installEncryptionKey(config, 'keys reencrypt');
      const { runKeysReencrypt } = await import('./commands.ts');
      return runKeysReencrypt(config, log);
    }
    case 'bundle': {
      // The worker runs this in a child process; operators may use it to bundle ahead of time.
      const { writeWorkflowBundle } = await import('./worker.ts');
      if (!rest[0]) throw new UsageError('herald bundle <file>');
      return writeWorkflowBundle(rest[0]);
    }
    case 'temporal': {
      if (rest[0] !== 'setup' || rest.length > 1) throw new UsageError('herald temporal setup');
      const { runTemporalSetup } = await import('./temporal-setup.ts');
      return runTemporalSetup(config, log);
    }
    case 'migrate': {
      const { runMigrate } = await import('./commands.ts');
      return runMigrate(config, log);
    }
    case 'apps': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          name: { type: 'string' },
          json: { type: 'boolean', default: false },
          'sdk-app-id': { type: 'string' },
          'secret-key': { type: 'string' },
          app: { type: 'string' },
          kind: { type: 'string' },
          overlap: { type: 'string' },
        },
      });
      const sub = positionals[0];
      if (sub === 'rotate-key' || sub === 'revoke-previous') {
        const overlap = Number(values.overlap ?? 86_400);
        const kind = values.kind;
        if (
          !values.app ||
          (kind !== 'api' && kind !== 'secret') ||
          !Number.isSafeInteger(overlap) ||
          overlap < 0 ||
          overlap > MAX_OVERLAP_SECONDS
        )
          throw new UsageError(`${APPS_USAGE}\n(--overlap: 0–${MAX_OVERLAP_SECONDS} seconds)`);
        await installEncryptionKey(config, `apps ${sub}`);
        const { runAppsRotateKey, runAppsRevokePrevious } = await import('./commands.ts');
        if (sub === 'revoke-previous') return runAppsRevokePrevious(config, { appId: values.app, kind });
        return runAppsRotateKey(config, { appId: values.app, kind, overlap, json: values.json ?? false });
      }
      const sdkAppId = values['sdk-app-id'] === undefined ? undefined : Number(values['sdk-app-id']);
      if (sub !== 'create' || !values.name || (sdkAppId !== undefined && !Number.isSafeInteger(sdkAppId))) {
        throw new UsageError(APPS_USAGE);
      }
      const secretKey = values['secret-key'];
      // As POST /v1/apps: a short secret key makes every user token of the app guessable offline.
      if (secretKey !== undefined && (secretKey.length < 32 || secretKey.length > 128))
        throw new UsageError('--secret-key must be 32–128 characters');
      await installEncryptionKey(config, 'apps create');
      const { runAppsCreate } = await import('./commands.ts');
      return runAppsCreate(config, log, {
        name: values.name,
        json: values.json ?? false,
        sdkAppId,
        secretKey: values['secret-key'],
      });
    }
    default:
      throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
  }
}

class UsageError extends Error {}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof UsageError) {
    process.stderr.write(`herald: ${err.message}\n`);
    process.exit(2);
  }
  const message = err instanceof Error ? err.message : String(err);
  // A failed start points at the check-up; `npm start` users get the npm spelling.
  const hint = ['start', 'api', 'worker'].includes(process.argv[2] ?? '')
    ? ` (${process.env.npm_lifecycle_event === 'start' ? 'npm run herald -- doctor' : 'npx herald doctor'} checks this machine)`
    : '';
  process.stderr.write(`herald: ${message}${hint}\n`);
  process.exit(1);
});
