/**
 * The webhook outbox's writers (docs/webhooks.md): every event is inserted by the statement, or in the
 * transaction, of the state change it describes, and only when an enabled endpoint of the app wants its type
 * (one uncorrelated EXISTS, evaluated once per statement). Per-recipient events are written set-based from the
 * rows the statement changed (the gateway's marks, the page claims, the engagement reports), never row by row.
 */
import { type SQL, sql } from 'drizzle-orm';
import type { Queryable, Sql } from '../db/client.ts';

/** What happened to a push or a campaign: one event per transition. */
export const PUSH_EVENT_TYPES = [
  'push.created',
  'push.started',
  'push.completed',
  'push.canceled',
  'push.recalled',
  'push.failed',
  'push.expired',
] as const;
export const CAMPAIGN_EVENT_TYPES = ['campaign.created', 'campaign.completed', 'campaign.canceled'] as const;
/** What happened to one recipient (or one of its devices): opted into per endpoint, sent in batches. */
export const RECIPIENT_EVENT_TYPES = [
  'recipient.delivered_online',
  'recipient.synced',
  'recipient.acked',
  'recipient.opened',
  'recipient.clicked',
  'notification.sent',
  'notification.failed',
  'notification.token_disabled',
] as const;
export const EVENT_TYPES = [...PUSH_EVENT_TYPES, ...CAMPAIGN_EVENT_TYPES, ...RECIPIENT_EVENT_TYPES] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export type PushEventType = (typeof PUSH_EVENT_TYPES)[number];
export type NotificationEventType =
  | 'notification.sent'
  | 'notification.failed'
  | 'notification.token_disabled';

/** True (once per statement) when an enabled endpoint of the app wants any of `types`. */
export const wanted = (appId: string, types: readonly string[]) => sql`exists (
  select 1 from webhook_endpoints we
  where we.app_id = ${appId} and we.status = 'enabled' and we.event_types && ${sql.param([...types])}::text[])`;

/** The event types the app's enabled endpoints want now (read once by a page activity). */
export async function wantedEventTypes(db: Queryable, appId: string): Promise<Set<string>> {
  const rows = await db.execute<{ t: string }>(sql`
    select distinct unnest(event_types) as t from webhook_endpoints where app_id = ${appId} and status = 'enabled'`);
  return new Set(rows.map((r) => r.t));
}

/** A push event's `data`: the push's state after the transition, from the row `p` of `pushes`. */
const pushData = sql`jsonb_build_object(
  'pushId', p.id, 'campaignId', p.campaign_id, 'campaignStep', p.campaign_step, 'status', p.status,
  'failureReason', p.failure_reason,
  'counters', jsonb_build_object(
    'audience', p.audience_count, 'deliveredOnline', p.delivered_online, 'storedOffline', p.stored_offline,
    'syncedLater', p.synced_later, 'acked', p.acked, 'opened', p.opened, 'clicked', p.clicked,
    'expired', p.expired, 'withdrawn', p.withdrawn, 'channels', p.channel_counts))`;

/**
 * Writes one push event per push in `pushIds`, with the push's state as it now is: call it inside the
 * transaction of the transition, after the row changed.
 */
export async function emitPushEvents(
  tx: Queryable,
  appId: string,
  pushIds: readonly string[],
  type: PushEventType,
): Promise<void> {
  if (!pushIds.length) return;
  await tx.execute(sql`
    insert into webhook_outbox (app_id, type, push_id, data)
    select p.app_id, ${type}, p.id, ${pushData} from pushes p
    where p.app_id = ${appId} and p.id = any(${sql.param([...pushIds])}::text[]) and ${wanted(appId, [type])}
    order by p.id`);
}

export const emitPushEvent = (tx: Queryable, appId: string, pushId: string, type: PushEventType) =>
  emitPushEvents(tx, appId, [pushId], type);

/** A campaign event with the campaign's id, name and status, inside the transaction of the transition. */
export async function emitCampaignEvent(
  tx: Queryable,
  appId: string,
  campaignId: string,
  type: (typeof CAMPAIGN_EVENT_TYPES)[number],
): Promise<void> {
  await tx.execute(sql`
    insert into webhook_outbox (app_id, type, data)
    select c.app_id, ${type},
      jsonb_build_object('campaignId', c.id, 'name', c.name, 'status', c.status,
        'pushIds', (select coalesce(jsonb_agg(p.id order by p.campaign_step), '[]'::jsonb) from pushes p
                    where p.app_id = c.app_id and p.campaign_id = c.id))
    from campaigns c where c.app_id = ${appId} and c.id = ${campaignId} and ${wanted(appId, [type])}`);
}

/**
 * A CTE body that writes one recipient event per row of `rows` (a CTE with `push_id` and `account_id`
 * columns): `, ev as (${recipientEvents(…)})` in the statement that moved those rows.
 */
export const recipientEvents = (appId: string, type: EventType, rows: SQL, data: SQL = sql`null`) => sql`
  insert into webhook_outbox (app_id, type, push_id, account_id, data)
  select ${appId}, ${type}, x.push_id, x.account_id, ${data} from ${rows} x
  where ${wanted(appId, [type])}`;

/** A provider's answer for one device, as a notification event records it. */
export interface NotificationOutcome {
  type: NotificationEventType;
  channel: string;
  accountId: string;
  token: string;
  reason: string | null;
}

/**
 * A CTE body that writes notification events for provider answers (sent set-based as arrays), guarded by
 * `when` (e.g. that the page claim carrying them succeeded).
 */
export function notificationEvents(
  appId: string,
  pushId: string,
  outcomes: readonly NotificationOutcome[],
  when: SQL = sql`true`,
): SQL {
  const col = <K extends keyof NotificationOutcome>(k: K) => sql.param(outcomes.map((o) => o[k]));
  return sql`
    insert into webhook_outbox (app_id, type, push_id, account_id, data)
    select ${appId}, o.type, ${pushId}, o.account_id,
      jsonb_strip_nulls(jsonb_build_object('channel', o.channel, 'token', o.token, 'reason', o.reason))
    from unnest(${col('type')}::text[], ${col('channel')}::text[], ${col('accountId')}::text[],
                ${col('token')}::text[], ${col('reason')}::text[])
      with ordinality as o(type, channel, account_id, token, reason, n)
    where ${when} and ${wanted(appId, ['notification.sent', 'notification.failed', 'notification.token_disabled'])}
    order by o.n`;
}

/** `wanted` for the gateway's statements, which speak postgres.js rather than drizzle. */
export const wantedPg = (pg: Sql, appId: string, types: readonly string[]) => pg`exists (
  select 1 from webhook_endpoints we
  where we.app_id = ${appId} and we.status = 'enabled' and we.event_types && ${[...types]}::text[])`;

/**
 * `recipientEvents` for the gateway's statements: one event per row of the CTE named `rows`, of `type`, or of
 * each row's own `type` column (ordered by its `n` column) when no type is given.
 */
export const recipientEventsPg = (pg: Sql, appId: string, rows: string, type?: EventType) =>
  type
    ? pg`
  insert into webhook_outbox (app_id, type, push_id, account_id)
  select ${appId}, ${type}, x.push_id, x.account_id from ${pg(rows)} x
  where ${wantedPg(pg, appId, [type])}`
    : pg`
  insert into webhook_outbox (app_id, type, push_id, account_id)
  select ${appId}, x.type, x.push_id, x.account_id from ${pg(rows)} x
  where exists (select 1 from webhook_endpoints we
                where we.app_id = ${appId} and we.status = 'enabled' and x.type = any(we.event_types))
  order by x.n`;
