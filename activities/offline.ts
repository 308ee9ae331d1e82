import { CancelledFailure, Context } from '@temporalio/activity';
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import { type Message, notificationBody, type OfflineOptions } from '../core/messages.ts';
import { findAppById } from '../db/apps.ts';
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

interface PageResult {
  lastSeq: number | null;
  claimed: string[];
}

export function offlineActivities({ database, providers, log, batchSize, pagesPerActivity }: ActivityDeps) {
  const { db } = database;

  /**
   * Claims the next keyset page of still-pending recipients who are not connected to any live gateway:
   * they become stored copies (or skipped when the push keeps nothing), and the push's counter moves in the
   * same transaction, so a retried page neither stores nor counts anyone twice.
   */
  async function claimPage(push: Push, cursor: number): Promise<PageResult> {
    const target = push.retentionSeconds > 0 ? RecipientState.stored : RecipientState.skipped;
    return db.transaction(async (tx) => {
      const rows = await tx.execute<{ last_seq: string | null; claimed: string[] | null }>(sql`
        with page as (
          select account_seq from push_recipients
          where push_id = ${push.id} and account_seq > ${cursor}
          order by account_seq limit ${batchSize}
        ), claimed as (
          update push_recipients r set state = ${target}
          from page
          where r.push_id = ${push.id} and r.account_seq = page.account_seq and r.state = ${RecipientState.pending}
            and not exists (
              select 1 from presence p join gateways g on g.id = p.gateway_id
              where p.app_id = ${push.appId} and p.account_id = r.account_id
                and g.heartbeat_at > now() - interval '30 seconds')
          returning r.account_id
        )
        select (select max(account_seq) from page)::text as last_seq,
               (select array_agg(account_id) from claimed) as claimed`);
      const row = rows[0];
      const claimed = row?.claimed ?? [];
      if (claimed.length && target === RecipientState.stored) {
        await tx
          .update(pushes)
          .set({ storedOffline: sql`${pushes.storedOffline} + ${claimed.length}` })
          .where(and(eq(pushes.appId, push.appId), eq(pushes.id, push.id)));
      }
      return { lastSeq: row?.last_seq ? Number(row.last_seq) : null, claimed };
    });
  }

  async function notifyDevices(push: Push, accountIds: string[], notification: Notification): Promise<void> {
    const app = await findAppById(db, push.appId);
    if (!app) return;
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
      const resumed = ctx.info.heartbeatDetails as { cursor: number } | undefined;
      let cursor = Math.max(input.cursor, resumed?.cursor ?? 0);
      const [push] = await db
        .select()
        .from(pushes)
        .where(and(eq(pushes.appId, input.appId), eq(pushes.id, input.pushId)));
      if (!push) throw new Error(`push ${input.pushId} not found`);
      const notification = buildNotification(push);
      for (let i = 0; i < pagesPerActivity; i++) {
        if (ctx.cancellationSignal.aborted) throw new CancelledFailure('push stopped');
        const page = await claimPage(push, cursor);
        if (page.lastSeq === null) return { cursor, done: true };
        if (notification && page.claimed.length) await notifyDevices(push, page.claimed, notification);
        cursor = page.lastSeq;
        ctx.heartbeat({ cursor });
      }
      return { cursor, done: false };
    },
  };
}
