import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import type { Element, Message, OfflineOptions } from '../core/messages.ts';
import type { CampaignStep } from './campaigns.ts';
import type { Condition } from './conditions.ts';
import type { PushTemplate, ScheduleSpecInput } from './schedules.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const counter = (name: string) => bigint(name, { mode: 'number' }).notNull().default(0);

/** A tenant. Keys are shown once; the admin key is kept as a SHA-256 hash. */
export const apps = pgTable('apps', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  sdkAppId: bigint('sdk_app_id', { mode: 'number' }).notNull().unique(),
  apiKeyHash: text('api_key_hash').notNull().unique(),
  /** After a rotation: the replaced API key's hash, valid until its overlap ends or it is revoked. */
  previousApiKeyHash: text('previous_api_key_hash').unique(),
  previousApiKeyExpiresAt: ts('previous_api_key_expires_at'),
  /** Sealed by core/secrets.ts (a row from before encryption at rest holds plaintext until rewritten). */
  secretKey: text('secret_key').notNull(),
  /** After a rotation: the replaced secret key (sealed), still verifying until its overlap ends. */
  previousSecretKey: text('previous_secret_key'),
  previousSecretKeyExpiresAt: ts('previous_secret_key_expires_at'),
  adminIdentifier: text('admin_identifier').notNull().default('administrator'),
  attrSlots: smallint('attr_slots').notNull().default(10),
  dailyPushQuota: integer('daily_push_quota').notNull().default(100),
  minPushIntervalMs: integer('min_push_interval_ms').notNull().default(1000),
  /** The zone of accounts that have none, for local-time delivery and send windows (an IANA name). */
  defaultTimezone: text('default_timezone').notNull().default('UTC'),
  /** The send window of pushes that name none (`window` absent); null: pushes go out at any hour. */
  defaultWindow: jsonb('default_window').$type<SendWindow | null>(),
  /** The throttle of a push that names none (recipients notified per minute); null = not throttled. */
  defaultThrottlePerMinute: integer('default_throttle_per_minute'),
  /**
   * At most `max` capped pushes per account in any `windowHours` (docs/pushes.md); null: no cap. The snapshot
   * skips the accounts over it, counted from the recipient rows of the app's recent capped pushes (`cap_until`).
   */
  frequencyCap: jsonb('frequency_cap').$type<FrequencyCap>(),
  /**
   * Channel name → that channel's stored credentials (delivery/channels/<name>/credentials.ts), each sealed
   * as one string by core/secrets.ts (an object: written before encryption at rest).
   */
  channelCredentials: jsonb('channel_credentials').$type<Record<string, unknown>>().notNull().default({}),
  isDefault: boolean('is_default').notNull().default(false),
  lastPushAt: ts('last_push_at'),
  createdAt: ts('created_at').notNull().defaultNow(),
});

/** An app's frequency cap: at most `max` capped pushes per account in any `windowHours`. */
export interface FrequencyCap {
  max: number;
  windowHours: number;
}

/** A send window in the recipient's local time, `HH:MM` each; `from` > `to` crosses midnight. */
export interface SendWindow {
  from: string;
  to: string;
}

/**
 * How a push's delivery follows its recipients' clocks (pushes/waves.ts): a local time, a send window, or
 * both. Resolved when the push is created (the app's defaults included), so later changes of the app's
 * settings do not move it.
 */
export interface LocalDelivery {
  /** `YYYY-MM-DDTHH:MM[:SS]` in each recipient's zone; absent: `sendAt` (or now) for everyone. */
  localTime?: string | undefined;
  /** Zones where `localTime` has already passed when the push starts: sent at once, or skipped. */
  pastZones: 'send' | 'skip';
  window: SendWindow | null;
  /** The app's default zone when the push was created: the zone of accounts that have none. */
  timezone: string;
}

/** What one channel did for one push. */
export interface ChannelCount {
  sent: number;
  failed: number;
  /** Tokens the provider said are dead. */
  disabled: number;
}

/** Attribute names live in numbered slots so a rename keeps every stored value. */
export const attributeNames = pgTable(
  'attribute_names',
  {
    appId: text('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    slot: smallint('slot').notNull(),
    name: text('name').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.appId, t.slot] }),
    uniqueIndex('attribute_names_app_name').on(t.appId, t.name),
  ],
);

