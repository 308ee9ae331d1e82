import type { Client } from '@temporalio/client';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import type { Database } from '../db/client.ts';

/** What the push and campaign services need; the API's deps (and a test's) satisfy it as they are. */
export interface PushDeps {
  database: Database;
  temporal: Client;
  /** HERALD_SEARCH_ATTRIBUTES absent: workflows start without Herald's search attributes. */
  config: Pick<Config, 'TEMPORAL_TASK_QUEUE'> & Partial<Pick<Config, 'HERALD_SEARCH_ATTRIBUTES'>>;
  log: Logger;
}
