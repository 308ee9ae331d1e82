/**
 * A push's state transitions, each in one place, each a function of (db, …): the workflow's activities and the
 * services call these and nothing else writes a push's status. The recipient transitions are in recipients.ts
 * (delivered online, sync, ack) and offline-pages.ts (claim a page, the live-send fallback).
 */

import { and, eq, type SQL, sql } from 'drizzle-orm';
import { countPush, countRecipients } from '../core/metrics.ts';
import { traceStatement } from '../core/tracing.ts';
import { eligibleAccount } from '../db/accounts.ts';
import { attributeSlots } from '../db/attribute-slots.ts';
import type { Queryable } from '../db/client.ts';
import { compileCondition } from '../db/conditions.ts';
import {
  accountsAtCap,
  capUntil,
  countingPushes,
  frequencyCapOf,
  lockFrequencyCap,
} from '../db/frequency-cap.ts';
import type { PushRow } from '../db/pushes.ts';
import {
  connectedNow,
  dropRecipientPartition,
  type RecipientSource,
  snapshotRecipients,
} from '../db/recipients.ts';
import { type FrequencyCap, pushes, RecipientState } from '../db/schema.ts';
import { PushError } from './errors.ts';
import { languageCounts, variantExpression } from './localized.ts';
import { emitPushEvent } from './webhook-events.ts';

export type PushRef = { appId: string; pushId: string };

/** Recipients whose copy is still stored: the ones that expire or are withdrawn (a live send's too). */
const STILL_WAITING = [RecipientState.pending, RecipientState.awaitingLive];

/** What a snapshot can be asked besides the push: how to stop it, and (tests only) how long to hold it. */
export interface SnapshotOptions {
  /** Aborting it cancels the running statement (pg_cancel_backend) and rolls the snapshot back. */
  signal?: AbortSignal | undefined;
  /** Tests: sleep this long inside the snapshot's transaction first, as a very large audience would take. */
  holdSeconds?: number | undefined;
}

/** The snapshot was stopped (cancel, recall or a worker shutting down) and rolled back. */
export class SnapshotStopped extends Error {
  override readonly name = 'SnapshotStopped';
}

/** What a snapshot took: the recipients, the accounts the frequency cap skipped, recipients per language. */
export interface SnapshotResult {
  audience: number;
  capped: number;
  /** Only for a push with language variants: `default` and each variant's language. */
  languages?: Record<string, number> | undefined;
}

/**
 * scheduled → running: copies the matching accounts into the push's own recipient partition in one
 * INSERT … SELECT inside PostgreSQL (never through Node), and counts them. Each recipient gets its language
 * variant (pushes/localized.ts); a capped push under an app's frequency cap leaves out the accounts over it and
 * records the others (db/frequency-caps.ts). Idempotent: a push whose snapshot committed is never snapshotted
 * again. The condition compiles through the slots resolved when the push was created. A snapshot that can never
 * succeed throws a PushError (a domain error: do not retry it). `db` must be the pool, not a transaction: a stop
 * cancels the snapshot's statement from another connection.
 */
export async function snapshot(
  db: Queryable,
  { appId, pushId }: PushRef,
  opts: SnapshotOptions = {},
): Promise<SnapshotResult> {
  const { stored, ...result } = await traceStatement('snapshot push recipients', () =>
    snapshotTransaction(db, { appId, pushId }, opts),
  );
  // Counted once committed, and only by the attempt that took it (`stored` is absent on a repeat).
  if (stored !== undefined) {
    countPush('running', appId);
    countRecipients('snapshotted', appId, result.audience);
    countRecipients('capped', appId, result.capped);
    countRecipients('stored', appId, stored);
  }
  return result;
}

async function snapshotTransaction(
  db: Queryable,
  { appId, pushId }: PushRef,
  opts: SnapshotOptions,
): Promise<SnapshotResult & { stored?: number }> {
  return stoppableSnapshot(db, opts, (tx, checkpoint) =>
    snapshotIn(tx, { appId, pushId }, opts.holdSeconds ?? 0, checkpoint),
  );
}

/**
 * Runs a snapshot's statements in one transaction that a stop (opts.signal) rolls back: the running statement
 * is canceled in PostgreSQL, and `checkpoint` throws between statements once stopped. Shared by the push's
 * snapshot and a local-time wave's (pushes/waves.ts).
 */
