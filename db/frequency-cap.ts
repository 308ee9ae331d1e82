/**
 * The frequency cap, counted from what is stored anyway: the recipient rows of the app's recent capped pushes
 * (each push's own partition of `push_recipients`). The snapshot of a capped push taken while its app has a cap
 * sets the push's `cap_until` (the end of the cap's window from then); until then the push counts, and its
 * partition is kept even past its retention (pushes/lifecycle.ts). Nothing is written per account: a snapshot
 * that rolls back counted nothing, one that committed is never taken again. Capped snapshots of one app queue
 * behind one advisory lock, so each counts the one before it.
 */
import { type SQL, sql } from 'drizzle-orm';
import type { Queryable } from './client.ts';
import type { FrequencyCap } from './schema.ts';

const CAP_LOCK_CLASS = 7262534;

/** Queues this transaction behind any other capped snapshot of the app (until it commits or rolls back). */
export async function lockFrequencyCap(tx: Queryable, appId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${CAP_LOCK_CLASS}, hashtext(${appId}))`);
}

/** The app's cap, or null when it has none. */
export async function frequencyCapOf(tx: Queryable, appId: string): Promise<FrequencyCap | null> {
  const [row] = await tx.execute<{ cap: FrequencyCap | null }>(
    sql`select frequency_cap as cap from apps where id = ${appId}`,
  );
  return row?.cap ?? null;
}

/** The app's pushes that count against its cap now: capped, snapshotted within the window, not recalled. */
export async function countingPushes(tx: Queryable, appId: string, cap: FrequencyCap): Promise<string[]> {
  const rows = await tx.execute<{ id: string }>(sql`
    select id from pushes
    where app_id = ${appId} and cap_until > now() and recalled_at is null
      and snapshot_at > now() - make_interval(hours => ${cap.windowHours})`);
  return rows.map((r) => r.id);
}

/**
 * The accounts at the cap, as a SELECT of `account_seq`: those among the recipients of at least `max` of
 * `pushIds`. Undefined when fewer than `max` pushes count: nobody can be at the cap, and nothing is read. The
 * ids are listed as values, so PostgreSQL reads those partitions only.
 */
export function accountsAtCap(pushIds: readonly string[], cap: FrequencyCap): SQL | undefined {
  if (pushIds.length < cap.max) return undefined;
  const ids = sql.join(
    pushIds.map((id) => sql`${id}`),
    sql`, `,
  );
  return sql`select r.account_seq from push_recipients r where r.push_id in (${ids})
    group by r.account_seq having count(*) >= ${cap.max}`;
}

/** The `cap_until` of a push snapshotted now under `cap`. */
export const capUntil = (cap: FrequencyCap): SQL =>
  sql`clock_timestamp() + make_interval(hours => ${cap.windowHours})`;
