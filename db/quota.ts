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
 */
export async function reservePushSlots(
  tx: Queryable,
  appId: string,
  count = 1,
): Promise<QuotaRefusal | undefined> {
  const [app] = await tx.execute<{
    now: Date;
    last_push_at: Date | null;
    quota: number;
    interval_ms: number;
  }>(sql`
    select now() as now, last_push_at, daily_push_quota as quota, min_push_interval_ms as interval_ms
    from apps where id = ${appId} for update`);
  if (!app) throw new Error(`app ${appId} not found`);
  const now = new Date(app.now);
  if (app.last_push_at) {
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
  await tx.execute(sql`update apps set last_push_at = now() where id = ${appId}`);
  return undefined;
}