/**
 * An end user. `seq` is a dense number used to key recipient sets; tags are a text[] and attributes a
 * jsonb keyed by slot number, both GIN-indexed so a whole audience condition is one indexed predicate.
 */
export const accounts = pgTable(
  'accounts',
  {
    appId: text('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    accountId: text('account_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity().notNull(),
    nick: text('nick'),
    faceUrl: text('face_url'),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    attrs: jsonb('attrs').$type<Record<string, string>>().notNull().default({}),
    importedAt: ts('imported_at'),
    lastLoginAt: ts('last_login_at'),
    /** BCP 47, canonical (core/languages.ts): picks the variant of a localized push; null gets the default. */
    language: text('language'),
    /** Set by a kick: user tokens issued before it no longer connect (gateway/login.ts). */
    tokensValidAfter: ts('tokens_valid_after'),
    /** The account's IANA zone, as PostgreSQL names it (db/timezones.ts); null: the app's default zone. */
    timezone: text('timezone'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.appId, t.accountId] }),
    uniqueIndex('accounts_app_seq').on(t.appId, t.seq),
    // A local-time wave reads only the accounts of its zones.
    index('accounts_app_timezone').on(t.appId, t.timezone),
    index('accounts_tags_gin').using('gin', t.tags),
    index('accounts_attrs_gin').using('gin', sql`${t.attrs} jsonb_path_ops`),
  ],
);

