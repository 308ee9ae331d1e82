import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import type { Database } from './client.ts';

export const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));

/** Applies the committed drizzle-kit migrations; an advisory lock keeps concurrent starts from racing. */
export async function runMigrations(database: Database): Promise<void> {
  const reserved = await database.sql.reserve();
  try {
    await reserved`select pg_advisory_lock(7262531)`;
    await migrate(database.db, { migrationsFolder });
  } finally {
    await reserved`select pg_advisory_unlock(7262531)`;
    reserved.release();
  }
}
