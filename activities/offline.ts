import { CancelledFailure, Context } from '@temporalio/activity';
import { and, eq } from 'drizzle-orm';
import { type Element, notificationBody } from '../core/messages.ts';
import { notificationsTotal } from '../core/metrics.ts';
import {
  MAX_PAGE_PARALLELISM,
  PACED_ACTIVITY_MS,
  PAGE_RANGES_PER_WORKER,
  PAGES_IN_FLIGHT,
} from '../core/tunables.ts';
import { type App, findAppById } from '../db/apps.ts';
import { pushes } from '../db/schema.ts';
import type { CommonNotification, SendOutcome } from '../delivery/channel.ts';
import { CHANNELS, type ChannelClients, type ChannelName } from '../delivery/registry.ts';
import type { PushRef } from '../pushes/lifecycle.ts';
import { pickVariant } from '../pushes/localized.ts';
import {
  accountsOf,
  addProviderCounts,
  claimLiveFallbackPage,
  claimPage,
  countAwaitingLive,
  disableDevices,
  numberedRows,
  offlineCursorOf,
  openRange,
  type PageDevice,
  type PageRange,
  ProviderTally,
  rangeCursorOf,
} from '../pushes/offline-pages.ts';
import { advancePace, paceDelayMs, throttledPageSize } from '../pushes/throttle.ts';
import { type NotificationEventType, wantedEventTypes } from '../pushes/webhook-events.ts';
import type { ActivityDeps } from './deps.ts';

const EVENT_OF: Record<SendOutcome['outcome'], NotificationEventType> = {
  sent: 'notification.sent',
  failed: 'notification.failed',
  invalid: 'notification.token_disabled',
};

type Push = typeof pushes.$inferSelect;

/** Temporal's enum value (temporal.api.enums.v1.TaskQueueType; its CommonJS module has no ESM named exports). */
const TASK_QUEUE_TYPE_ACTIVITY = 2;

/** How a push's (or a wave's) offline pages run in ranges: small, it goes into the workflow's history. */
export interface PageRangePlan extends PageRange {
  /** Rows per range: one activity's worth of pages. */
  rangeRows: number;
  /** Ranges at once. */
  parallelism: number;
}

/**
 * What every channel shows for this push in one language variant (0: the default), from that variant's elements
 * and offline options, expiring when the push's retention ends.
 */