export const devices = pgTable(
  'devices',
  {
    appId: text('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    /** A registered channel's name (delivery/registry.ts). */
    platform: text('platform').notNull(),
    token: text('token').notNull(),
    accountId: text('account_id').notNull(),
    environment: text('environment').$type<'sandbox' | 'production'>().notNull().default('production'),
    topic: text('topic'),
    /**
     * The app's id of the physical device (an installation) holding this token: a device holds at most one
     * token per channel, and a push notifies it once, through its preferred channel. Null: the token is a device
     * of its own.
     */
    deviceId: text('device_id'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
    disabledAt: ts('disabled_at'),
    disabledReason: text('disabled_reason'),
  },
  (t) => [
    primaryKey({ columns: [t.appId, t.platform, t.token] }),
    index('devices_account').on(t.appId, t.accountId),
    uniqueIndex('devices_device_channel')
      .on(t.appId, t.deviceId, t.platform)
      .where(sql`${t.deviceId} is not null`),
  ],
);

export type PushStatus = 'scheduled' | 'running' | 'completed' | 'canceled' | 'failed';

export const pushes = pgTable(
  'pushes',
  {
    appId: text('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    id: text('id').notNull(),
    campaignId: text('campaign_id'),
    campaignStep: smallint('campaign_step'),
    /** The recurring schedule whose run created this push (schedules.id). */
    scheduleId: text('schedule_id'),
    status: text('status').$type<PushStatus>().notNull().default('scheduled'),
    /** The condition as the caller sent it (the report shows it). */
    audience: jsonb('audience').$type<Condition | null>(),
    /**
     * The slot of every attribute name the condition uses, resolved when the push was created: the snapshot
     * compiles through it, so a rename leaves the push on the same slot (and a slot in use cannot be removed).
     * Null on pushes created before it existed (the snapshot then resolves names as they are).
     */
    audienceSlots: jsonb('audience_slots').$type<Record<string, number>>(),
    message: jsonb('message').$type<Message>().notNull(),
    offline: jsonb('offline').$type<OfflineOptions>().notNull(),
    /**
     * The language variants (pushes/localized.ts), in the order given: a recipient's `variant` is its index + 1
     * (0 = `message` and `offline`, the default). Null when the push has none.
     */
    localized: jsonb('localized').$type<LocalizedVariant[]>(),
    /** Counts against the app's frequency cap (and is skipped for accounts over it). */
    capped: boolean('capped').notNull().default(true),
    /**
     * Set by the snapshot of a capped push while its app has a frequency cap: the end of the cap's window from
     * then. Until it, the push counts against the cap and its recipient rows are kept (pushes/lifecycle.ts).
     */
    capUntil: ts('cap_until'),
    fromAccount: text('from_account'),
    retentionSeconds: integer('retention_seconds').notNull(),
    sendAt: ts('send_at'),
    idempotencyKey: text('idempotency_key'),
    requestHash: text('request_hash'),
    source: text('source').notNull().default('v1'),
    workflowId: text('workflow_id').notNull(),
    /** When its workflow was known to exist; null rows older than a minute are the reconciler's to look at. */
    workflowStartedAt: ts('workflow_started_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    startedAt: ts('started_at'),
    snapshotAt: ts('snapshot_at'),
    completedAt: ts('completed_at'),
    canceledAt: ts('canceled_at'),
    recalledAt: ts('recalled_at'),
    expiresAt: ts('expires_at'),
    expiredAt: ts('expired_at'),
    failureReason: text('failure_reason'),
    /** Local-time delivery and the send window; null for a push that goes to everyone at once. */
    localDelivery: jsonb('local_delivery').$type<LocalDelivery>(),
    /**
     * A push snapshotted before page ranges (`lastRow` null): the last account_seq whose offline page has been
     * claimed. Pushes with numbered rows keep their cursors per range (push_page_ranges).
     */
    offlineCursor: bigint('offline_cursor', { mode: 'number' }).notNull().default(0),
    /** The number of recipient rows, numbered 1..lastRow by the snapshot (`row_no`); null before page ranges. */
    lastRow: bigint('last_row', { mode: 'number' }),
    audienceCount: counter('audience_count'),
    deliveredOnline: counter('delivered_online'),
    storedOffline: counter('stored_offline'),
    syncedLater: counter('synced_later'),
    acked: counter('acked'),
    expired: counter('expired'),
    withdrawn: counter('withdrawn'),
    /** Accounts that reported opening the push (once each), and those that reported a click (db push_engagement). */
    opened: counter('opened'),
    clicked: counter('clicked'),
    /** Accounts the audience matched that the frequency cap skipped: not recipients. */
    overCap: counter('over_cap'),
    /** Recipients per variant, by language (`default` for variant 0); null when the push has no variants. */
    languageCounts: jsonb('language_counts').$type<Record<string, number>>(),
    /** Channel name → its counts; added to by each offline page claim (add_channel_counts). */
    channelCounts: jsonb('channel_counts').$type<Record<string, ChannelCount>>().notNull().default({}),
    /** At most this many recipients notified per minute (pushes/throttle.ts); null = as fast as it goes. */
    throttlePerMinute: integer('throttle_per_minute'),
    /** A throttled push: the earliest time its next page may notify anyone (by the database's clock). */
    paceAt: ts('pace_at'),
    /** A throttled push: recipients its offline pages have passed, and of them those notified. */
    pacedRecipients: counter('paced_recipients'),
    pacedNotified: counter('paced_notified'),
  },
  (t) => [
    primaryKey({ columns: [t.appId, t.id] }),
    uniqueIndex('pushes_idempotency').on(t.appId, t.idempotencyKey),
    index('pushes_app_created').on(t.appId, t.createdAt, t.id),
    index('pushes_campaign').on(t.appId, t.campaignId),
    index('pushes_schedule').on(t.appId, t.scheduleId, t.id).where(sql`schedule_id is not null`),
    // The rows the reconciler looks at: no workflow known yet, not ended.
    index('pushes_unstarted')
      .on(t.createdAt)
      .where(sql`workflow_started_at is null and campaign_id is null and status in ('scheduled', 'running')`),
    // The pushes whose copies are still kept: read by every WebSocket connect to sync the account.
    index('pushes_app_live').on(t.appId, t.snapshotAt).where(sql`expired_at is null and recalled_at is null`),
    // The pushes a capped snapshot counts against the frequency cap.
    index('pushes_app_cap').on(t.appId, t.capUntil).where(sql`cap_until is not null`),
  ],
);

/** One language variant of a push, as stored. */
export interface LocalizedVariant {
  /** A canonical BCP 47 tag. */
  language: string;
  elements: Element[];
  /** Its own notification options; absent: the push's `offline`. */
  offline?: OfflineOptions;
}

/**
 * What happened to one recipient of one push. `pending` is also the stored copy: a recipient nobody has
 * delivered to yet, whom a push with retention can still reach on connect.
 */
export const RecipientState = {
  pending: 0,
  online: 1,
  /**
   * Connected when its offline page was claimed, so the page sent no notification: the live frame owes it. Live
   * delivery moves it to online; the live-send fallback (pushes/offline-pages.ts) moves what is left to pending
   * and notifies it. Counts as a stored copy (sync, expiry, recall) like pending.
   */
  awaitingLive: 2,
  synced: 3,
  acked: 4,
  withdrawn: 5,
  expired: 6,
  skipped: 7,
} as const;

/**
 * The audience snapshot of a push, one row per recipient. Partitioned by push (see the migration): a
 * partition is created when the push starts and dropped when its retention ends, so expiry costs nothing.
 */
export const pushRecipients = pgTable(
  'push_recipients',
  {
    pushId: text('push_id').notNull(),
    accountSeq: bigint('account_seq', { mode: 'number' }).notNull(),
    accountId: text('account_id').notNull(),
    state: smallint('state').notNull().default(0),
    /** The wave of a local-time push that took this recipient (push_waves); 0 for every other push. */
    wave: smallint('wave').notNull().default(0),
    /** Which variant of a localized push the recipient gets: 0 the default, i the push's localized[i - 1]. */
    variant: smallint('variant').notNull().default(0),
    /**
     * Dense 1..N within the push, given by the snapshot (a wave's rows continue after the earlier waves'): what
     * offline pages and their ranges walk, by the partition's own (row_no) index. 0 in rows from before it.
     */
    rowNo: bigint('row_no', { mode: 'number' }).notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.pushId, t.accountSeq] }),
    index('push_recipients_account').on(t.accountId),
  ],
);

export type WaveStatus = 'waiting' | 'sent' | 'skipped' | 'canceled';

/**
 * The waves of a local-time or windowed push: one per distinct UTC offset of its audience's zones at the
 * moment the push reaches them, planned when the push starts (pushes/waves.ts). Each wave snapshots its
 * recipients at its time into the push's partition and has its own counters and offline cursor.
 */
export const pushWaves = pgTable(
  'push_waves',
  {
    appId: text('app_id').notNull(),
    pushId: text('push_id').notNull(),
    wave: smallint('wave').notNull(),
    /** `+05:30`: the UTC offset of the wave's zones at its time. */
    utcOffset: text('utc_offset').notNull(),
    at: ts('at').notNull(),
    /** Every zone name (db/timezones.ts) whose recipients this wave takes, whether or not any has one now. */
    zones: text('zones').array().notNull(),
    /** Accounts of the audience in these zones when the waves were planned. */
    planned: integer('planned').notNull(),
    status: text('status').$type<WaveStatus>().notNull().default('waiting'),
    snapshotAt: ts('snapshot_at'),
    audience: integer('audience').notNull().default(0),
    storedOffline: integer('stored_offline').notNull().default(0),
    deliveredOnline: integer('delivered_online').notNull().default(0),
    /** A wave snapshotted before page ranges: the last account_seq of its claimed pages. */
    offlineCursor: bigint('offline_cursor', { mode: 'number' }).notNull().default(0),
    /** The wave's recipient rows are row_no firstRow..lastRow of the push; null before page ranges. */
    firstRow: bigint('first_row', { mode: 'number' }),
    lastRow: bigint('last_row', { mode: 'number' }),
    channelCounts: jsonb('channel_counts').$type<Record<string, ChannelCount>>().notNull().default({}),
  },
  (t) => [
    primaryKey({ columns: [t.pushId, t.wave] }),
    foreignKey({ columns: [t.appId, t.pushId], foreignColumns: [pushes.appId, pushes.id] }).onDelete(
      'cascade',
    ),
  ],
);

/**
 * The offline page ranges of a push that have started: rows firstRow..lastRow (row_no) of its recipients, and
 * the last row_no whose page has been claimed (`cursor`, firstRow - 1 before the first). A page is claimed by
 * moving its range's cursor with a compare-and-set, so two attempts at a range never both claim a page.
 */
export const pushPageRanges = pgTable(
  'push_page_ranges',
  {
    appId: text('app_id').notNull(),
    pushId: text('push_id').notNull(),
    firstRow: bigint('first_row', { mode: 'number' }).notNull(),
    lastRow: bigint('last_row', { mode: 'number' }).notNull(),
    cursor: bigint('cursor', { mode: 'number' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.pushId, t.firstRow] }),
    foreignKey({ columns: [t.appId, t.pushId], foreignColumns: [pushes.appId, pushes.id] }).onDelete(
      'cascade',
    ),
  ],
);

