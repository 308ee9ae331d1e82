/**
 * A push's offline transitions, as the worker's page activities drive them (activities/offline.ts is the loop
 * and the channel sending): claim a page, add provider results to the push's counters, disable dead tokens, and
 * the live-send fallback (claim the rows a live send still owes). Each is one statement per page.
 */
import { and, eq, inArray, type SQL, sql } from 'drizzle-orm';
import { traceStatement } from '../core/tracing.ts';
import type { Queryable } from '../db/client.ts';
import { liveGateway } from '../db/recipients.ts';
import { type ChannelCount, devices, RecipientState as S } from '../db/schema.ts';
import type { DeviceTarget } from '../delivery/channel.ts';
import { type ChannelName, FALLBACK_CHANNELS } from '../delivery/registry.ts';
import type { PushRef } from './lifecycle.ts';
import { retryingDeadlocks } from './recipients.ts';
import { type NotificationOutcome, notificationEvents } from './webhook-events.ts';

export interface PageDevice extends DeviceTarget {
  platform: ChannelName;
  /** The recipient's language variant: which rendering of the notification it gets (pushes/localized.ts). */
  variant: number;
  /** Whose device: a throttled push counts recipients notified, not devices; notification events name it. */
  accountId: string;
}

export interface ClaimedPage {
  /** The end of this page, or null when no recipients are left. */
  lastSeq: number | null;
  /** The live devices of the page's recipients who are still undelivered and not connected anywhere. */
  devices: PageDevice[];
  /** False when another attempt had already claimed this page (a retry after a crash). */
  claimed: boolean;
  /** Rows of the page left to the live send (connected, not yet delivered): now `awaitingLive`. */
  awaitingLive: number;
  /** Recipients (rows) on the page, whatever their state. */
  recipients: number;
}

/**
 * Provider results not yet written to the push row, per channel, and (when an endpoint wants them) the
 * notification events that describe them: both are written by the same statement.
 */
export class ProviderTally {
  private counts = new Map<ChannelName, ChannelCount>();
  outcomes: NotificationOutcome[] = [];

  add(platform: ChannelName, sent: number, failed: number, disabled: number): void {
    const c = this.counts.get(platform) ?? { sent: 0, failed: 0, disabled: 0 };
    this.counts.set(platform, {
      sent: c.sent + sent,
      failed: c.failed + failed,
      disabled: c.disabled + disabled,
    });
  }

  /** Hands over what was counted so far and starts again from zero. */
  take(): ProviderTally {
    const taken = new ProviderTally();
    taken.counts = this.counts;
    taken.outcomes = this.outcomes;
    this.counts = new Map();
    this.outcomes = [];
    return taken;
  }

  merge(other: ProviderTally): void {
    for (const [platform, c] of other.counts) this.add(platform, c.sent, c.failed, c.disabled);
    this.outcomes.push(...other.outcomes);
  }

  get empty(): boolean {
    return this.counts.size === 0 && this.outcomes.length === 0;
  }

  /** A CTE body writing the notification events, guarded by `when`; a no-op select when there are none. */
  events(appId: string, pushId: string, when: SQL = sql`true`): SQL {
    return this.outcomes.length ? notificationEvents(appId, pushId, this.outcomes, when) : sql`select 1`;
  }

  /** The SET clause that adds this tally to the push's counters. */
  increments() {
    return sql`channel_counts = add_channel_counts(channel_counts, ${JSON.stringify(Object.fromEntries(this.counts))}::jsonb)`;
  }
}

type DeviceRow = [ChannelName, string, DeviceTarget['environment'], string | null, number, string];

const toDevices = (rows: DeviceRow[] | null | undefined): PageDevice[] =>
  (rows ?? []).map(([platform, token, environment, topic, variant, accountId]) => ({
    platform,
    token,
    environment,
    topic,
    variant,
    accountId,
  }));

/** The recipients a page's devices belong to: what a throttled push counts. */
export const accountsOf = (pageDevices: readonly PageDevice[]): number =>
  new Set(pageDevices.map((d) => d.accountId)).size;

const FALLBACKS = `{${FALLBACK_CHANNELS.join(',')}}`;

/**
 * The live devices of the accounts in CTE `who` (columns account_id, variant), as a json array: one token per
 * device, so tokens sharing a device id are one notification, through a channel that is not a fallback (FCM)
 * when the device has a live one, else the most recently registered. A token without a device id is a device of
 * its own. Each carries its recipient's language variant.
 */
