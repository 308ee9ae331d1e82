import { sql } from 'drizzle-orm';
import type { Queryable } from './client.ts';

export interface AccountImport {
  id: string;
  nick?: string | undefined;
  faceUrl?: string | undefined;
}

/**
 * Imports accounts in one statement. Re-importing is a no-op apart from nick / face URL when given; an
 * imported account is eligible for pushes. Returns how many were new.
 */
export async function importAccounts(
  db: Queryable,
  appId: string,
  items: AccountImport[],
): Promise<{ created: number }> {
  if (!items.length) return { created: 0 };
  const rows = await db.execute<{ created: boolean }>(sql`
    insert into accounts (app_id, account_id, nick, face_url, imported_at)
    select ${appId}, x.id, x.nick, x.face_url, now()
    from jsonb_to_recordset(${JSON.stringify(items.map((i) => ({ id: i.id, nick: i.nick ?? null, face_url: i.faceUrl ?? null })))}::jsonb)
      as x(id text, nick text, face_url text)
    on conflict (app_id, account_id) do update set
      nick = coalesce(excluded.nick, accounts.nick),
      face_url = coalesce(excluded.face_url, accounts.face_url),
      imported_at = coalesce(accounts.imported_at, excluded.imported_at)
    returning (xmax = 0) as created`);
  return { created: rows.filter((r) => r.created).length };
}
