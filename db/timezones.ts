/**
 * The IANA zone names PostgreSQL knows (`pg_timezone_names`), which are the only zones an account, an app's
 * default or a push's wave plan may name: PostgreSQL computes every offset (pushes/waves.ts), so a name it does
 * not know could never be delivered to. Read once per process (the view reads the zone files, ~150 ms) and kept:
 * the list changes only with PostgreSQL's time zone data.
 */
import { sql } from 'drizzle-orm';
import type { Queryable } from './client.ts';

export interface ZoneNames {
  /** Canonical spellings, sorted (the `posix/` and `right/` copies and the server's own links left out). */
  names: string[];
  /** Lower-cased name → canonical spelling: PostgreSQL itself reads zone names case-insensitively. */
  byLower: Map<string, string>;
}

let loading: Promise<ZoneNames> | undefined;

export function zoneNames(db: Queryable): Promise<ZoneNames> {
  loading ??= db
    .execute<{ name: string }>(sql`
      select name from pg_timezone_names
      where name not like 'posix/%' and name not like 'right/%'
        and name not in ('localtime', 'posixrules', 'Factory')
      order by name`)
    .then((rows) => {
      const names = rows.map((r) => r.name);
      return { names, byLower: new Map(names.map((n) => [n.toLowerCase(), n])) };
    })
    .catch((err: unknown) => {
      loading = undefined;
      throw err;
    });
  return loading;
}

/** The canonical spelling of a zone name (`asia/kolkata` → `Asia/Kolkata`), or undefined if unknown. */
export async function canonicalZone(db: Queryable, name: string): Promise<string | undefined> {
  if (name.length === 0 || name.length > 64) return undefined;
  return (await zoneNames(db)).byLower.get(name.toLowerCase());
}
