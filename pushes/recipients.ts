/**
 * A recipient's transitions after the snapshot, as the WebSocket gateway drives them: delivered online, synced on
 * connect, acked. Each is one set-based statement (per chunk of connected accounts, per sync chunk, per ack
 * frame), never one per recipient, and reaches `push_recipients` by push id first so PostgreSQL prunes it to
 * the partitions of those pushes. The offline page claim and the live-send fallback are in offline-pages.ts.
 */
import { countRecipients } from '../core/metrics.ts';
import type { Sql } from '../db/client.ts';
import { pgErrorCode, SQLSTATE } from '../db/errors.ts';
import { type LocalizedVariant, RecipientState as S } from '../db/schema.ts';
import { recipientEventsPg } from './webhook-events.ts';

/** Recipient states a connected account may still be sent: not acked, withdrawn, expired or skipped. */
const UNACKED = [S.pending, S.awaitingLive, S.online, S.synced];
/** Not delivered yet: a stored copy (with retention), or one a live send owes (awaitingLive). */
const UNDELIVERED = [S.pending, S.awaitingLive];

/** The columns of a push that a delivered message is made of. */
export interface PushForDelivery {
  id: string;
  message: unknown;
  from_account: string | null;
  snapshot_at: Date | string | null;
  expires_at: Date | string | null;
  retention_seconds: number;
  /** The recipient's language variant (pushes/localized.ts), or null for the default: `message`. */
  variant?: Pick<LocalizedVariant, 'language' | 'elements'> | null;
}

/** What live delivery of one push sends to some connected accounts. */
export interface LiveDelivery extends PushForDelivery {
  accounts: string[] | null;
  /** Each account's variant, in the order of `accounts`: 0 the default, i `localized[i - 1]`. */
  variants: number[] | null;
  localized: LocalizedVariant[] | null;
  recalled_at: Date | null;
}

/**
 * Runs a statement again when PostgreSQL picked it as a deadlock victim: two gateways delivering one push to
 * one account's devices, or two devices of an account syncing at once, or a page claim marking rows a gateway
 * marks, may lock the same rows in another order.
 */
export async function retryingDeadlocks<T>(run: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (err) {
      const code = pgErrorCode(err);
      if (i >= attempts || (code !== SQLSTATE.deadlockDetected && code !== SQLSTATE.serializationFailure))
        throw err;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * i));
    }
  }
}

/**
 * The sync of one account over some of the app's live pushes (all with retention, as they have not
 * expired), in one statement: picks its copies not yet acked, moves pending ones to synced and
 * counts them in `pushes.synced_later`, and returns the pushes to send, oldest first. Copies already
 * delivered but not acked are sent again (the client de-duplicates by id).
 */
export async function syncAccount(
  sql: Sql,
  appId: string,
  accountId: string,
  pushIds: string[],
): Promise<PushForDelivery[]> {
  if (!pushIds.length) return [];
  const rows = await retryingDeadlocks(
    () => sql<PushForDelivery[]>`
    with cand as (
      select r.push_id, r.account_seq, r.variant from push_recipients r
      join pushes p on p.app_id = ${appId} and p.id = r.push_id
      where r.push_id = any(${pushIds}::text[]) and r.account_id = ${accountId}
        and r.state in ${sql(UNACKED)}
        -- A push canceled mid-fan-out kept copies only for the pages it had reached: within a page range's
        -- cursor (numbered rows), or up to the push's cursor (rows snapshotted before row numbers).
        and (p.status <> 'canceled' or r.state <> ${S.pending}
          or (r.row_no = 0 and r.account_seq <= p.offline_cursor)
          or exists (select 1 from push_page_ranges g where g.push_id = r.push_id
                     and g.first_row <= r.row_no and r.row_no <= g.cursor))
    ), moved as (
      update push_recipients r set state = ${S.synced}
      from cand
      where r.push_id = any(${pushIds}::text[]) and r.account_id = ${accountId}
        and r.push_id = cand.push_id and r.account_seq = cand.account_seq
        and r.state in ${sql(UNDELIVERED)}
      returning r.push_id, r.account_id
    ), ev as (${recipientEventsPg(sql, appId, 'moved', 'recipient.synced')}
    ), bumped as (
      update pushes p set synced_later = p.synced_later + m.n
      from (select push_id, count(*)::int as n from moved group by push_id) m
      where p.app_id = ${appId} and p.id = m.push_id
    )
    select p.id, p.message, p.from_account, p.snapshot_at, p.expires_at, p.retention_seconds,
      case when c.variant > 0 then (p.localized -> (c.variant - 1)) - 'offline' end as variant
    from pushes p join cand c on c.push_id = p.id
    where p.app_id = ${appId}
    order by p.snapshot_at, p.id`,
  );
  countRecipients('synced', appId, rows.length);
  return rows;
}

/**
 * What live delivery of one push sends to the accounts connected here, read without writing: the push and
 * those of the accounts whose copies are not yet acked. Copies another gateway already delivered are
 * included, so every device of an account gets the push wherever it is connected. Nothing when the push
 * does not exist. Reading first and marking after (`markDeliveredOnline`) puts the frames on the wire
 * before the row updates, which are most of the statement's cost.
 */
