import { CancelledFailure, Context } from '@temporalio/activity';
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import { type Message, notificationBody, type OfflineOptions } from '../core/messages.ts';
import { type App, findAppById } from '../db/apps.ts';
import { devices, pushes, RecipientState } from '../db/schema.ts';
import type { DeviceTarget, Notification, ProviderClient, SendOutcome } from '../delivery/provider.ts';
import type { ActivityDeps } from './deps.ts';

type Push = typeof pushes.$inferSelect;

/** What APNs / FCM show for this push, expiring when its retention ends. */
export function buildNotification(push: Push): Notification | undefined {
  const offline = push.offline as OfflineOptions;
  const message = push.message as Message;
  if (!offline.push) return undefined;
  const body = notificationBody(message, offline);
  if (!body) return undefined;
  const n: Notification = {
    pushId: push.id,
    body,
    expiresAt: push.retentionSeconds > 0 && push.expiresAt ? push.expiresAt : null,
  };
  const title = offline.apns?.title ?? offline.title;
  if (title !== undefined) n.title = title;
  if (offline.apns?.subtitle !== undefined) n.subtitle = offline.apns.subtitle;
  const sound = offline.sound ?? offline.apns?.sound ?? offline.android?.sound;
  if (sound !== undefined) n.sound = sound;
  if (offline.badge !== undefined) n.badge = offline.badge;
  if (offline.ext !== undefined) n.ext = offline.ext;
  if (offline.apns?.image !== undefined) n.image = offline.apns.image;
  if (offline.apns?.mutableContent !== undefined) n.mutableContent = offline.apns.mutableContent;
  const collapse = offline.apns?.collapseId ?? offline.android?.collapseKey;
  if (collapse !== undefined) n.collapseId = collapse;
  const priority = offline.apns?.priority ?? offline.android?.priority;
  if (priority !== undefined) n.priority = priority;
  if (offline.android?.channelId !== undefined) n.channelId = offline.android.channelId;
  return n;
}

interface ClaimedPage {
  /** The end of this page, or null when no recipients are left. */
  lastSeq: number | null;
  /** Recipients of the page still undelivered and not connected to a live gateway. */
  offline: string[];
  /** False when another attempt had already claimed this page (a retry after a crash). */
  claimed: boolean;
}

/** Pages whose notifications may be in flight at once while the next pages are claimed. */
const PAGES_IN_FLIGHT = 4;

