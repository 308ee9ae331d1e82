import { sql } from 'drizzle-orm';
import type { Queryable } from './client.ts';

export type QuotaRefusal = {
  reason: 'too_frequent' | 'quota_exceeded';
  retryAfterSeconds: number;
  limit: number;
};

/**
 * Takes `count` pushes from the app's daily quota and enforces the minimum interval between pushes, under a row
 * lock on the app so concurrent requests cannot both slip through. Run it in the transaction that writes the
 * push, so a refused or failed write takes nothing.
 *
 * The time is read after the lock is taken (`clock_timestamp()`, not the transaction's `now()`): a transaction
 * that began before a concurrent one and waited for its lock would otherwise compare an earlier time against
 * that one's push and see pushes "less than 0 ms apart". An interval of 0 is no check at all.
 */
export async function reservePushSlots(
  tx: Queryable,
  appId: string,
  count = 1,
): Promise<QuotaRefusal | undefined> {
  // The CTE yields its row only once it is locked, so the outer clock_timestamp() is read after the wait.
  const [app] = await tx.execute<{
    now: Date | string;
    last_push_at: Date | string | null;
    quota: number;
    interval_ms: number;
  }>(sql`
    with locked as materialized (
      select last_push_at, daily_push_quota, min_push_interval_ms from apps where id = ${appId} for update
    )
    select clock_timestamp() as now, last_push_at, daily_push_quota as quota, min_push_interval_ms as interval_ms
    from locked`);
  if (!app) throw new Error(`app ${appId} not found`);
  const now = new Date(app.now);
  if (app.interval_ms > 0 && app.last_push_at) {
    const since = now.getTime() - new Date(app.last_push_at).getTime();
    if (since < app.interval_ms) {
      return {
        reason: 'too_frequent',
        retryAfterSeconds: Math.max(1, Math.ceil((app.interval_ms - since) / 1000)),
        limit: app.interval_ms,
      };
    }
  }
  const day = now.toISOString().slice(0, 10);
  const taken = await tx.execute<{ used: number }>(sql`
    insert into push_quota (app_id, day, used) select ${appId}, ${day}, ${count}::int where ${count}::int <= ${app.quota}::int
    on conflict (app_id, day) do update set used = push_quota.used + ${count}::int
      where push_quota.used + ${count}::int <= ${app.quota}::int
    returning used`);
  if (!taken.length) {
    const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    return {
      reason: 'quota_exceeded',
      retryAfterSeconds: Math.ceil((midnight - now.getTime()) / 1000),
      limit: app.quota,
    };
  }
  // The same clock reading the next push compares against (it is taken under the same lock, later).
  await tx.execute(sql`update apps set last_push_at = ${now.toISOString()}::timestamptz where id = ${appId}`);
  return undefined;
}
