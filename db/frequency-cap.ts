/**
 * The frequency cap, counted from what is stored anyway: the recipient rows of the app's recent capped pushes
 * (each push's own partition of `push_recipients`). The snapshot of a capped push taken while its app has a cap
 * sets the push's `cap_until` (the end of the cap's window from then; a local-time push's, from each wave's
 * snapshot); until then the push counts, and its partition is kept even past its retention (pushes/lifecycle.ts). Nothing is written per account: a snapshot
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

/**
 * A push that counts against the cap now. A local-time push counts each recipient from its own wave's snapshot:
 * `waves` lists its waves snapshotted within the window (null for a push sent to everyone at once).
 */
export interface CountingPush {
  id: string;
  waves: number[] | null;
}

/**
 * The app's pushes that count against its cap now: capped, not recalled, snapshotted within the window (a
 * local-time push: those of its waves that were). `except`: the push being snapshotted (a later wave of a
 * local-time push; its own recipients are never taken twice anyway).
 */
export async function countingPushes(
  tx: Queryable,
  appId: string,
  cap: FrequencyCap,
  except?: string,
): Promise<CountingPush[]> {
  const since = sql`now() - make_interval(hours => ${cap.windowHours})`;
  const rows = await tx.execute<{ id: string; waves: number[] | null }>(sql`
    select p.id, case when p.local_delivery is null then null else array(
        select w.wave from push_waves w where w.push_id = p.id and w.snapshot_at > ${since} order by w.wave)
      end as waves
    from pushes p
    where p.app_id = ${appId} and p.cap_until > now() and p.recalled_at is null
      and p.id is distinct from ${except ?? null}
      and (p.local_delivery is not null or p.snapshot_at > ${since})`);
  return rows
    .map((r) => ({ id: r.id, waves: r.waves?.map(Number) ?? null }))
    .filter((p) => p.waves === null || p.waves.length > 0);
}

/**
 * The accounts at the cap, as a SELECT of `account_seq`: those among the recipients of at least `max` of
 * `counting`. Undefined when fewer than `max` pushes count: nobody can be at the cap, and nothing is read. The
 * ids are listed as values, so PostgreSQL reads those partitions only; a local-time push's rows are read for its
 * counting waves only (its partition's (wave, account_seq) index). An account is in a push's partition once,
 * whichever wave took it, so a push counts once per account.
 */
export function accountsAtCap(counting: readonly CountingPush[], cap: FrequencyCap): SQL | undefined {
  if (counting.length < cap.max) return undefined;
  const plain = counting.filter((p) => p.waves === null).map((p) => sql`${p.id}`);
  const parts: SQL[] = [];
  if (plain.length)
    parts.push(
      sql`select r.account_seq from push_recipients r where r.push_id in (${sql.join(plain, sql`, `)})`,
    );
  for (const p of counting) {
    if (p.waves === null) continue;
    parts.push(sql`select r.account_seq from push_recipients r where r.push_id = ${p.id}
      and r.wave in (${sql.join(
        p.waves.map((w) => sql`${w}::smallint`),
        sql`, `,
      )})`);
  }
  return sql`select c.account_seq from (${sql.join(parts, sql` union all `)}) c
    group by c.account_seq having count(*) >= ${cap.max}`;
}

/** The `cap_until` of a push snapshotted now under `cap` (a local-time push: its latest wave's). */
export const capUntil = (cap: FrequencyCap): SQL =>
  sql`clock_timestamp() + make_interval(hours => ${cap.windowHours})`;
