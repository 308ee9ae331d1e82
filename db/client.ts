import type { PgDatabase } from 'drizzle-orm/pg-core';
import { drizzle, type PostgresJsDatabase, type PostgresJsQueryResultHKT } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.ts';

export type Sql = postgres.Sql;
export type Db = PostgresJsDatabase<typeof schema>;
/** A database or a transaction: what query functions take so callers can compose them. */
export type Queryable = PgDatabase<PostgresJsQueryResultHKT, typeof schema>;

export interface Database {
  sql: Sql;
  db: Db;
  close(): Promise<void>;
}

/** Every pool's per-statement ceiling unless its caller says otherwise (HERALD_STATEMENT_TIMEOUT_MS). */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;

export interface DatabaseOptions {
  /**
   * `statement_timeout` of every connection of the pool, in ms; 0 = none. A runaway statement (or one a
   * hostile client provoked) gives its connection back after this long instead of holding it. A statement
   * known to be long raises it for its own transaction (`set local statement_timeout`).
   */
  statementTimeoutMs?: number;
}

export function connectDatabase(url: string, max = 10, options: DatabaseOptions = {}): Database {
  const statementTimeout = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const sql = postgres(url, {
    max,
    onnotice: () => {},
    idle_timeout: 30,
    connection: { application_name: 'herald', statement_timeout: statementTimeout },
  });
  const db = drizzle(sql, { schema });
  return { sql, db, close: () => sql.end({ timeout: 5 }) };
}
