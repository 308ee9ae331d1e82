import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../core/config.ts';
import { createLogger } from '../core/log.ts';

const USAGE = `Usage: herald <command>

Commands:
  start                 everything in one process: API, worker, and (when unset) embedded PostgreSQL
                        and a Temporal dev server
  api                   the REST API and WebSocket gateway (needs DATABASE_URL and TEMPORAL_ADDRESS)
  worker                the Temporal worker (needs DATABASE_URL and TEMPORAL_ADDRESS)
  migrate               apply database migrations (needs DATABASE_URL)
  apps create --name N [--json] [--sdk-app-id N --secret-key K]
                        create an app and print its keys (needs DATABASE_URL); the last two
                        keep a Tencent SDKAppID and secret key
`;

const APPS_USAGE = 'herald apps create --name <name> [--json] [--sdk-app-id <number> --secret-key <key>]';

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help') {
    process.stdout.write(USAGE);
    return;
  }
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL);
  switch (command) {
    case 'start': {
      const { runStart } = await import('./start.ts');
      return runStart(config, log);
    }
    case 'api':
    case 'worker': {
      const { runProcess } = await import('./start.ts');
      return runProcess(config, log, command);
    }
    case 'bundle': {
      // The worker runs this in a child process; operators may use it to bundle ahead of time.
      const { writeWorkflowBundle } = await import('./worker.ts');
      if (!rest[0]) throw new UsageError('herald bundle <file>');
      return writeWorkflowBundle(rest[0]);
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
        },
      });
      const sdkAppId = values['sdk-app-id'] === undefined ? undefined : Number(values['sdk-app-id']);
      if (
        positionals[0] !== 'create' ||
        !values.name ||
        (sdkAppId !== undefined && !Number.isSafeInteger(sdkAppId))
      ) {
        throw new UsageError(APPS_USAGE);
      }
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
  process.stderr.write(`herald: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