export type CampaignStatus = 'active' | 'completed' | 'canceled';

export const campaigns = pgTable(
  'campaigns',
  {
    appId: text('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    id: text('id').notNull(),
    name: text('name').notNull(),
    status: text('status').$type<CampaignStatus>().notNull().default('active'),
    steps: jsonb('steps').$type<CampaignStep[]>().notNull(),
    workflowId: text('workflow_id').notNull(),
    /** When its workflow was known to exist; see pushes.workflow_started_at. */
    workflowStartedAt: ts('workflow_started_at'),
    idempotencyKey: text('idempotency_key'),
    requestHash: text('request_hash'),
    createdAt: ts('created_at').notNull().defaultNow(),
    canceledAt: ts('canceled_at'),
  },
  (t) => [
    primaryKey({ columns: [t.appId, t.id] }),
    index('campaigns_app_created').on(t.appId, t.createdAt),
    uniqueIndex('campaigns_idempotency').on(t.appId, t.idempotencyKey),
    index('campaigns_unstarted')
      .on(t.createdAt)
      .where(sql`workflow_started_at is null and status = 'active'`),
  ],
);

/**
 * A recurring push (pushes/schedules.ts): the source of truth for which app owns which Temporal Schedule
 * (`sched-<app>-<id>`), for listing, and for the push template each run creates its push from (the message
 * never enters Temporal). When each run fires, and whether it is paused, is the Temporal Schedule's.
 */
export const schedules = pgTable(
  'schedules',
  {
    appId: text('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    id: text('id').notNull(),
    name: text('name').notNull(),
    /** When it runs, as asked: calendar specs or cron strings, time zone, start and end. */
    spec: jsonb('spec').$type<ScheduleSpecInput>().notNull(),
    /** The push each run creates (a push's fields without sendAt). */
    template: jsonb('template').$type<PushTemplate>().notNull(),
    temporalScheduleId: text('temporal_schedule_id').notNull(),
    /** When its Temporal Schedule was known to exist; null rows older than a minute are the reconciler's. */
    temporalCreatedAt: ts('temporal_created_at'),
    /** Asked at creation: scheduled runs at most (Temporal's remainingActions counts them down). */
    count: integer('count'),
    pausedAtCreation: boolean('paused_at_creation').notNull().default(false),
    idempotencyKey: text('idempotency_key'),
    requestHash: text('request_hash'),
    runs: integer('runs').notNull().default(0),
    lastRunAt: ts('last_run_at'),
    lastPushId: text('last_push_id'),
    /** The last run's refusal (quota used up, …) as `code: message`; null after a run that made its push. */
    lastError: text('last_error'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.appId, t.id] }),
    uniqueIndex('schedules_idempotency').on(t.appId, t.idempotencyKey),
    index('schedules_untemporal').on(t.createdAt).where(sql`temporal_created_at is null`),
  ],
);