export async function stoppableSnapshot<T>(
  db: Queryable,
  opts: SnapshotOptions,
  run: (tx: Queryable, checkpoint: () => void) => Promise<T>,
): Promise<T> {
  const { signal } = opts;
  return db.transaction(async (tx) => {
    const [backend] = await tx.execute<{ pid: number }>(sql`select pg_backend_pid() as pid`);
    let cancelling: Promise<unknown> | undefined;
    const onAbort = () => {
      cancelling = db.execute(sql`select pg_cancel_backend(${backend?.pid ?? 0})`).catch(() => undefined);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    /** Between statements: a stop that came while none ran rolls back here. */
    const checkpoint = () => {
      if (signal?.aborted) throw new SnapshotStopped('snapshot stopped');
    };
    try {
      checkpoint();
      const result = await run(tx, checkpoint);
      checkpoint();
      return result;
    } catch (err) {
      // A statement the stop canceled fails with query_canceled: that is the stop, not a failure.
      if (signal?.aborted) throw new SnapshotStopped('snapshot stopped');
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // The cancel is delivered before this connection goes back to the pool, so it hits no other query.
      await cancelling;
    }
  });
}

async function snapshotIn(
  tx: Queryable,
  { appId, pushId }: PushRef,
  holdSeconds: number,
  checkpoint: () => void,
): Promise<SnapshotResult & { stored?: number }> {
  const [push] = await tx
    .select({
      status: pushes.status,
      audience: pushes.audience,
      audienceSlots: pushes.audienceSlots,
      snapshotAt: pushes.snapshotAt,
      count: pushes.audienceCount,
      overCap: pushes.overCap,
      languageCounts: pushes.languageCounts,
      retentionSeconds: pushes.retentionSeconds,
      localized: pushes.localized,
      capped: pushes.capped,
    })
    .from(pushes)
    .where(and(eq(pushes.appId, appId), eq(pushes.id, pushId)))
    .for('update');
  if (!push) throw new PushError('not_found', 'not_found', `push ${pushId} does not exist`);
  if (push.snapshotAt)
    return { audience: push.count, capped: push.overCap, languages: push.languageCounts ?? undefined };
  if (push.status !== 'scheduled' && push.status !== 'running')
    throw new PushError('push_ended', 'conflict', `the push is already ${push.status}`);
  if (holdSeconds > 0) await tx.execute(sql`select pg_sleep(${holdSeconds})`);
  checkpoint();
  const { source, cap } = await recipientSource(
    tx,
    appId,
    push,
    sql`a.app_id = ${appId} and ${await audiencePredicate(tx, appId, push)}`,
  );
  checkpoint();
  const { inserted: audience, skipped } = await snapshotRecipients(tx, pushId, source);
  checkpoint();
  // The stored copies are the recipients not connected to a live gateway now: they exist from this
  // commit on, whatever the provider notifications that follow do. Counted per variant in the same scan.
  const offline = push.retentionSeconds > 0 ? sql`not ${connectedNow(appId, sql`r.account_id`)}` : sql`false`;
  const perVariant =
    push.retentionSeconds > 0 || push.localized
      ? await tx.execute<{ variant: number; n: number; stored: number }>(sql`
          select r.variant, count(*)::int as n, count(*) filter (where ${offline})::int as stored
          from push_recipients r where r.push_id = ${pushId} group by r.variant`)
      : [];
  const stored = perVariant.reduce((sum, r) => sum + r.stored, 0);
  const languages = push.localized ? languageCounts(push.localized, perVariant) : undefined;
  // started_at is when the snapshot began (the transaction's now()), snapshot_at when it ended.
  await tx.execute(sql`
    update pushes set snapshot_at = clock_timestamp(), audience_count = ${audience}, last_row = ${audience},
      status = 'running',
      stored_offline = ${stored}, over_cap = ${skipped}, cap_until = ${cap ? capUntil(cap) : null},
      language_counts = ${languages ? JSON.stringify(languages) : null}::jsonb,
      started_at = coalesce(started_at, now()),
      expires_at = clock_timestamp() + make_interval(secs => retention_seconds)
    where app_id = ${appId} and id = ${pushId}`);
  await emitPushEvent(tx, appId, pushId, 'push.started');
  return { audience, capped: skipped, languages, stored };
}

/**
 * What a snapshot (a push's or a local-time wave's) writes: the accounts `matches` selects (alias `a`), each
 * with its language variant (pushes/localized.ts), less, for a capped push of an app with a frequency cap,
 * the accounts at the cap (db/frequency-cap.ts), counted as skipped. Takes the app's cap lock first, so capped
 * snapshots of one app count each other in turn. `pushId`: a wave's push, whose earlier waves do not count.
 */
export async function recipientSource(
  tx: Queryable,
  appId: string,
  push: { capped: boolean; localized: PushRow['localized'] },
  matches: SQL,
  pushId?: string,
): Promise<{ source: RecipientSource; cap: FrequencyCap | null }> {
  const cap = push.capped ? await frequencyCapOf(tx, appId) : null;
  let atCap: SQL | undefined;
  if (cap) {
    await lockFrequencyCap(tx, appId);
    atCap = accountsAtCap(await countingPushes(tx, appId, cap, pushId), cap);
    // Counting a million recipients of each counting push in memory rather than in temporary files.
    if (atCap) await tx.execute(sql`set local work_mem = '64MB'`);
  }
  const variant = variantExpression(push.localized, sql`a.language`);
  const source: RecipientSource = {
    select: sql`select a.seq, a.account_id, ${variant} as variant from accounts a where ${matches}
      ${atCap ? sql`and a.seq not in (select account_seq from at_cap)` : sql``}`,
    skipped: atCap && {
      with: sql`at_cap as materialized (${atCap})`,
      // In the select list the IN stays a hashed subplan: as a join PostgreSQL, which cannot estimate the
      // CTE, would look each account up one by one.
      count: sql`select count(*) filter (where a.seq in (select account_seq from at_cap)) from accounts a
        where ${matches}`,
    },
  };
  return { source, cap };
}

/** The accounts (alias `a`) a push is for: eligible, and matching its condition through its stored slots. */
export async function audiencePredicate(
  tx: Queryable,
  appId: string,
  push: { audience: PushRow['audience']; audienceSlots: PushRow['audienceSlots'] },
): Promise<SQL> {
  const predicate = compileCondition(push.audience, await slotResolver(tx, appId, push.audienceSlots), 'a');
  return sql`${eligibleAccount('a')} and ${predicate}`;
}

/**
 * name → slot for compiling a stored condition: the slots resolved when the push was created, or (a push from
 * before they were kept) the names as they are now. A name that resolves to nothing fails the push for good.
 */
async function slotResolver(
  tx: Queryable,
  appId: string,
  stored: Record<string, number> | null,
): Promise<(name: string) => number> {
  const slots = stored ? new Map(Object.entries(stored)) : await attributeSlots(tx, appId);
  return (name) => {
    const slot = slots.get(name);
    if (slot === undefined)
      throw new PushError(
        'audience_unresolvable',
        'invalid',
        `the audience names attribute "${name}", which no longer exists`,
      );
    return slot;
  };
}

/** running → completed: final counters are in place; the copies wait until `expiresAt`. */
export async function complete(db: Queryable, { appId, pushId }: PushRef): Promise<{ expiresAt: string }> {
  const rows = await db.transaction(async (tx) => {
    const changed = await tx.execute<{ expires_at: Date; was: string; status: string }>(sql`
      update pushes p set status = case when p.status = 'running' then 'completed'
          -- A local-time push whose waves reached nobody (every zone skipped) never ran a snapshot.
          when p.status = 'scheduled' and p.local_delivery is not null then 'completed' else p.status end,
        completed_at = coalesce(p.completed_at, now()),
        expires_at = case when p.local_delivery is not null then coalesce(p.expires_at, now()) else p.expires_at end
      from (select status from pushes where app_id = ${appId} and id = ${pushId} for update) old
      where p.app_id = ${appId} and p.id = ${pushId}
      returning p.expires_at, old.status as was, p.status`);
    // Once: a retried completion finds the push completed already.
    const row = changed[0];
    if (row && row.was !== 'completed' && row.status === 'completed')
      await emitPushEvent(tx, appId, pushId, 'push.completed');
    return changed;
  });
  const expiresAt = rows[0]?.expires_at;
  if (!expiresAt) throw new Error(`push ${pushId} has no expiry: was it snapshotted?`);
  countPush('completed', appId);
  return { expiresAt: new Date(expiresAt).toISOString() };
}

/**
 * Until when a push's recipient rows must outlive its retention: while it counts against its app's frequency
 * cap (db/frequency-cap.ts). Undefined when they need not.
 */
const keptForCap = (row: { cap_until: Date | string | null; keep: boolean } | undefined) =>
  row?.keep && row.cap_until ? new Date(row.cap_until).toISOString() : undefined;

/** When the frequency cap still counts a push, until when; the caller drops its rows then (dropRecipients). */
export interface KeptRecipients {
  keepRecipientsUntil?: string | undefined;
}

/**
 * scheduled / running → canceled. Copies already stored keep their retention (`expiresAt`; the caller waits it
 * out); with none, the recipient partition goes at once, unless the frequency cap still counts the push
 * (`keepRecipientsUntil`).
 */
export async function markCanceled(
  db: Queryable,
  { appId, pushId }: PushRef,
): Promise<{ expiresAt: string | null } & KeptRecipients> {
  const rows = await db.transaction(async (tx) => {
    const changed = await tx.execute<{
      expires_at: Date | null;
      retention_seconds: number;
      cap_until: Date | null;
      keep: boolean;
      was: string;
    }>(sql`
      update pushes p
      set status = case when p.status in ('scheduled', 'running') then 'canceled' else p.status end,
        canceled_at = coalesce(p.canceled_at, now())
      from (select status from pushes where app_id = ${appId} and id = ${pushId} for update) old
      where p.app_id = ${appId} and p.id = ${pushId}
      returning p.expires_at, p.retention_seconds, p.cap_until, coalesce(p.cap_until > now(), false) as keep,
        old.status as was`);
    const was = changed[0]?.was;
    if (was === 'scheduled' || was === 'running') await emitPushEvent(tx, appId, pushId, 'push.canceled');
    return changed;
  });
  const row = rows[0];
  if (row) countPush('canceled', appId);
  await cancelWaves(db, { appId, pushId });
  if (!row?.expires_at || row.retention_seconds === 0) {
    const keepRecipientsUntil = keptForCap(row);
    if (keepRecipientsUntil) return { expiresAt: null, keepRecipientsUntil };
    await dropRecipientPartition(db, pushId);
    return { expiresAt: null };
  }
  return { expiresAt: new Date(row.expires_at).toISOString() };
}

/** The frequency cap no longer counts the push: its recipient partition goes. Idempotent. */
export async function dropRecipients(db: Queryable, { pushId }: PushRef): Promise<void> {
  await dropRecipientPartition(db, pushId);
}

/**
 * A canceled local-time push: its waves still to come are marked canceled, and the rows of the waves sent whose
 * offline page was never reached (no page range's cursor covers them) become `skipped` (no stored copy: as for a plain push, only the pages reached
 * keep theirs). The push's cursor then covers every row left, so sync offers exactly the copies kept.
 */
async function cancelWaves(db: Queryable, { appId, pushId }: PushRef): Promise<void> {
  await db.execute(sql`
    with waved as (
      select 1 from pushes where app_id = ${appId} and id = ${pushId} and local_delivery is not null
    ), unreached as (
      update push_recipients r set state = ${RecipientState.skipped}
      from push_waves w
      where exists (select 1 from waved) and r.push_id = ${pushId} and w.push_id = ${pushId}
        and w.wave = r.wave and r.state = ${RecipientState.pending}
        and case when r.row_no = 0 then r.account_seq > w.offline_cursor
          else not exists (select 1 from push_page_ranges g where g.push_id = ${pushId}
                           and g.first_row <= r.row_no and r.row_no <= g.cursor) end
    ), waves as (
      update push_waves set status = 'canceled' where push_id = ${pushId} and status = 'waiting'
    )
    update pushes set offline_cursor = 9223372036854775807
    where app_id = ${appId} and id = ${pushId} and exists (select 1 from waved)`);
}

/**
 * scheduled / running → failed, with the reason (a push that already ended keeps its state). A push that fails
 * before its snapshot sent nothing: its slot of the daily quota (the day it was created) is given back.
 */
export async function markFailed(db: Queryable, { appId, pushId }: PushRef, reason: string): Promise<void> {
  const rows = await db.transaction(async (tx) => {
    const failed = await tx.execute<{ n: number }>(sql`
    with failed as (
      update pushes set status = 'failed', failure_reason = ${reason}
      where app_id = ${appId} and id = ${pushId} and status in ('scheduled', 'running')
      returning created_at, snapshot_at
    ), released as (
      update push_quota q set used = greatest(q.used - 1, 0)
      from failed f
      where f.snapshot_at is null and q.app_id = ${appId}
        and q.day = to_char(f.created_at at time zone 'UTC', 'YYYY-MM-DD')
    )
    select count(*)::int as n from failed`);
    if ((failed[0]?.n ?? 0) > 0) await emitPushEvent(tx, appId, pushId, 'push.failed');
    return failed;
  });
  if ((rows[0]?.n ?? 0) > 0) countPush('failed', appId);
}

/** Stored copies left when retention ends (none with retention 0: the partition only held the snapshot). */
async function waitingCopies(
  tx: Queryable,
  pushId: string,
  locked: { snapshot_at: Date | null; retention_seconds: number },
) {
  if (!locked.snapshot_at || locked.retention_seconds === 0) return 0;
  const [c] = await tx.execute<{ n: number }>(sql`
    select count(*)::int as n from push_recipients
    where push_id = ${pushId} and state in ${STILL_WAITING}`);
  return c?.n ?? 0;
}

/**
 * Retention is over: copies nobody fetched are counted as expired and the push's recipient partition is
 * dropped whole, unless the frequency cap still counts the push: then it is kept until `keepRecipientsUntil`
 * (the caller drops it then). Idempotent: the count is taken only once.
 */
export async function expire(
  db: Queryable,
  { appId, pushId }: PushRef,
): Promise<{ expired: number } & KeptRecipients> {
  const { expired, keepRecipientsUntil } = await db.transaction(async (tx) => {
    const [locked] = await tx.execute<{
      expired_at: Date | null;
      snapshot_at: Date | null;
      retention_seconds: number;
      cap_until: Date | null;
      keep: boolean;
    }>(sql`
      select expired_at, snapshot_at, retention_seconds, cap_until, coalesce(cap_until > now(), false) as keep
      from pushes where app_id = ${appId} and id = ${pushId} for update`);
    const keep = keptForCap(locked);
    if (!locked || locked.expired_at) return { expired: 0, keepRecipientsUntil: keep };
    const n = await waitingCopies(tx, pushId, locked);
    await tx.execute(sql`
      update pushes set expired_at = now(), expired = ${n} where app_id = ${appId} and id = ${pushId}`);
    await emitPushEvent(tx, appId, pushId, 'push.expired');
    return { expired: n, keepRecipientsUntil: keep };
  });
  // Also on a retry whose first attempt committed the count but died before the drop.
  if (!keepRecipientsUntil) await dropRecipientPartition(db, pushId);
  countRecipients('expired', appId, expired);
  return keepRecipientsUntil ? { expired, keepRecipientsUntil } : { expired };
}

/**
 * Withdraws every copy not yet delivered and stops the push (scheduled / running → canceled). Once recalled_at
 * is committed no sync or live delivery offers the push; the caller then tells connected clients to remove it.
 */
export async function recall(db: Queryable, { appId, pushId }: PushRef): Promise<{ withdrawn: number }> {
  const result = await db.transaction(async (tx) => {
    const [locked] = await tx.execute<{
      recalled_at: Date | null;
      expired_at: Date | null;
      snapshot_at: Date | null;
      retention_seconds: number;
    }>(sql`
      select recalled_at, expired_at, snapshot_at, retention_seconds from pushes where app_id = ${appId} and id = ${pushId} for update`);
    if (!locked) return { withdrawn: 0 };
    const withdrawn = locked.expired_at ? 0 : await waitingCopies(tx, pushId, locked);
    await tx.execute(sql`
      update pushes set recalled_at = coalesce(recalled_at, now()),
        withdrawn = case when recalled_at is null then ${withdrawn} else withdrawn end,
        status = case when status in ('scheduled', 'running') then 'canceled' else status end,
        canceled_at = case when status in ('scheduled', 'running') then now() else canceled_at end
      where app_id = ${appId} and id = ${pushId}`);
    if (!locked.recalled_at) await emitPushEvent(tx, appId, pushId, 'push.recalled');
    return { withdrawn: locked.recalled_at ? 0 : withdrawn };
  });
  // The rows can go once recalled_at is committed.
  await dropRecipientPartition(db, pushId);
  return result;
}
