// An api process of its own, so a test can SIGKILL it mid-fan-out or SIGTERM it and watch it drain as
// `herald api` does (cli/start.ts: api.stop(), then the connections). Configured by the environment like
// `herald api`, plus HERALD_TEST_GATEWAY (JSON gateway options, e.g. a small liveChunk). Prints its URL.
import { startApi } from '../../cli/api.ts';
import { installEncryptionKey } from '../../cli/encryption-key.ts';
import { connectTemporal } from '../../cli/services.ts';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { connectDatabase } from '../../db/client.ts';
import type { GatewayOptions } from '../../gateway/index.ts';

const config = loadConfig({ ...process.env });
await installEncryptionKey(config, 'api');
const log = createLogger(config.LOG_LEVEL, 'api-process');
const database = connectDatabase(config.DATABASE_URL ?? '', 4);
const temporal = await connectTemporal(config, config.TEMPORAL_ADDRESS ?? '');
const gateway = JSON.parse(process.env.HERALD_TEST_GATEWAY ?? '{}') as Partial<GatewayOptions>;
const api = await startApi({ config, database, temporal, log }, { gateway });
process.once('SIGTERM', () => {
  process.stdout.write('api draining\n');
  api
    .stop()
    .then(() => temporal.connection.close())
    .then(() => database.close())
    .then(
      () => process.exit(0),
      () => process.exit(1),
    );
});
process.stdout.write(`api ready ${api.url}\n`);