/** Pushes created per app and UTC day, for the daily quota. */
export const pushQuota = pgTable(
  'push_quota',
  {
    appId: text('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    day: text('day').notNull(),
    used: integer('used').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.appId, t.day] })],
);

/** The api processes with a gateway, and their heartbeats; presence rows of a silent gateway are ignored. */
export const gateways = pgTable('gateways', {
  id: text('id').primaryKey(),
  startedAt: ts('started_at').notNull().defaultNow(),
  heartbeatAt: ts('heartbeat_at').notNull().defaultNow(),
});

/** Who is connected where: an account present here gets the push over its socket, not through APNs/FCM. */
export const presence = pgTable(
  'presence',
  {
    gatewayId: text('gateway_id')
      .notNull()
      .references(() => gateways.id, { onDelete: 'cascade' }),
    appId: text('app_id').notNull(),
    accountId: text('account_id').notNull(),
    connections: integer('connections').notNull().default(1),
  },
  (t) => [primaryKey({ columns: [t.appId, t.accountId, t.gatewayId] })],
);

/**
 * An operator's webhook endpoint (docs/webhooks.md): where Herald POSTs the app's events, signed as Standard
 * Webhooks says. Its delivery state lives here, not in the workflow, so the workflow can be restarted at will:
 * the cursor into the outbox (advanced only after a 2xx), the batch being sent (the same range on every
 * retry), and why it was disabled.
 */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    appId: text('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    id: text('id').notNull(),
    url: text('url').notNull(),
    description: text('description'),
    eventTypes: text('event_types').array().notNull(),
    /** `whsec_…`, sealed by core/secrets.ts. */
    secret: text('secret').notNull(),
    status: text('status').$type<'enabled' | 'disabled'>().notNull().default('enabled'),
    disabledAt: ts('disabled_at'),
    disabledReason: text('disabled_reason'),
    /** The outbox position (txid, seq) of the last event a 2xx acknowledged. */
    cursorTxid: bigint('cursor_txid', { mode: 'number' }).notNull().default(0),
    cursorSeq: bigint('cursor_seq', { mode: 'number' }).notNull().default(0),
    /** The batch being sent, fixed at its first attempt so every retry sends the same events under one id. */
    pendingBatch: jsonb('pending_batch').$type<PendingWebhookBatch | null>(),
    /** A replay in progress: the time range and where in it the last 2xx left off. */
    replay: jsonb('replay').$type<WebhookReplay | null>(),
    failingSince: ts('failing_since'),
    lastFailure: text('last_failure'),
    lastSuccessAt: ts('last_success_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.id] })],
);

/** An outbox position: events are ordered by the transaction that wrote them, then by sequence. */
export interface OutboxPosition {
  txid: number;
  seq: number;
}

export interface PendingWebhookBatch {
  mode: 'live' | 'replay';
  /** Events after `after` up to and including `last`, of `types` (and, replaying, within the replay range). */
  after: OutboxPosition;
  last: OutboxPosition;
  types: string[];
  count: number;
}

export interface WebhookReplay {
  from: string;
  to: string;
  after: OutboxPosition;
}

/**
 * The webhook outbox: events written in the transaction of the state change they describe, only when an
 * enabled endpoint of the app wants their type. `txid` is the writing transaction's id: a reader takes only
 * rows of transactions older than every transaction still running (pg_snapshot_xmin), so a cursor over
 * (txid, seq) never passes a row that commits later.
 */
export const webhookOutbox = pgTable(
  'webhook_outbox',
  {
    appId: text('app_id').notNull(),
    txid: bigint('txid', { mode: 'number' }).notNull().default(sql`(pg_current_xact_id()::text)::bigint`),
    seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity().notNull(),
    id: text('id').notNull().default(sql`'evt_' || replace(gen_random_uuid()::text, '-', '')`),
    type: text('type').notNull(),
    pushId: text('push_id'),
    accountId: text('account_id'),
    data: jsonb('data').$type<Record<string, unknown>>(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.appId, t.txid, t.seq] }),
    index('webhook_outbox_created').on(t.appId, t.createdAt),
  ],
);

