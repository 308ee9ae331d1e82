import { CancelledFailure, Context } from '@temporalio/activity';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { type Message, notificationBody, type OfflineOptions } from '../core/messages.ts';
import { PAGES_IN_FLIGHT } from '../core/tunables.ts';
import { type App, findAppById } from '../db/apps.ts';
import { connectedNow } from '../db/recipients.ts';
import { type ChannelCount, devices, pushes, RecipientState } from '../db/schema.ts';
import type { CommonNotification, DeviceTarget, SendOutcome } from '../delivery/channel.ts';
import { CHANNELS, type ChannelName } from '../delivery/registry.ts';
import type { ActivityDeps } from './deps.ts';

type Push = typeof pushes.$inferSelect;

/** What every channel shows for this push (its common offline options), expiring when its retention ends. */
export function buildNotification(push: Push): CommonNotification | undefined {
  const offline = push.offline as OfflineOptions;
  const message = push.message as Message;
  if (!offline.push) return undefined;
  const body = notificationBody(message, offline);
  if (!body) return undefined;
  const n: CommonNotification = {
    pushId: push.id,
    body,
    expiresAt: push.retentionSeconds > 0 && push.expiresAt ? push.expiresAt : null,
  };
  if (offline.title !== undefined) n.title = offline.title;
  if (offline.sound !== undefined) n.sound = offline.sound;
  if (offline.badge !== undefined) n.badge = offline.badge;
  if (offline.ext !== undefined) n.ext = offline.ext;
  return n;
}

/** Each channel's rendering of the push: the common notification plus that channel's own options, only. */
function renderForChannels(push: Push): Map<ChannelName, unknown> | undefined {
  const common = buildNotification(push);
  if (!common) return undefined;
  const offline = push.offline as OfflineOptions;
  return new Map(CHANNELS.map((c) => [c.name, c.render(common, offline[c.optionsKey])]));
}

interface PageDevice extends DeviceTarget {
  platform: ChannelName;
}

interface ClaimedPage {
  /** The end of this page, or null when no recipients are left. */
  lastSeq: number | null;
  /** The live devices of the page's recipients who are still undelivered and not connected anywhere. */
  devices: PageDevice[];
  /** False when another attempt had already claimed this page (a retry after a crash). */
  claimed: boolean;
}

/** Provider results not yet written to the push row, per channel. */
class ProviderTally {
  private counts = new Map<ChannelName, ChannelCount>();

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
    this.counts = new Map();
    return taken;
  }

  merge(other: ProviderTally): void {
    for (const [platform, c] of other.counts) this.add(platform, c.sent, c.failed, c.disabled);
  }

  get empty(): boolean {
    return this.counts.size === 0;
  }

  /** The SET clause that adds this tally to the push's counters. */
  increments() {
    return sql`channel_counts = add_channel_counts(channel_counts, ${JSON.stringify(Object.fromEntries(this.counts))}::jsonb)`;
  }
}

