/**
 * Throttled pushes: at most `throttlePerMinute` recipients notified (an APNs / FCM notification sent to any of
 * their devices) per minute, for apps whose backends cannot take every user tapping at once.
 *
 * The pace lives in the push row, not in a worker's memory: `pace_at` is the earliest time the next page may
 * notify anyone, and each page that notifies k recipients moves it to `max(pace_at, now) + k / rate` in one
 * statement (the generic cell rate algorithm). A page activity waits for it before each claim, so a retried or
 * resumed activity, another worker, or several pages in parallel all keep to the same pace: none starts with
 * credit it saved while nothing was sent. Throttled pages are one second's worth of recipients, so the largest
 * burst is one second's worth. Times are the database's clock, the same for every worker.
 */
import { and, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Queryable } from '../db/client.ts';
import type { PushRow } from '../db/pushes.ts';
import { pushes } from '../db/schema.ts';
import type { PushRef } from './lifecycle.ts';

export const MIN_THROTTLE_PER_MINUTE = 10;
export const MAX_THROTTLE_PER_MINUTE = 1_000_000;

export const throttleSchema = z
  .number()
  .int()
  .min(MIN_THROTTLE_PER_MINUTE, `must be at least ${MIN_THROTTLE_PER_MINUTE} recipients per minute`)
  .max(MAX_THROTTLE_PER_MINUTE, `must be at most ${MAX_THROTTLE_PER_MINUTE} recipients per minute`);

/** Recipients per page of a throttled push: one second's worth at its rate, 1 at least, the page size at most. */
export function throttledPageSize(perMinute: number, pageSize: number): number {
  return Math.max(1, Math.min(pageSize, Math.ceil(perMinute / 60)));
}

/** How long until the push may notify again (ms by the database's clock; 0 when it may now). */
export async function paceDelayMs(db: Queryable, { appId, pushId }: PushRef): Promise<number> {
  const [row] = await db
    .select({
      ms: sql<number>`greatest(0, extract(epoch from ${pushes.paceAt} - clock_timestamp()) * 1000)::float8`,
    })
    .from(pushes)
    .where(and(eq(pushes.appId, appId), eq(pushes.id, pushId)));
  return Math.ceil(row?.ms ?? 0);
}

/**
 * A claimed page of `recipients` rows will notify `notified` of them: moves the push's pace on by their share of
 * a minute (from now, if it had fallen behind) and answers how long until the next page may go.
 */
export async function advancePace(
  db: Queryable,
  { appId, pushId }: PushRef,
  page: { recipients: number; notified: number; perMinute: number },
): Promise<number> {
  const seconds = (page.notified * 60) / page.perMinute;
  const [row] = await db.execute<{ ms: number }>(sql`
    update pushes set
      pace_at = greatest(coalesce(pace_at, clock_timestamp()), clock_timestamp())
        + make_interval(secs => ${seconds}::float8),
      paced_recipients = paced_recipients + ${page.recipients},
      paced_notified = paced_notified + ${page.notified}
    where app_id = ${appId} and id = ${pushId}
    returning greatest(0, extract(epoch from pace_at - clock_timestamp()) * 1000)::float8 as ms`);
  return Math.ceil(Number(row?.ms ?? 0));
}

/**
 * When a running throttled push should be done notifying: the recipients its pages have not reached yet, at
 * the share of them notified so far (all of them before its first page), at its rate, from its pace time. An
 * estimate; null for a push that is not throttled or not running.
 */
export function expectedFinish(push: PushRow, now = Date.now()): Date | null {
  const rate = push.throttlePerMinute;
  if (!rate || push.status !== 'running' || !push.snapshotAt) return null;
  const remaining = Math.max(0, push.audienceCount - push.pacedRecipients);
  const share = push.pacedRecipients > 0 ? push.pacedNotified / push.pacedRecipients : 1;
  const from = Math.max(now, push.paceAt?.getTime() ?? now);
  return new Date(from + Math.ceil((remaining * share * 60_000) / rate));
}