export function buildNotification(push: Push, variant = 0): CommonNotification | undefined {
  const { elements, offline } = pickVariant(push, variant);
  if (!offline.push) return undefined;
  const body = notificationBody({ elements: elements as Element[] }, offline);
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

/** Per channel, what it sends for one variant; undefined when that variant sends no notification. */
type Rendering = Map<ChannelName, unknown> | undefined;

/**
 * Each channel's rendering of the push (the common notification plus that channel's own options, only), per
 * language variant: made once per variant, when a page first holds a device of it, never once per device.
 */
export class Renderings {
  private readonly made = new Map<number, Rendering>();
  /** Whether some variant sends a notification at all (if none, pages need no devices). */
  readonly any: boolean;

  constructor(private readonly push: Push) {
    const count = (push.localized?.length ?? 0) + 1;
    this.any = Array.from({ length: count }, (_, v) => v).some((v) => this.get(v) !== undefined);
  }

  get(variant: number): Rendering {
    if (this.made.has(variant)) return this.made.get(variant);
    const common = buildNotification(this.push, variant);
    const { offline } = pickVariant(this.push, variant);
    const rendering: Rendering = common
      ? new Map(CHANNELS.map((c) => [c.name, c.render(common, offline[c.optionsKey])]))
      : undefined;
    this.made.set(variant, rendering);
    return rendering;
  }

  /** The devices whose variant sends a notification: what a throttled push counts as notified. */
  notified(pageDevices: PageDevice[]): PageDevice[] {
    return pageDevices.filter((d) => this.get(d.variant) !== undefined);
  }
}

/**
 * A throttled push's pace, for one activity (pushes/throttle.ts keeps it in the push row): pages of one second's
 * worth, a wait for the row's pace time before each claim (heartbeating, and ended by a cancel), and the
 * activity hands back to the workflow after PACED_ACTIVITY_MS rather than after a count of pages.
 */
function pacer(db: ActivityDeps['database']['db'], push: Push, batchSize: number) {
  const perMinute = push.throttlePerMinute;
  if (!perMinute) return undefined;
  const ref = { appId: push.appId, pushId: push.id };
  const ctx = Context.current();
  const until = Date.now() + PACED_ACTIVITY_MS;
  /** When the next page may go, by this process's clock (the row's pace time, read as a delay). */
  let readyAt: number | undefined;
  return {
    pageSize: throttledPageSize(perMinute, batchSize),
    timeLeft: () => Date.now() < until,
    async wait(cursor: number): Promise<void> {
      // A new attempt reads the pace the earlier ones left in the row.
      readyAt ??= Date.now() + (await paceDelayMs(db, ref));
      for (let left = readyAt - Date.now(); left > 0; left = readyAt - Date.now()) {
        await ctx.sleep(Math.min(left, 1000));
        ctx.heartbeat({ cursor });
      }
    },
    async advance(recipients: number, pageDevices: PageDevice[]): Promise<void> {
      const ms = await advancePace(db, ref, { recipients, notified: accountsOf(pageDevices), perMinute });
      readyAt = Date.now() + ms;
    },
  };
}

export function offlineActivities({
  database,
  bus,
  providers,
  log,
  batchSize,
  pagesPerActivity,
  pageParallelism,
}: ActivityDeps) {
  const { db } = database;

  /**
   * The worker processes polling this activity's task queue for activities now (distinct poller identities
   * Temporal saw in the last minute); 1 when Temporal cannot say.
   */
  async function activityWorkers(): Promise<number> {
    const ctx = Context.current();
    try {
      const { pollers } = await ctx.client.workflowService.describeTaskQueue({
        namespace: ctx.info.workflowNamespace,
        taskQueue: { name: ctx.info.taskQueue },
        taskQueueType: TASK_QUEUE_TYPE_ACTIVITY,
      });
      const since = Date.now() - 60_000;
      const seen = (pollers ?? []).filter((p) => {
        const at = p.lastAccessTime?.seconds;
        return p.identity && (at == null || Number(at) * 1000 >= since);
      });
      return Math.max(1, new Set(seen.map((p) => p.identity)).size);
    } catch (err) {
      log.warn({ err }, "could not count the task queue's workers: pages run as for one");
      return 1;
    }
  }

  /** The push, its app, and the notification events an endpoint of the app wants (read once per activity). */
  async function load({ appId, pushId }: PushRef): Promise<{ push: Push; app: App; events: Set<string> }> {
    const [push] = await db
      .select()
      .from(pushes)
      .where(and(eq(pushes.appId, appId), eq(pushes.id, pushId)));
    const app = await findAppById(db, appId);
    if (!push || !app) throw new Error(`push ${pushId} not found`);
    return { push, app, events: await wantedEventTypes(db, appId) };
  }

  async function notifyDevices(
    push: Push,
    app: App,
    pageDevices: PageDevice[],
    renderings: Renderings,
    tally: ProviderTally,
    events: Set<string>,
  ): Promise<void> {
    const clients = providers.forApp(app);
    // One send per channel and variant: a page may hold recipients of several languages.
    const variants = [...new Set(pageDevices.map((d) => d.variant))];
    for (const { name: platform } of CHANNELS) {
      const forChannel = pageDevices.filter((d) => d.platform === platform);
      for (const variant of variants) {
        const notification = renderings.get(variant)?.get(platform);
        const targets = forChannel.filter((d) => d.variant === variant);
        if (notification !== undefined && targets.length)
          await sendTo(push, platform, clients[platform], targets, notification, tally, events);
      }
    }
  }

  /** One channel's send of one rendering to some devices; its outcomes counted, dead tokens disabled. */
  async function sendTo(
    push: Push,
    platform: ChannelName,
    client: ChannelClients[ChannelName],
    targets: PageDevice[],
    notification: unknown,
    tally: ProviderTally,
    events: Set<string>,
  ): Promise<void> {
    const outcomes: SendOutcome[] = client
      ? await client.send(targets, notification)
      : targets.map((t) => ({ token: t.token, outcome: 'failed', reason: `no ${platform} credentials` }));
    const sent = outcomes.filter((o) => o.outcome === 'sent').length;
    const dead = outcomes.flatMap((o) =>
      o.outcome === 'invalid' ? [{ token: o.token, reason: o.reason }] : [],
    );
    await disableDevices(db, push.appId, platform, dead);
    if (outcomes.length > sent)
      log.warn(
        { pushId: push.id, platform, failed: outcomes.length - sent },
        'provider notifications failed',
      );
    tally.add(platform, sent, outcomes.length - sent, dead.length);
    if (events.size) recordOutcomes(tally, platform, targets, outcomes, events);
    for (const o of outcomes) notificationsTotal.inc({ channel: platform, outcome: o.outcome });
  }

  /** The answers an endpoint wants as notification events, beside the counts they are written with. */
  function recordOutcomes(
    tally: ProviderTally,
    platform: ChannelName,
    targets: PageDevice[],
    outcomes: SendOutcome[],
    events: Set<string>,
  ): void {
    const owner = new Map(targets.map((t) => [t.token, t.accountId]));
    for (const o of outcomes) {
      const type = EVENT_OF[o.outcome];
      if (!events.has(type)) continue;
      tally.outcomes.push({
        type,
        channel: platform,
        accountId: owner.get(o.token) ?? '',
        token: o.token,
        reason: o.outcome === 'sent' ? null : o.reason,
      });
    }
  }

  return {
    /**
     * Claims and sends offline pages, heartbeating the cursor after each page so a retry (a crashed worker, a
     * timeout) resumes after the last page that committed. With `range`: the pages of that range of numbered
     * rows, its cursor in push_page_ranges (other ranges of the push run beside it, on this worker or others);
     * `done` once the range is exhausted. Without (a push snapshotted before row numbers): keyset pages by
     * account_seq on the push's (or wave's) cursor, `done` once the push (or wave) is.
     */
    async deliverOfflinePages(input: {
      appId: string;
      pushId: string;
      cursor: number;
      /** A local-time push's wave: its counters (and, without a range, its rows only; pushes/waves.ts). */
      wave?: number | undefined;
      /** Rows first..last (row_no) of the push: one range of its pages (the workflow runs several at once). */
      range?: PageRange | undefined;
    }): Promise<{ cursor: number; done: boolean; awaitingLive: number }> {
      const ctx = Context.current();
      const { push, app, events } = await load(input);
      const ref = { appId: push.appId, pushId: push.id };
      const { wave, range } = input;
      const storedCursor = () =>
        range
          ? rangeCursorOf(db, ref, range)
          : wave === undefined
            ? Promise.resolve(push.offlineCursor)
            : offlineCursorOf(db, ref, wave);
      // The stored cursor is the truth: pages up to it were claimed, by this attempt or an earlier one.
      const details = ctx.info.heartbeatDetails as { cursor?: number } | undefined;
      let cursor = Math.max(
        input.cursor,
        details?.cursor ?? 0,
        range ? await openRange(db, ref, range) : await storedCursor(),
      );
      // A retry cannot know what the lost attempt marked: the rows say (the range's claimed rows, or all).
      let awaitingLive =
        ctx.info.attempt > 1
          ? await countAwaitingLive(db, ref, wave, range ? { first: range.first, last: cursor } : undefined)
          : 0;
      const renderings = new Renderings(push);
      const tally = new ProviderTally();
      const inFlight = new Set<Promise<void>>();
      const send = (pageDevices: PageDevice[]) => {
        const p: Promise<void> = notifyDevices(push, app, pageDevices, renderings, tally, events).finally(
          () => inFlight.delete(p),
        );
        inFlight.add(p);
      };
      const paced = pacer(db, push, batchSize);
      try {
        for (let i = 0; paced ? paced.timeLeft() : i < pagesPerActivity; i++) {
          if (ctx.cancellationSignal.aborted) throw new CancelledFailure('push stopped');
          if (range && cursor >= range.last) return { cursor, done: true, awaitingLive };
          await paced?.wait(cursor);
          const carried = tally.take();
          const page = await claimPage(db, ref, {
            cursor,
            size: paced?.pageSize ?? batchSize,
            wantDevices: renderings.any,
            tally: carried,
            wave,
            range,
          }).catch((err: unknown) => {
            // The claim rolled back with the results it carried: they are written in `finally` instead.
            tally.merge(carried);
            throw err;
          });
          if (!page.claimed) tally.merge(carried);
          awaitingLive += page.awaitingLive;
          if (page.lastSeq === null) return { cursor, done: true, awaitingLive };
          if (!page.claimed) {
            cursor = Math.max(cursor, await storedCursor());
            continue;
          }
          cursor = page.lastSeq;
          // Before its notifications go out: a crash in between loses them, never sends them unpaced.
          await paced?.advance(page.recipients, renderings.notified(page.devices));
          if (page.devices.length) {
            send(page.devices);
            if (inFlight.size >= PAGES_IN_FLIGHT) await Promise.race(inFlight);
          }
          ctx.heartbeat({ cursor });
        }
        return { cursor, done: range !== undefined && cursor >= range.last, awaitingLive };
      } finally {
        await Promise.all(inFlight);
        await addProviderCounts(db, ref, tally, wave);
      }
    },

    /**
     * How a push's (or a wave's) offline pages run: its numbered rows, the rows per range (one activity's
     * pages) and how many ranges at once: HERALD_PAGE_PARALLELISM, else the workers polling this task queue
     * for activities now × PAGE_RANGES_PER_WORKER, at most MAX_PAGE_PARALLELISM; 1 for a throttled push (its
     * pace, not the workers, is its limit). Undefined when the rows were snapshotted before row numbers. Called
     * once per push or wave: the answer is in the workflow's history.
     */
    async planPageRanges(input: PushRef & { wave?: number | undefined }): Promise<PageRangePlan | undefined> {
      const rows = await numberedRows(db, input, input.wave);
      if (!rows) return undefined;
      const [push] = await db
        .select({ throttle: pushes.throttlePerMinute })
        .from(pushes)
        .where(and(eq(pushes.appId, input.appId), eq(pushes.id, input.pushId)));
      const parallelism = push?.throttle
        ? 1
        : (pageParallelism ?? (await activityWorkers()) * PAGE_RANGES_PER_WORKER);
      return {
        ...rows,
        rangeRows: pagesPerActivity * batchSize,
        parallelism: Math.max(1, Math.min(MAX_PAGE_PARALLELISM, parallelism)),
      };
    },

    /**
     * After the offline pages, for the rows a live send still owes (`awaitingLive`): tells the gateways to try
     * them once more (an account whose socket died and that reconnected elsewhere gets the push live) and
     * answers how many there are; the workflow then lets the fan-outs settle and runs deliverLiveFallbacks.
     */
    async retryLiveDelivery({
      wave,
      ...ref
    }: PushRef & { wave?: number }): Promise<{ awaitingLive: number }> {
      const awaitingLive = await countAwaitingLive(db, ref, wave);
      if (awaitingLive > 0)
        await bus.publish({ type: 'push', ...ref, retry: true, ...(wave === undefined ? {} : { wave }) });
      return { awaitingLive };
    },

    /**
     * The live-send fallback: the rows still `awaitingLive` once the fan-outs had time to finish get what an
     * offline recipient gets: the provider notification (the push's own rendering per channel, counted in its
     * counters) and, with retention, the pending row as the stored copy. A row is claimed once (the claim
     * commits before its notification goes out), so the fallback is at most once, as pages are. Heartbeats and
     * resumes like the pages; a canceled or recalled push claims nothing.
     */
    async deliverLiveFallbacks(
      input: PushRef & { cursor?: number; wave?: number },
    ): Promise<{ devices: number }> {
      const ctx = Context.current();
      const { push, app, events } = await load(input);
      const ref = { appId: push.appId, pushId: push.id };
      const renderings = new Renderings(push);
      const details = ctx.info.heartbeatDetails as { cursor?: number } | undefined;
      let cursor = Math.max(input.cursor ?? 0, details?.cursor ?? 0);
      let devices = 0;
      const tally = new ProviderTally();
      const paced = pacer(db, push, batchSize);
      try {
        for (;;) {
          if (ctx.cancellationSignal.aborted) throw new CancelledFailure('push stopped');
          await paced?.wait(cursor);
          const page = await claimLiveFallbackPage(db, ref, {
            cursor,
            size: paced?.pageSize ?? batchSize,
            wantDevices: renderings.any,
            wave: input.wave,
          });
          if (page.lastSeq === null) return { devices };
          cursor = page.lastSeq;
          // These recipients were counted as passed by their offline page already.
          await paced?.advance(0, renderings.notified(page.devices));
          devices += page.devices.length;
          if (page.devices.length) await notifyDevices(push, app, page.devices, renderings, tally, events);
          ctx.heartbeat({ cursor });
        }
      } finally {
        await addProviderCounts(db, ref, tally, input.wave);
      }
    },
  };
}