export function offlineActivities({ database, providers, log, batchSize, pagesPerActivity }: ActivityDeps) {
  const { db } = database;

  /**
   * Claims the next keyset page in one statement: it moves the push's offline cursor past the page (only if
   * nobody moved it first) and counts its recipients who are still undelivered and not connected to a live
   * gateway as stored copies. The claim commits before any notification goes out, so a retried page is never
   * sent twice; the rows themselves are the stored copies and are not rewritten.
   */
  async function claimPage(push: Push, cursor: number): Promise<ClaimedPage> {
    const rows = await db.execute<{
      last_seq: string | null;
      claimed_to: string | null;
      offline: string[];
    }>(sql`
      with page as (
        select account_seq, account_id, state from push_recipients
        where push_id = ${push.id} and account_seq > ${cursor}
        order by account_seq limit ${batchSize}
      ), offline as (
        select p.account_id from page p
        where p.state = ${RecipientState.pending}
          and not exists (
            select 1 from presence pr join gateways g on g.id = pr.gateway_id
            where pr.app_id = ${push.appId} and pr.account_id = p.account_id
              and g.heartbeat_at > now() - interval '30 seconds')
      ), claim as (
        update pushes set offline_cursor = (select max(account_seq) from page),
          stored_offline = stored_offline + case when retention_seconds > 0 then (select count(*) from offline) else 0 end
        where app_id = ${push.appId} and id = ${push.id} and offline_cursor = ${cursor}
          and exists (select 1 from page)
        returning offline_cursor
      )
      select (select max(account_seq) from page)::text as last_seq,
             (select offline_cursor from claim)::text as claimed_to,
             coalesce((select json_agg(account_id) from offline), '[]'::json) as offline`);
    const row = rows[0];
    const lastSeq = row?.last_seq ? Number(row.last_seq) : null;
    return { lastSeq, offline: row?.offline ?? [], claimed: row?.claimed_to != null };
  }

  async function notifyDevices(
    push: Push,
    app: App,
    accountIds: string[],
    notification: Notification,
  ): Promise<void> {
    const rows = await db
      .select({
        platform: devices.platform,
        token: devices.token,
        environment: devices.environment,
        topic: devices.topic,
      })
      .from(devices)
      .where(
        and(
          eq(devices.appId, push.appId),
          inArray(devices.accountId, accountIds),
          isNull(devices.disabledAt),
        ),
      );
    if (!rows.length) return;
    const clients = providers.forApp(app);
    for (const platform of ['apns', 'fcm'] as const) {
      const targets: DeviceTarget[] = rows.filter((r) => r.platform === platform);
      if (!targets.length) continue;
      const client: ProviderClient | undefined = clients[platform];
      const outcomes: SendOutcome[] = client
        ? await client.send(targets, notification)
        : targets.map((t) => ({ token: t.token, outcome: 'failed', reason: `no ${platform} credentials` }));
      await recordOutcomes(push, platform, outcomes);
    }
  }

  async function recordOutcomes(
    push: Push,
    platform: 'apns' | 'fcm',
    outcomes: SendOutcome[],
  ): Promise<void> {
    const sent = outcomes.filter((o) => o.outcome === 'sent').length;
    const dead = outcomes.filter((o) => o.outcome === 'invalid');
    const failed = outcomes.length - sent;
    if (dead.length) {
      for (const reason of new Set(dead.map((d) => d.reason))) {
        const tokens = dead.filter((d) => d.reason === reason).map((d) => d.token);
        await db
          .update(devices)
          .set({ disabledAt: new Date(), disabledReason: reason })
          .where(
            and(
              eq(devices.appId, push.appId),
              eq(devices.platform, platform),
              inArray(devices.token, tokens),
            ),
          );
      }
    }
    if (failed && outcomes.some((o) => o.outcome === 'failed')) {
      log.warn({ pushId: push.id, platform, failed }, 'provider notifications failed');
    }
    const counters =
      platform === 'apns'
        ? {
            apnsSent: sql`${pushes.apnsSent} + ${sent}`,
            apnsFailed: sql`${pushes.apnsFailed} + ${failed}`,
            apnsDisabled: sql`${pushes.apnsDisabled} + ${dead.length}`,
          }
        : {
            fcmSent: sql`${pushes.fcmSent} + ${sent}`,
            fcmFailed: sql`${pushes.fcmFailed} + ${failed}`,
            fcmDisabled: sql`${pushes.fcmDisabled} + ${dead.length}`,
          };
    await db
      .update(pushes)
      .set(counters)
      .where(and(eq(pushes.appId, push.appId), eq(pushes.id, push.id)));
  }

  return {
    /**
     * Pages through the offline recipients by keyset, heartbeating the cursor after each page so a retry
     * (a crashed worker, a timeout) resumes after the last page that committed.
     */
    async deliverOfflinePages(input: {
      appId: string;
      pushId: string;
      cursor: number;
    }): Promise<{ cursor: number; done: boolean }> {
      const ctx = Context.current();
      const [push] = await db
        .select()
        .from(pushes)
        .where(and(eq(pushes.appId, input.appId), eq(pushes.id, input.pushId)));
      const app = await findAppById(db, input.appId);
      if (!push || !app) throw new Error(`push ${input.pushId} not found`);
      // The push row's cursor is the truth: pages up to it were claimed, by this attempt or an earlier one.
      let cursor = Math.max(input.cursor, push.offlineCursor);
      const notification = buildNotification(push);
      const inFlight = new Set<Promise<void>>();
      const send = (n: Notification, accounts: string[]) => {
        const p: Promise<void> = notifyDevices(push, app, accounts, n).finally(() => inFlight.delete(p));
        inFlight.add(p);
      };
      try {
        for (let i = 0; i < pagesPerActivity; i++) {
          if (ctx.cancellationSignal.aborted) throw new CancelledFailure('push stopped');
          const page = await claimPage(push, cursor);
          if (page.lastSeq === null) return { cursor, done: true };
          if (!page.claimed) {
            const [now] = await db
              .select({ c: pushes.offlineCursor })
              .from(pushes)
              .where(and(eq(pushes.appId, push.appId), eq(pushes.id, push.id)));
            cursor = Math.max(cursor, now?.c ?? cursor);
            continue;
          }
          cursor = page.lastSeq;
          if (notification && page.offline.length) {
            send(notification, page.offline);
            if (inFlight.size >= PAGES_IN_FLIGHT) await Promise.race(inFlight);
          }
          ctx.heartbeat({ cursor });
        }
        return { cursor, done: false };
      } finally {
        await Promise.all(inFlight);
      }
    },
  };
}