const devicesOf = (appId: string, who: SQL) => sql`coalesce((
  select json_agg(json_build_array(x.platform, x.token, x.environment, x.topic, x.variant, x.account_id)) from (
    select distinct on (d.account_id, coalesce(d.device_id, d.platform || ' ' || d.token))
      d.platform, d.token, d.environment, d.topic, o.variant, d.account_id
    from devices d join ${who} o on d.app_id = ${appId} and d.account_id = o.account_id
    where d.disabled_at is null
    order by d.account_id, coalesce(d.device_id, d.platform || ' ' || d.token),
      d.platform = any(${FALLBACKS}::text[]), d.updated_at desc
  ) x
), '[]'::json)`;

/** Rows firstRow..lastRow (row_no) of a push's recipients: one range of its offline pages (push_page_ranges). */
export interface PageRange {
  first: number;
  last: number;
}

/**
 * Claims the next page in one statement: it moves the cursor past the page (only if nobody moved it first),
 * adds the provider results counted since the last claim to the push's counters (so they cost no statement of
 * their own), and returns the live devices of the page's recipients who are still undelivered and not connected
 * to a live gateway. The page's undelivered recipients who ARE connected become `awaitingLive` in the same
 * statement (a write only for connected accounts): the live send owes them the push, and the fallback
 * (claimLiveFallbackPage) covers a send that fails. The claim commits before any notification goes out, so a
 * retried page is never sent twice.
 *
 * With `range`, a page is the next rows by `row_no` within the range (an index range scan of the partition's
 * row numbers) and the cursor is the range's (push_page_ranges), so ranges of one push are claimed in parallel.
 * Without it (a push or wave snapshotted before row numbers) a page is the next rows by `account_seq` and the
 * cursor is the push row's, or the wave's.
 */
export async function claimPage(
  db: Queryable,
  { appId, pushId }: PushRef,
  page: {
    cursor: number;
    size: number;
    wantDevices: boolean;
    tally: ProviderTally;
    /** A local-time push's wave: its counters beside the push's (and without `range`, its rows and cursor). */
    wave?: number | undefined;
    range?: PageRange | undefined;
  },
): Promise<ClaimedPage> {
  const { cursor, size, wantDevices, tally, wave, range } = page;
  const key = range ? sql.raw('row_no') : sql.raw('account_seq');
  const counted = (table: SQL, where: SQL) =>
    tally.empty
      ? []
      : [sql`update ${table} set ${tally.increments()} where ${where} and exists (select 1 from claim)`];
  let claim: SQL;
  let rowsOf: SQL;
  let counts: SQL[];
  if (range) {
    claim = sql`update push_page_ranges set cursor = (select max(key) from page)
      where push_id = ${pushId} and first_row = ${range.first} and cursor = ${cursor}
        and exists (select 1 from page)
      returning cursor`;
    rowsOf = sql`and r0.row_no <= ${range.last}`;
    counts = [
      ...counted(sql`pushes`, sql`app_id = ${appId} and id = ${pushId}`),
      ...(wave === undefined ? [] : counted(sql`push_waves`, sql`push_id = ${pushId} and wave = ${wave}`)),
    ];
  } else if (wave === undefined) {
    claim = sql`update pushes set offline_cursor = (select max(key) from page), ${tally.increments()}
      where app_id = ${appId} and id = ${pushId} and offline_cursor = ${cursor}
        and exists (select 1 from page)
      returning offline_cursor as cursor`;
    rowsOf = sql``;
    counts = [];
  } else {
    claim = sql`update push_waves set offline_cursor = (select max(key) from page), ${tally.increments()}
      where push_id = ${pushId} and wave = ${wave} and offline_cursor = ${cursor}
        and exists (select 1 from page)
      returning offline_cursor as cursor`;
    rowsOf = sql`and r0.wave = ${wave}`;
    counts = counted(sql`pushes`, sql`app_id = ${appId} and id = ${pushId}`);
  }
  const countCtes = counts.map((c, i) => sql`, counted${sql.raw(String(i))} as (${c})`);
  // Its awaitingLive marks and a gateway's online marks take the same rows and the push row in either order.
  const rows = await traceStatement('claim offline page', () =>
    retryingDeadlocks(() =>
      db.execute<{
        last_seq: string | null;
        claimed_to: string | null;
        awaiting: number;
        recipients: number;
        devices: DeviceRow[];
      }>(sql`
    with picked as (
      select r0.${key} as key, r0.account_seq, r0.account_id, r0.state, r0.variant
      from push_recipients r0
      where r0.push_id = ${pushId} and r0.${key} > ${cursor} ${rowsOf}
      order by r0.${key} limit ${size}
    ), present as materialized (
      -- Presence of the page's undelivered accounts only, one index probe each: as a subquery per row the
      -- planner hashes every presence row of the app once per page, a cost that grows with who is online.
      select pr.account_id, pr.gateway_id from presence pr
      where pr.app_id = ${appId}
        and pr.account_id = any(array(select account_id from picked where state = ${S.pending}))
    ), page as (
      select p.*, p.state = ${S.pending} and p.account_id in (
        select c.account_id from present c join gateways g on g.id = c.gateway_id
        where ${liveGateway}) as connected
      from picked p
    ), offline as (
      select p.account_id, p.variant from page p
      where ${wantDevices} and p.state = ${S.pending} and not p.connected
    ), claim as (
      ${claim}
    )${sql.join(countCtes, sql``)}, awaiting as (
      update push_recipients r set state = ${S.awaitingLive}
      from page p
      where r.push_id = ${pushId} and r.account_seq = p.account_seq
        and p.connected and r.state = ${S.pending} and exists (select 1 from claim)
      returning 1
    ), notified as (${tally.events(appId, pushId, sql`exists (select 1 from claim)`)}
    )
    select (select max(key) from page)::text as last_seq,
           (select cursor from claim)::text as claimed_to,
           (select count(*)::int from awaiting) as awaiting,
           (select count(*)::int from page) as recipients,
           ${devicesOf(appId, sql`offline`)} as devices`),
    ),
  );
  const row = rows[0];
  return {
    lastSeq: row?.last_seq ? Number(row.last_seq) : null,
    claimed: row?.claimed_to != null,
    awaitingLive: row?.awaiting ?? 0,
    recipients: row?.recipients ?? 0,
    devices: toDevices(row?.devices),
  };
}

