import { type SQL, sql } from 'drizzle-orm';
import type { Queryable } from './client.ts';
import { pgErrorCode, SQLSTATE } from './errors.ts';
import { RecipientState } from './schema.ts';

/** Push ids are UUIDs; the partition name is derived from them and never from caller input. */
const PUSH_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function recipientPartition(pushId: string): string {
  if (!PUSH_ID.test(pushId)) throw new Error(`not a push id: ${pushId}`);
  return `push_recipients_${pushId.replaceAll('-', '')}`;
}

/** An empty partition for a push's recipients (tests and benchmarks that write recipients themselves). */
export async function createRecipientPartition(db: Queryable, pushId: string): Promise<void> {
  const name = recipientPartition(pushId);
  await db.execute(
    sql.raw(`create table if not exists "${name}" partition of push_recipients for values in ('${pushId}')`),
  );
}

/** Where a snapshot's recipients come from. */
export interface RecipientSource {
  /** A SELECT of columns `seq`, `account_id` and `variant`: the recipients. */
  select: SQL;
  /**
   * Accounts the audience matched but `select` leaves out (the frequency cap's): common table expressions that
   * `select` and `count` may use (without the WITH), and a SELECT of how many they are.
   */
  skipped?: { with: SQL; count: SQL } | undefined;
}

/**
 * Writes a push's recipients into a partition of their own: loaded into a bare table first, indexed in one
 * pass, then attached (its CHECK constraint spares the attach a validation scan). Building the indexes after
 * the load is about a third cheaper than maintaining them row by row, and attaching takes a lighter lock on
 * `push_recipients` than creating the partition in place. The rows are numbered 1..N (`row_no`) in the order the
 * select yields them, which costs no sort; the partition's own (row_no) index makes every offline page an index
 * range scan (pushes/offline-pages.ts). Run inside the caller's transaction. DDL takes no bound parameters: the
 * id is checked against PUSH_ID. Answers the rows written (numbered 1..inserted) and the rows left out.
 */
export async function snapshotRecipients(
  tx: Queryable,
  pushId: string,
  source: RecipientSource,
  /** The first wave of a local-time push (pushes/waves.ts): its rows carry it, and later waves are appended. */
  wave?: number,
): Promise<{ inserted: number; skipped: number }> {
  const name = recipientPartition(pushId);
  await tx.execute(sql`set local maintenance_work_mem = '256MB'`);
  await tx.execute(sql`set local statement_timeout = '15min'`); // a large audience outlasts the pool's ceiling
  await tx.execute(
    sql.raw(
      `create table "${name}" (like push_recipients including defaults, check (push_id = '${pushId}'))`,
    ),
  );
  const written = await insertRecipients(tx, pushId, name, source, wave ?? 0, { after: 0 });
  await tx.execute(sql.raw(`alter table "${name}" add primary key (push_id, account_seq)`));
  await tx.execute(sql.raw(`create index on "${name}" (account_id)`));
  await tx.execute(sql.raw(rowNoIndex(name)));
  // A wave's counts and the frequency cap read its rows only (db/frequency-cap.ts).
  if (wave !== undefined) await tx.execute(sql.raw(`create index on "${name}" (wave, account_seq)`));
  await tx.execute(
    sql.raw(`alter table push_recipients attach partition "${name}" for values in ('${pushId}')`),
  );
  // Autovacuum may not get to a fresh partition before the push is over; the gateways' reads by account and
  // the sync need its statistics (the pages' closed row_no ranges do not).
  await tx.execute(sql.raw(`analyze "${name}"`));
  return written;
}

/** The partition's own index of row numbers (not on the parent: partitions from before it have none). */
const rowNoIndex = (name: string) => `create index if not exists "${name}_row_no" on "${name}" (row_no)`;

/**
 * One INSERT … SELECT of `source` into the table `name`, every row in wave `wave`, numbered after `after`
 * (`row_number() over ()`: in the order the select yields them, no sort); with the cap's skipped accounts counted
 * in the same statement, so the rows written and the accounts counted come from one look at the accounts.
 * `append`: the partition may hold some of the accounts already (an earlier wave's): they are left out before
 * the numbering, so the numbers stay dense.
 */
async function insertRecipients(
  tx: Queryable,
  pushId: string,
  name: string,
  source: RecipientSource,
  wave: number,
  numbering: { after: number; append?: boolean },
): Promise<{ inserted: number; skipped: number }> {
  const fresh = numbering.append
    ? sql`where not exists (select 1 from ${sql.identifier(name)} t where t.account_seq = r.seq)`
    : sql``;
  const onConflict = numbering.append ? sql`on conflict (push_id, account_seq) do nothing` : sql``;
  const into = sql`insert into ${sql.identifier(name)} (push_id, account_seq, account_id, variant, wave, row_no)
    select ${pushId}, r.seq, r.account_id, r.variant, ${wave}::smallint,
      ${numbering.after}::bigint + row_number() over ()
    from (${source.select}) r ${fresh} ${onConflict}`;
  if (!source.skipped) return { inserted: (await tx.execute(into)).count, skipped: 0 };
  const [row] = await tx.execute<{ inserted: number; skipped: number }>(sql`
    with ${source.skipped.with}, ins as (${into} returning 1)
    select (select count(*) from ins)::int as inserted, (${source.skipped.count})::int as skipped`);
  return { inserted: row?.inserted ?? 0, skipped: row?.skipped ?? 0 };
}

