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

export function connectDatabase(url: string, max = 10): Database {
  const sql = postgres(url, {
    max,
    onnotice: () => {},
    idle_timeout: 30,
    connection: { application_name: 'herald' },
  });
  const db = drizzle(sql, { schema });
  return { sql, db, close: () => sql.end({ timeout: 5 }) };
}
