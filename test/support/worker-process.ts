// A worker in a process of its own, so a test can SIGKILL it mid-push, or SIGTERM it and watch it drain as
// `herald worker` does. Configured by the environment like `herald worker`, plus HERALD_WORKFLOW_BUNDLE (the
// run's prebuilt bundle) and HERALD_TEST_MAX_ACTIVITIES (activities it runs at once); the reconciler's Schedule
// stays off unless the environment turns it on.
import { installEncryptionKey } from '../../cli/encryption-key.ts';
import { startWorker } from '../../cli/worker.ts';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { connectDatabase } from '../../db/client.ts';
import { providerRegistry, providerSettings } from '../../delivery/registry.ts';

const config = loadConfig({ HERALD_RECONCILE_SECONDS: '0', ...process.env });
await installEncryptionKey(config, 'worker');
const log = createLogger(config.LOG_LEVEL, 'worker-process');
const database = connectDatabase(config.DATABASE_URL ?? '', 4);
const providers = providerRegistry(providerSettings(config));
const worker = await startWorker({
  config,
  temporalAddress: config.TEMPORAL_ADDRESS ?? '',
  database,
  providers,
  log,
  workflowBundle: { codePath: process.env.HERALD_WORKFLOW_BUNDLE ?? '' },
  // Tests that need activities spread over several workers cap how many one worker runs at once.
  maxConcurrentActivities: Number(process.env.HERALD_TEST_MAX_ACTIVITIES ?? 0) || undefined,
});
// SIGTERM drains as `herald worker` does (cli/start.ts): running activities are told, finish their page and
// hand their cursor over; then the connections close.
process.once('SIGTERM', () => {
  process.stdout.write('worker draining\n');
  worker
    .stop()
    .then(() => providers.close())
    .then(() => database.close())
    .then(
      () => process.exit(0),
      () => process.exit(1),
    );
});
process.stdout.write('worker ready\n');
