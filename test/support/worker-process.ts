// A worker in a process of its own, so a test can SIGKILL it mid-push. Configured by the environment like
// `herald worker`, plus HERALD_WORKFLOW_BUNDLE (the run's prebuilt bundle).
import { installEncryptionKey } from '../../cli/encryption-key.ts';
import { startWorker } from '../../cli/worker.ts';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { connectDatabase } from '../../db/client.ts';
import { providerRegistry, providerSettings } from '../../delivery/registry.ts';

const config = loadConfig();
await installEncryptionKey(config, 'worker');
const log = createLogger(config.LOG_LEVEL, 'worker-process');
const database = connectDatabase(config.DATABASE_URL ?? '', 4);
await startWorker({
  config,
  temporalAddress: config.TEMPORAL_ADDRESS ?? '',
  database,
  providers: providerRegistry(providerSettings(config)),
  log,
  workflowBundle: { codePath: process.env.HERALD_WORKFLOW_BUNDLE ?? '' },
});
process.stdout.write('worker ready\n');
