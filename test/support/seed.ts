import type { Sql } from '../../db/client.ts';

/** Imports `count` accounts named `<prefix><n>` in one statement; every `deviceEvery`-th gets an
 * FCM token shaped like a real one (`<instance id>:APA91b…`). */
export async function seedAccounts(
  sql: Sql,
  appId: string,
  count: number,
  opts: { prefix?: string; deviceEvery?: number; tags?: (n: number) => string[] } = {},
): Promise<void> {
  const prefix = opts.prefix ?? 'u';
  await sql`
    insert into accounts (app_id, account_id, imported_at)
    select ${appId}, ${prefix} || n, now() from generate_series(1, ${count}) as n`;
  if (opts.deviceEvery) {
    await sql`
      insert into devices (app_id, platform, token, account_id)
      select ${appId}, 'fcm', ${prefix} || n || '-' || md5(${prefix} || n) || ':APA91b' || md5(n::text), ${prefix} || n
      from generate_series(1, ${count}) as n where n % ${opts.deviceEvery} = 0`;
  }
}
