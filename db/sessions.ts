/**
 * An account's sessions, as the v4 account commands need them: which accounts exist, revoking the user tokens
 * of one (a kick), and who is online (presence on a live gateway) or reachable by APNs / FCM.
 */
import { sql } from 'drizzle-orm';
import type { Queryable } from './client.ts';

/** The ids among `ids` that name an account of the app. */
export async function existingAccountIds(
  db: Queryable,
  appId: string,
  ids: readonly string[],
): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const rows = await db.execute<{ id: string }>(sql`
    select account_id as id from accounts
    where app_id = ${appId} and account_id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`);
  return new Set(rows.map((r) => r.id));
}

/**
 * Revokes the user tokens of an account issued before now: from the next whole second on (tokens carry their
 * issue time in seconds, so one issued in the second of the kick may predate it). False when no such account.
 */
export async function revokeUserTokens(db: Queryable, appId: string, accountId: string): Promise<boolean> {
  const rows = await db.execute<{ id: string }>(sql`
    update accounts set tokens_valid_after = date_trunc('second', now()) + interval '1 second'
    where app_id = ${appId} and account_id = ${accountId}
    returning account_id as id`);
  return rows.length > 0;
}

/** When the account's user tokens were last revoked (revokeUserTokens); null when never, or no such account. */
export async function tokensValidAfter(
  db: Queryable,
  appId: string,
  accountId: string,
): Promise<Date | null> {
  const [row] = await db.execute<{ at: string | Date | null }>(sql`
    select tokens_valid_after as at from accounts where app_id = ${appId} and account_id = ${accountId}`);
  return row?.at ? new Date(row.at) : null;
}

export interface OnlineState {
  /** Connected to a gateway that beat its heart in the last 30 s (as live delivery counts it). */
  online: boolean;
  /** Has a device APNs / FCM can reach (registered, not disabled). */
  pushable: boolean;
}

/** The state of each existing account among `ids`; ids that name no account are absent. */
export async function onlineStates(
  db: Queryable,
  appId: string,
  ids: readonly string[],
): Promise<Map<string, OnlineState>> {
  if (!ids.length) return new Map();
  const rows = await db.execute<{ id: string; online: boolean; pushable: boolean }>(sql`
    select a.account_id as id,
      exists (select 1 from presence p join gateways g on g.id = p.gateway_id
              where p.app_id = a.app_id and p.account_id = a.account_id
                and g.heartbeat_at > now() - interval '30 seconds') as online,
      exists (select 1 from devices d
              where d.app_id = a.app_id and d.account_id = a.account_id and d.disabled_at is null) as pushable
    from accounts a
    where a.app_id = ${appId}
      and a.account_id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`);
  return new Map(rows.map((r) => [r.id, { online: r.online, pushable: r.pushable }]));
}
