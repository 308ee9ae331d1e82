/**
 * Engagement in (docs/webhooks.md#engagement): an account reports that it opened a push, or clicked it (a click
 * is an open too). Each is counted once per account and push — the primary key of push_engagement — in the
 * statement that records it, which also adds to the push's counters and writes the webhook events.
 */
import { type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable } from '../db/client.ts';
import { type ChannelCount, EngagementKind, type pushes } from '../db/schema.ts';

/** Where the message was shown: over the socket, or as a channel's notification. */
export const ONLINE = 'online';
export const MAX_ACTION_CHARS = 128;

export interface EngagementReport {
  appId: string;
  accountId: string;
  pushId: string;
  event: 'opened' | 'clicked';
  /** `online`, or the channel whose notification was shown (`apns`, `fcm`, …). */
  channel: string;
  /** What was clicked (a button's id), if the app says. */
  action?: string | undefined;
}

export interface EngagementResult {
  /** False when the push does not exist in the app or has not started. */
  found: boolean;
  /** Newly counted now (false when this account had reported it before). */
  opened: boolean;
  clicked: boolean;
}

/** One insert for both kinds, opens first (modifying CTEs run in no order one can rely on). */
const eventRows = (appId: string): SQL => sql`
  insert into webhook_outbox (app_id, type, push_id, account_id, data)
  select ${appId}, e.type, i.push_id, i.account_id,
    jsonb_strip_nulls(jsonb_build_object('channel', i.channel, 'action', i.action))
  from ins i
  join (values (${EngagementKind.opened}::smallint, 'recipient.opened'), (${EngagementKind.clicked}::smallint, 'recipient.clicked'))
    as e(kind, type) on e.kind = i.kind
  where exists (
    select 1 from webhook_endpoints we
    where we.app_id = ${appId} and we.status = 'enabled' and e.type = any(we.event_types))
  order by i.kind`;

export async function recordEngagement(db: Queryable, r: EngagementReport): Promise<EngagementResult> {
  if (!z.uuid().safeParse(r.pushId).success) return { found: false, opened: false, clicked: false };
  const kinds =
    r.event === 'clicked' ? [EngagementKind.opened, EngagementKind.clicked] : [EngagementKind.opened];
  const [row] = await db.execute<{ found: boolean; kinds: number[] | null }>(sql`
    with p as (
      select id from pushes where app_id = ${r.appId} and id = ${r.pushId} and snapshot_at is not null
    ), ins as (
      insert into push_engagement (app_id, push_id, account_id, kind, channel, action)
      select ${r.appId}, p.id, ${r.accountId}, k.kind, ${r.channel},
        case when k.kind = ${EngagementKind.clicked} then ${r.action ?? null}::text end
      from p, unnest(${sql.param(kinds)}::smallint[]) as k(kind)
      order by k.kind
      on conflict do nothing
      returning push_id, account_id, kind, channel, action
    ), bumped as (
      update pushes set opened = opened + (select count(*) from ins where kind = ${EngagementKind.opened}),
        clicked = clicked + (select count(*) from ins where kind = ${EngagementKind.clicked})
      where app_id = ${r.appId} and id = ${r.pushId} and exists (select 1 from ins)
    ), ev as (${eventRows(r.appId)})
    select exists (select 1 from p) as found, (select array_agg(kind) from ins) as kinds`);
  const counted = new Set(row?.kinds ?? []);
  return {
    found: row?.found ?? false,
    opened: counted.has(EngagementKind.opened),
    clicked: counted.has(EngagementKind.clicked),
  };
}

type PushRow = typeof pushes.$inferSelect;

const rate = (n: number, of: number) => (of > 0 ? Math.round((n / of) * 10_000) / 10_000 : null);

/** Delivered: reached over the socket (live or at connect) or handed to a provider that accepted it. */
export function deliveredOf(p: PushRow): number {
  const provider = Object.values(p.channelCounts as Record<string, ChannelCount>).reduce(
    (s, c) => s + c.sent,
    0,
  );
  return p.deliveredOnline + p.syncedLater + provider;
}

export const engagementRates = (p: PushRow) => {
  const delivered = deliveredOf(p);
  return { openRate: rate(p.opened, delivered), clickRate: rate(p.clicked, delivered) };
};

export interface FunnelStage {
  delivered: number;
  opened: number;
  clicked: number;
  openRate: number | null;
  clickRate: number | null;
}

/**
 * audience → delivered (online + synced + provider sent) → opened → clicked, in all and by channel (`online`
 * and each channel; an open counts where the account reported seeing it first).
 */
export async function pushFunnel(db: Queryable, p: PushRow, channels: readonly string[]) {
  const rows = await db.execute<{ channel: string; opened: number; clicked: number }>(sql`
    select channel, count(*) filter (where kind = ${EngagementKind.opened})::int as opened,
      count(*) filter (where kind = ${EngagementKind.clicked})::int as clicked
    from push_engagement where app_id = ${p.appId} and push_id = ${p.id} group by channel`);
  const engaged = new Map(rows.map((r) => [r.channel, r]));
  const stage = (channel: string, delivered: number): FunnelStage => {
    const e = engaged.get(channel);
    const opened = e?.opened ?? 0;
    const clicked = e?.clicked ?? 0;
    return {
      delivered,
      opened,
      clicked,
      openRate: rate(opened, delivered),
      clickRate: rate(clicked, delivered),
    };
  };
  const counts = p.channelCounts as Record<string, ChannelCount>;
  const byChannel: Record<string, FunnelStage> = {
    [ONLINE]: stage(ONLINE, p.deliveredOnline + p.syncedLater),
  };
  for (const c of channels) byChannel[c] = stage(c, counts[c]?.sent ?? 0);
  const delivered = deliveredOf(p);
  return {
    pushId: p.id,
    status: p.status,
    audience: p.audienceCount,
    delivered: {
      total: delivered,
      online: p.deliveredOnline,
      synced: p.syncedLater,
      providers: Object.fromEntries(channels.map((c) => [c, counts[c]?.sent ?? 0])),
    },
    opened: p.opened,
    clicked: p.clicked,
    openRate: rate(p.opened, delivered),
    clickRate: rate(p.clicked, delivered),
    byChannel,
  };
}