export function offlineActivities({ database, providers, log, batchSize, pagesPerActivity }: ActivityDeps) {
  const { db } = database;

  /**
   * Claims the next keyset page in one statement: it moves the push's offline cursor past the page (only if
   * nobody moved it first), adds the provider results counted since the last claim to the push's counters
   * (so they cost no statement of their own and no second lock on the push row), and returns the live devices
   * of the page's recipients who are still undelivered and not connected to a live gateway. The claim
   * commits before any notification goes out, so a retried page is never sent twice.
   */
  async function claimPage(
    push: Push,
    cursor: number,
    tally: ProviderTally,
    wantDevices: boolean,
  ): Promise<ClaimedPage> {
    const rows = await db.execute<{
      last_seq: string | null;
      claimed_to: string | null;
      devices: [ChannelName, string, DeviceTarget['environment'], string | null][];
    }>(sql`
      with page as (
        select account_seq, account_id, state from push_recipients
        where push_id = ${push.id} and account_seq > ${cursor}
        order by account_seq limit ${batchSize}
      ), offline as (
        select p.account_id from page p
        where ${wantDevices} and p.state = ${RecipientState.pending}
          and not ${connectedNow(push.appId, sql`p.account_id`)}
      ), claim as (
        update pushes set offline_cursor = (select max(account_seq) from page), ${tally.increments()}
        where app_id = ${push.appId} and id = ${push.id} and offline_cursor = ${cursor}
          and exists (select 1 from page)
        returning offline_cursor
      )
      select (select max(account_seq) from page)::text as last_seq,
             (select offline_cursor from claim)::text as claimed_to,
             coalesce((
               select json_agg(json_build_array(d.platform, d.token, d.environment, d.topic))
               from devices d join offline o on d.app_id = ${push.appId} and d.account_id = o.account_id
               where d.disabled_at is null
             ), '[]'::json) as devices`);
    const row = rows[0];
    const lastSeq = row?.last_seq ? Number(row.last_seq) : null;
    return {
      lastSeq,
      claimed: row?.claimed_to != null,
      devices: (row?.devices ?? []).map(([platform, token, environment, topic]) => ({
        platform,
        token,
        environment,
        topic,
      })),
    };
  }

  /** Writes provider results that no claim carried (the last pages of an activity). */
  async function flushTally(push: Push, tally: ProviderTally): Promise<void> {
    if (tally.empty) return;
    await db.execute(
      sql`update pushes set ${tally.increments()} where app_id = ${push.appId} and id = ${push.id}`,
    );
  }

  async function notifyDevices(
    push: Push,
    app: App,
    pageDevices: PageDevice[],
    notifications: Map<ChannelName, unknown>,
    tally: ProviderTally,
  ): Promise<void> {
    const clients = providers.forApp(app);
    for (const { name: platform } of CHANNELS) {
      const targets = pageDevices.filter((d) => d.platform === platform);
      if (!targets.length) continue;
      const client = clients[platform];
      const outcomes: SendOutcome[] = client
        ? await client.send(targets, notifications.get(platform))
        : targets.map((t) => ({ token: t.token, outcome: 'failed', reason: `no ${platform} credentials` }));
      const sent = outcomes.filter((o) => o.outcome === 'sent').length;
      const dead = outcomes.filter((o) => o.outcome === 'invalid');
      await disableDeadTokens(push, platform, dead);
      if (outcomes.length > sent)
        log.warn(
          { pushId: push.id, platform, failed: outcomes.length - sent },
          'provider notifications failed',
        );
      tally.add(platform, sent, outcomes.length - sent, dead.length);
    }
  }

  async function disableDeadTokens(push: Push, platform: ChannelName, dead: SendOutcome[]): Promise<void> {
    for (const reason of new Set(dead.map((d) => (d.outcome === 'invalid' ? d.reason : '')))) {
      const tokens = dead.filter((d) => d.outcome === 'invalid' && d.reason === reason).map((d) => d.token);
      await db
        .update(devices)
        .set({ disabledAt: new Date(), disabledReason: reason })
        .where(
          and(eq(devices.appId, push.appId), eq(devices.platform, platform), inArray(devices.token, tokens)),
        );
    }
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
      const notifications = renderForChannels(push);
      const tally = new ProviderTally();
      const inFlight = new Set<Promise<void>>();
      const send = (n: Map<ChannelName, unknown>, pageDevices: PageDevice[]) => {
        const p: Promise<void> = notifyDevices(push, app, pageDevices, n, tally).finally(() =>
          inFlight.delete(p),
        );
        inFlight.add(p);
      };
      try {
        for (let i = 0; i < pagesPerActivity; i++) {
          if (ctx.cancellationSignal.aborted) throw new CancelledFailure('push stopped');
          const carried = tally.take();
          const page = await claimPage(push, cursor, carried, notifications !== undefined);
          if (!page.claimed) tally.merge(carried);
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
          if (notifications && page.devices.length) {
            send(notifications, page.devices);
            if (inFlight.size >= PAGES_IN_FLIGHT) await Promise.race(inFlight);
          }
          ctx.heartbeat({ cursor });
        }
        return { cursor, done: false };
      } finally {
        await Promise.all(inFlight);
        await flushTally(push, tally);
      }
    },
  };
}