/** Whether the push's partition exists (a local-time push's first wave creates it, later waves append). */
export async function recipientPartitionExists(tx: Queryable, pushId: string): Promise<boolean> {
  const [row] = await tx.execute<{ found: boolean }>(
    sql`select to_regclass(${`"${recipientPartition(pushId)}"`}) is not null as found`,
  );
  return row?.found === true;
}

/**
 * A later wave of a local-time push: its recipients are inserted into the push's attached partition (its
 * indexes kept row by row), numbered after the rows already there. An account some earlier wave already took
 * (it moved to a later zone meanwhile) is left there, so nobody gets the push twice. Answers how many rows this
 * wave added (numbered `after` + 1 … `after` + inserted), and how many accounts the source's `skipped` counted.
 */
export async function appendRecipients(
  tx: Queryable,
  pushId: string,
  wave: number,
  source: RecipientSource,
): Promise<{ inserted: number; skipped: number; after: number }> {
  const name = recipientPartition(pushId);
  await tx.execute(sql`set local statement_timeout = '15min'`);
  // A partition whose first wave was snapshotted before row numbers has no index of them yet.
  await tx.execute(sql.raw(rowNoIndex(name)));
  const [top] = await tx.execute<{ n: string }>(
    sql`select coalesce(max(row_no), 0)::text as n from ${sql.identifier(name)}`,
  );
  const after = Number(top?.n ?? 0);
  const written = await insertRecipients(tx, pushId, name, source, wave, { after, append: true });
  return { ...written, after };
}

/**
 * Detaches the push's partition without blocking readers and writers of `push_recipients` (a plain DROP
 * would queue every other push's queries behind an exclusive lock), then drops it. Idempotent: a partition
 * already detached or gone is fine, and a detach cut short is finished. Runs outside any transaction.
 */
export async function dropRecipientPartition(db: Queryable, pushId: string): Promise<void> {
  const name = recipientPartition(pushId);
  try {
    await db.execute(sql.raw(`alter table push_recipients detach partition "${name}" concurrently`));
  } catch (err) {
    const code = pgErrorCode(err);
    if (code === SQLSTATE.objectNotInPrerequisiteState) {
      await db.execute(sql.raw(`alter table push_recipients detach partition "${name}" finalize`));
    } else if (code !== SQLSTATE.undefinedTable) {
      throw err;
    }
  }
  await db.execute(sql.raw(`drop table if exists "${name}"`));
}

/** A gateway (alias `g`) that heartbeated in the last 30 seconds: its presence rows are connections. */
export const liveGateway = sql`g.heartbeat_at > now() - interval '30 seconds'`;

/** The account is connected to a gateway that is alive (heartbeat within 30 s): the socket delivers to it. */
export const connectedNow = (appId: string, accountId: SQL) => sql`exists (
  select 1 from presence pr join gateways g on g.id = pr.gateway_id
  where pr.app_id = ${appId} and pr.account_id = ${accountId} and ${liveGateway})`;

/** What happened to one account's copy of a push, by name (db/schema.ts RecipientState). */
export type RecipientStateName = keyof typeof RecipientState;
const STATE_NAMES = new Map(
  Object.entries(RecipientState).map(([name, n]) => [n as number, name as RecipientStateName]),
);

export interface AccountPush {
  pushId: string;
  state: RecipientStateName;
  status: string;
  snapshotAt: Date | null;
  expiresAt: Date | null;
  recalledAt: Date | null;
}

/**
 * The pushes whose recipients still include an account (their recipient rows are kept until retention ends),
 * newest first: at most `limit` of the app's `window` most recent snapshotted pushes are looked at, each by the
 * recipients' account index, so the cost does not grow with the app's history.
 */
export async function accountPushes(
  db: Queryable,
  appId: string,
  accountId: string,
  limit: number,
  window = 500,
): Promise<AccountPush[]> {
  const rows = await db.execute<{
    push_id: string;
    state: number;
    status: string;
    snapshot_at: string | null;
    expires_at: string | null;
    recalled_at: string | null;
  }>(sql`
    with recent as (
      select id, status, snapshot_at, expires_at, recalled_at from pushes
      where app_id = ${appId} and snapshot_at is not null and expired_at is null
      order by snapshot_at desc limit ${window}
    )
    select r.push_id, r.state, p.status, p.snapshot_at, p.expires_at, p.recalled_at
    from push_recipients r join recent p on p.id = r.push_id
    where r.account_id = ${accountId} and r.push_id in (select id from recent)
    order by p.snapshot_at desc limit ${limit}`);
  const at = (v: string | null) => (v === null ? null : new Date(v));
  return rows.map((r) => ({
    pushId: r.push_id,
    state: STATE_NAMES.get(Number(r.state)) ?? 'pending',
    status: r.status,
    snapshotAt: at(r.snapshot_at),
    expiresAt: at(r.expires_at),
    recalledAt: at(r.recalled_at),
  }));
}
