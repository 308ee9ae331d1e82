import type { Client } from '@temporalio/client';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import type { Database } from '../db/client.ts';

/** What the push and campaign services need; the API's deps (and a test's) satisfy it as they are. */
export interface PushDeps {
  database: Database;
  temporal: Client;
  config: Pick<Config, 'TEMPORAL_TASK_QUEUE'>;
  log: Logger;
}