export async function liveRecipients(
  sql: Sql,

  appId: string,
  pushId: string,
  accountIds: string[],
  /** Only the copies a live send still owes: the retry after the offline pages. */
  owedOnly = false,
  /** A local-time push's wave: only its recipients (the others are sent it at their own wave). */
  wave?: number,
): Promise<LiveDelivery | undefined> {
  const states = owedOnly ? [S.awaitingLive] : UNACKED;
  const ofWave = wave === undefined ? sql`` : sql`and r.wave = ${wave}`;
  const [row] = await sql<LiveDelivery[]>`
    select p.id, p.message, p.from_account, p.snapshot_at, p.expires_at, p.retention_seconds,
      p.recalled_at, p.localized, r.accounts, r.variants
    from pushes p, lateral (
      select array_agg(r.account_id order by r.account_seq) as accounts,
        array_agg(r.variant order by r.account_seq) as variants
      from push_recipients r
      where r.push_id = ${pushId} and r.account_id = any(${accountIds}::text[]) ${ofWave}
        and r.state in ${sql(states)}) r
    where p.app_id = ${appId} and p.id = ${pushId}`;
  return row;
}

/**
 * After the frames were written to open sockets: the accounts' copies still undelivered (pending, or
 * awaitingLive once their page was claimed) become `online` and are counted in delivered_online, in one
 * statement. A copy acked in between was counted by the ack.
 */
export async function markDeliveredOnline(
  sql: Sql,
  appId: string,
  pushId: string,
  accountIds: string[],
  /** A local-time push's wave: its rows, and its own delivered_online beside the push's. */
  wave?: number,
): Promise<number> {
  const ofWave = wave === undefined ? sql`` : sql`and r.wave = ${wave}`;
  const waveCount =
    wave === undefined
      ? sql``
      : sql`, waved as (
      update push_waves set delivered_online = delivered_online + (select count(*) from moved)
      where push_id = ${pushId} and wave = ${wave} and exists (select 1 from moved)
    )`;
  const rows = await retryingDeadlocks(
    () => sql<{ n: number }[]>`
    with moved as (
      update push_recipients r set state = ${S.online}
      where r.push_id = ${pushId} and r.account_id = any(${accountIds}::text[]) ${ofWave}
        and r.state in ${sql(UNDELIVERED)}
      returning r.push_id, r.account_id
    ), ev as (${recipientEventsPg(sql, appId, 'moved', 'recipient.delivered_online')}
    ), bumped as (
      update pushes set delivered_online = delivered_online + (select count(*) from moved)
      where app_id = ${appId} and id = ${pushId} and exists (select 1 from moved)
    )${waveCount}
    select count(*)::int as n from moved`,
  );
  countRecipients('delivered_online', appId, rows[0]?.n ?? 0);
  return rows[0]?.n ?? 0;
}

/**
 * Acks by push id: the account's copies become acked and `pushes.acked` counts them, in one statement. A
 * copy still pending (or awaitingLive) was delivered live and acked before the gateway marked it (sync marks
 * before it sends), so it is counted as delivered online too.
 */
export async function ack(sql: Sql, appId: string, accountId: string, pushIds: string[]): Promise<number> {
  if (!pushIds.length) return 0;
  const rows = await retryingDeadlocks(
    () => sql<{ n: number; live: number }[]>`
    with cand as (
      select r.push_id, r.account_seq, r.state from push_recipients r
      where r.push_id = any(${pushIds}::text[]) and r.account_id = ${accountId}
        and r.state in ${sql(UNACKED)}
        and r.push_id in (select id from pushes where app_id = ${appId} and id = any(${pushIds}::text[]))
      for update
    ), acked as (
      update push_recipients r set state = ${S.acked}
      from cand
      where r.push_id = any(${pushIds}::text[]) and r.account_id = ${accountId}
        and r.push_id = cand.push_id and r.account_seq = cand.account_seq
      returning r.push_id, r.account_id, r.wave, cand.state as was
    ), events as (
      -- A copy acked before the gateway marked it was delivered online first: that event comes first.
      select push_id, account_id, 'recipient.delivered_online' as type, 0 as n from acked
      where was in ${sql(UNDELIVERED)}
      union all select push_id, account_id, 'recipient.acked', 1 from acked
    ), ev as (${recipientEventsPg(sql, appId, 'events')}
    ), bumped as (
      update pushes p set acked = p.acked + a.n, delivered_online = p.delivered_online + a.live
      from (select push_id, count(*)::int as n, count(*) filter (where was in ${sql(UNDELIVERED)})::int as live
            from acked group by push_id) a
      where p.app_id = ${appId} and p.id = a.push_id
    ), waved as (
      -- A local-time push's wave counts its own (plain pushes have no push_waves rows).
      update push_waves w set delivered_online = w.delivered_online + a.live
      from (select push_id, wave, count(*)::int as live from acked
            where was in ${sql(UNDELIVERED)} group by push_id, wave) a
      where w.push_id = a.push_id and w.wave = a.wave
    )
    select count(*)::int as n, (count(*) filter (where was in ${sql(UNDELIVERED)}))::int as live from acked`,
  );
  countRecipients('acked', appId, rows[0]?.n ?? 0);
  // An ack that overtook the gateway's mark counted the copy delivered online in the push row: the metric too.
  countRecipients('delivered_online', appId, rows[0]?.live ?? 0);
  return rows[0]?.n ?? 0;
}
