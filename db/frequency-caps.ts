/**
 * The frequency cap's memory: per account, when it was in the snapshot of a capped push (`frequency_caps`). The
 * snapshot reads it to skip accounts over the cap and writes it for the recipients it took, in its own
 * transaction, so a snapshot that rolls back (and is retried) counts nothing and one that committed is never
 * taken again. Pushes of one app that take their snapshots at once queue behind one advisory lock, so two of them
 * cannot both let an account through to one push more than its cap.
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

const windowStart = (cap: FrequencyCap) => sql`now() - make_interval(hours => ${cap.windowHours})`;

/**
 * The join that brings an account's cap record (alias `f`) beside `accounts a`, and whether it is over the cap:
 * its `max`-th most recent capped push is within the window (the times are kept in order, so one subscript).
 */
export function capJoin(appId: string, cap: FrequencyCap): { join: SQL; over: SQL } {
  return {
    join: sql`left join frequency_caps f on f.app_id = ${appId} and f.account_seq = a.seq`,
    over: sql`coalesce(f.recent[cardinality(f.recent) - ${cap.max - 1}::int] > ${windowStart(cap)}, false)`,
  };
}

/**
 * Records the snapshot's recipients (the rows of push `pushId`) as having had one more capped push now, dropping
 * the times that left the window. An account is recorded only when it was under the cap, so a record holds at
 * most `max` times.
 */
export async function recordCappedPush(
  tx: Queryable,
  appId: string,
  pushId: string,
  cap: FrequencyCap,
): Promise<void> {
  await tx.execute(sql`
    insert into frequency_caps (app_id, account_seq, recent)
    select ${appId}, r.account_seq, array[now()] from push_recipients r where r.push_id = ${pushId}
    on conflict (app_id, account_seq) do update set recent = array(
      select t from unnest(frequency_caps.recent) t where t > ${windowStart(cap)} order by t) || now()`);
}

/** Forgets deleted accounts' records (their account numbers are never used again). */
export async function forgetFrequencyCaps(tx: Queryable, appId: string, seqs: SQL): Promise<void> {
  await tx.execute(sql`delete from frequency_caps where app_id = ${appId} and account_seq in (${seqs})`);
}
