import type { Logger } from '../core/log.ts';
import type { Database } from '../db/client.ts';
import type { FanoutBus } from '../delivery/bus.ts';
import type { ProviderRegistry } from '../delivery/registry.ts';

export interface ActivityDeps {
  database: Database;
  bus: FanoutBus;
  providers: ProviderRegistry;
  log: Logger;
  /** Recipients per keyset page (~1,000). */
  batchSize: number;
  /** Pages one activity call handles before handing back to the workflow: a page range's size in pages. */
  pagesPerActivity: number;
  /** Page ranges of one push at once (HERALD_PAGE_PARALLELISM); unset: sized from the task queue's workers. */
  pageParallelism?: number | undefined;
  /** Start the workflows the reconciler starts with Herald's search attributes (HERALD_SEARCH_ATTRIBUTES). */
  searchAttributes?: boolean | undefined;
  /** Webhook delivery: whether endpoints may be private or loopback addresses (HERALD_WEBHOOK_ALLOW_PRIVATE). */
  webhooks?: { allowPrivate: boolean } | undefined;
  /** Test-only knobs: never set in production. */
  testing?: ActivityTesting | undefined;
}

export interface ActivityTesting {
  /** Every snapshot sleeps this long inside its transaction first, as a very large audience would take. */
  snapshotHoldSeconds?: number | undefined;
}