/**
 * A range's stored cursor, its row made first if no attempt has started the range yet (cursor first - 1): the
 * truth a retried or resumed attempt starts from.
 */
export async function openRange(
  db: Queryable,
  { appId, pushId }: PushRef,
  range: PageRange,
): Promise<number> {
  const [row] = await db.execute<{ cursor: string }>(sql`
    with made as (
      insert into push_page_ranges (app_id, push_id, first_row, last_row, cursor)
      values (${appId}, ${pushId}, ${range.first}, ${range.last}, ${range.first - 1})
      on conflict (push_id, first_row) do nothing
      returning cursor
    )
    select cursor::text from made
    union all
    select cursor::text from push_page_ranges where push_id = ${pushId} and first_row = ${range.first}`);
  return Number(row?.cursor ?? range.first - 1);
}

/** Where a range's pages have got to. */
export async function rangeCursorOf(db: Queryable, { pushId }: PushRef, range: PageRange): Promise<number> {
  const [row] = await db.execute<{ cursor: string }>(sql`
    select cursor::text from push_page_ranges where push_id = ${pushId} and first_row = ${range.first}`);
  return row ? Number(row.cursor) : range.first - 1;
}

/**
 * The rows a push's (or one wave's) offline pages walk, numbered by its snapshot; undefined when it was
 * snapshotted before row numbers (its pages go by account_seq on the push's or the wave's cursor).
 */
export async function numberedRows(
  db: Queryable,
  { appId, pushId }: PushRef,
  wave?: number,
): Promise<PageRange | undefined> {
  const [row] =
    wave === undefined
      ? await db.execute<{ first: string | null; last: string | null }>(sql`
          select case when last_row is null then null else '1' end as first, last_row::text as last
          from pushes where app_id = ${appId} and id = ${pushId}`)
      : await db.execute<{ first: string | null; last: string | null }>(sql`
          select first_row::text as first, last_row::text as last
          from push_waves where push_id = ${pushId} and wave = ${wave}`);
  if (row?.first == null || row.last == null) return undefined;
  return { first: Number(row.first), last: Number(row.last) };
}

