import type { Sql } from '../../db/client.ts';

/** Imports `count` accounts named `<prefix><n>` in one statement; every `deviceEvery`-th gets an FCM token. */
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
      select ${appId}, 'fcm', 'fcm-' || ${prefix} || n, ${prefix} || n
      from generate_series(1, ${count}) as n where n % ${opts.deviceEvery} = 0`;
  }
}