/** An account's report that it opened (kind 1) or clicked (kind 2) a push: counted once per account and push. */
export const pushEngagement = pgTable(
  'push_engagement',
  {
    appId: text('app_id').notNull(),
    pushId: text('push_id').notNull(),
    accountId: text('account_id').notNull(),
    kind: smallint('kind').notNull(),
    /** Where the message was shown: `online` (the socket) or a channel name (a provider notification). */
    channel: text('channel').notNull(),
    action: text('action'),
    at: ts('at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.pushId, t.accountId, t.kind] })],
);

export const EngagementKind = { opened: 1, clicked: 2 } as const;

/**
 * Signed-in sessions of the browser console (api/console/). The cookie holds a random token; only its SHA-256
 * is kept. The key the session signed in with (an app's API key, or the root key) is sealed by core/secrets.ts:
 * every console action is a call of the REST API with it, so a rotated or revoked key ends the session too.
 */
export const consoleSessions = pgTable(
  'console_sessions',
  {
    tokenHash: text('token_hash').primaryKey(),
    /** `app`: signed in with an app's API key; `root`: with HERALD_ROOT_KEY (then `appId` is the chosen app). */
    kind: text('kind').$type<'app' | 'root'>().notNull(),
    appId: text('app_id'),
    sealedKey: text('sealed_key').notNull(),
    /** Sent back with every form (and htmx request) of the session; compared in constant time. */
    csrfToken: text('csrf_token').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    lastSeenAt: ts('last_seen_at').notNull().defaultNow(),
    expiresAt: ts('expires_at').notNull(),
  },
  (t) => [index('console_sessions_expires').on(t.expiresAt)],
);
