import { Connection } from '@temporalio/client';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import { HERALD_SEARCH_ATTRIBUTES } from '../workflows/search-attributes.ts';

/**
 * `herald temporal setup`: registers Herald's search attributes on the namespace through the operator service,
 * those missing only (idempotent). Temporal Cloud refuses the operator API: there, add them to the namespace
 * with `tcld namespace search-attributes add` or the Cloud UI (docs/operations.md).
 */
export async function registerSearchAttributes(
  connection: Pick<Connection, 'operatorService'>,
  namespace: string,
): Promise<{ added: string[]; present: string[] }> {
  const listed = await connection.operatorService.listSearchAttributes({ namespace });
  const existing = new Set(Object.keys(listed.customAttributes ?? {}));
  const missing = HERALD_SEARCH_ATTRIBUTES.filter((k) => !existing.has(k.name));
  if (missing.length > 0) {
    // temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    const keyword = 2;
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, keyword])),
    });
  }
  return {
    added: missing.map((k) => k.name),
    present: HERALD_SEARCH_ATTRIBUTES.filter((k) => existing.has(k.name)).map((k) => k.name),
  };
}

export async function runTemporalSetup(config: Config, log: Logger): Promise<void> {
  if (!config.TEMPORAL_ADDRESS) throw new Error('herald temporal setup needs TEMPORAL_ADDRESS');
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
    const { added, present } = await registerSearchAttributes(connection, config.TEMPORAL_NAMESPACE);
    log.info({ namespace: config.TEMPORAL_NAMESPACE, added, present }, 'search attributes registered');
    process.stdout.write(
      `namespace ${config.TEMPORAL_NAMESPACE}: ${added.length ? `added ${added.join(', ')}` : 'nothing to add'}` +
        `${present.length ? ` (already there: ${present.join(', ')})` : ''}\n`,
    );
  } finally {
    await connection.close();
  }
}