/** Writes provider results that no claim carried (the last pages of an activity, the fallback). */
export async function addProviderCounts(
  db: Queryable,
  { appId, pushId }: PushRef,
  tally: ProviderTally,
  wave?: number,
) {
  if (tally.empty) return;
  if (wave === undefined) {
    await db.execute(sql`
      with counted as (
        update pushes set ${tally.increments()} where app_id = ${appId} and id = ${pushId} returning 1
      ), notified as (${tally.events(appId, pushId)})
      select count(*) from counted`);
    return;
  }
  await db.execute(sql`
    with waved as (
      update push_waves set ${tally.increments()} where push_id = ${pushId} and wave = ${wave}
    ), counted as (
      update pushes set ${tally.increments()} where app_id = ${appId} and id = ${pushId} returning 1
    ), notified as (${tally.events(appId, pushId)})
    select count(*) from counted`);
}

/** Where a wave's offline pages have got to (its push_waves row), or a plain push's (the push row). */
export async function offlineCursorOf(db: Queryable, { appId, pushId }: PushRef, wave?: number) {
  const [row] =
    wave === undefined
      ? await db.execute<{ c: string }>(sql`
          select offline_cursor::text as c from pushes where app_id = ${appId} and id = ${pushId}`)
      : await db.execute<{ c: string }>(sql`
          select offline_cursor::text as c from push_waves where push_id = ${pushId} and wave = ${wave}`);
  return row ? Number(row.c) : 0;
}

/** The provider said these tokens are dead (one statement per reason): they get nothing more. */
export async function disableDevices(
  db: Queryable,
  appId: string,
  platform: ChannelName,
  dead: { token: string; reason: string }[],
): Promise<void> {
  for (const reason of new Set(dead.map((d) => d.reason))) {
    const tokens = dead.filter((d) => d.reason === reason).map((d) => d.token);
    await db
      .update(devices)
      .set({ disabledAt: new Date(), disabledReason: reason })
      .where(and(eq(devices.appId, appId), eq(devices.platform, platform), inArray(devices.token, tokens)));
  }
}

/**
 * Rows a live send still owes: what the workflow checks before it waits for the fan-outs to settle (of a wave,
 * or, for a retried range, of the rows of the range its pages have claimed).
 */
export async function countAwaitingLive(
  db: Queryable,
  { pushId }: PushRef,
  wave?: number,
  claimed?: PageRange,
): Promise<number> {
  const ofWave = claimed
    ? sql`and row_no between ${claimed.first} and ${claimed.last}`
    : wave === undefined
      ? sql``
      : sql`and wave = ${wave}`;
  const [row] = await db.execute<{ n: number }>(sql`
    select count(*)::int as n from push_recipients
    where push_id = ${pushId} ${ofWave} and state = ${S.awaitingLive}`);
  return row?.n ?? 0;
}

/**
 * The live-send fallback, one page: the rows still `awaitingLive` (their live send failed or never came) after
 * `cursor` move to pending in one statement and the live devices of their accounts come back, to get what an
 * offline recipient gets: the provider notification, and with retention the pending row is the stored copy.
 * A row leaves awaitingLive once, so its notification is claimed at most once (as a page's). Only while the
 * push is running and not recalled.
 */
export async function claimLiveFallbackPage(
  db: Queryable,
  { appId, pushId }: PushRef,
  page: { cursor: number; size: number; wantDevices: boolean; wave?: number | undefined },
): Promise<{ lastSeq: number | null; recipients: number; devices: PageDevice[] }> {
  const ofWave = page.wave === undefined ? sql`` : sql`and wave = ${page.wave}`;
  const rows = await retryingDeadlocks(() =>
    db.execute<{ last_seq: string | null; recipients: number; devices: DeviceRow[] }>(sql`
    with moved as (
      update push_recipients r set state = ${S.pending}
      where r.push_id = ${pushId} and r.state = ${S.awaitingLive}
        and r.account_seq in (
          select account_seq from push_recipients
          where push_id = ${pushId} ${ofWave} and state = ${S.awaitingLive} and account_seq > ${page.cursor}
          order by account_seq limit ${page.size})
        and exists (select 1 from pushes p where p.app_id = ${appId} and p.id = ${pushId}
                    and p.status = 'running' and p.recalled_at is null)
      returning r.account_seq, r.account_id, r.variant
    ), wanted as (select account_id, variant from moved where ${page.wantDevices})
    select (select max(account_seq) from moved)::text as last_seq,
           (select count(*)::int from moved) as recipients,
           ${devicesOf(appId, sql`wanted`)} as devices`),
  );
  const row = rows[0];
  return {
    lastSeq: row?.last_seq ? Number(row.last_seq) : null,
    recipients: row?.recipients ?? 0,
    devices: toDevices(row?.devices),
  };
}
