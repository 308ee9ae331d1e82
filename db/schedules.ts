import type { CalendarSpec } from '@temporalio/client';
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import type { Message, OfflineOptions } from '../core/messages.ts';
import type { Queryable } from './client.ts';
import { schedules } from './schema.ts';

export type ScheduleRow = typeof schedules.$inferSelect;

/** When a schedule runs, as the caller gave it (validated): calendars or cron strings, never both. */
export interface ScheduleSpecInput {
  calendars?: CalendarSpec[] | undefined;
  cron?: string[] | undefined;
  /** IANA name; UTC when not given. */
  timezone: string;
  startAt?: string | undefined;
  endAt?: string | undefined;
}

/** The push each run of a schedule creates: a push's fields without sendAt. */
export interface PushTemplate {
  audience: 'all' | Record<string, unknown>;
  message: Message;
  offline: OfflineOptions;
  retentionSeconds: number;
  throttlePerMinute?: number | null | undefined;
}

/** The Temporal Schedule of one app's schedule; its runs are workflows `<this>-<scheduled time>`. */
export const temporalScheduleId = (appId: string, id: string) => `sched-${appId}-${id}`;

export async function findSchedule(
  db: Queryable,
  appId: string,
  id: string,
): Promise<ScheduleRow | undefined> {
  const [row] = await db
    .select()
    .from(schedules)
    .where(and(eq(schedules.appId, appId), eq(schedules.id, id)));
  return row;
}

export async function findScheduleByIdempotencyKey(
  db: Queryable,
  appId: string,
  key: string,
): Promise<ScheduleRow | undefined> {
  const [row] = await db
    .select()
    .from(schedules)
    .where(and(eq(schedules.appId, appId), eq(schedules.idempotencyKey, key)));
  return row;
}

export async function releaseScheduleIdempotencyKey(db: Queryable, appId: string, id: string): Promise<void> {
  await db
    .update(schedules)
    .set({ idempotencyKey: null })
    .where(and(eq(schedules.appId, appId), eq(schedules.id, id)));
}

/** Newest first, paged by id (time-ordered). */
export async function listSchedules(
  db: Queryable,
  appId: string,
  after: string | undefined,
  limit: number,
): Promise<ScheduleRow[]> {
  return db
    .select()
    .from(schedules)
    .where(and(eq(schedules.appId, appId), after ? lt(schedules.id, after) : undefined))
    .orderBy(desc(schedules.id))
    .limit(limit);
}

export async function countSchedules(db: Queryable, appId: string): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(schedules)
    .where(eq(schedules.appId, appId));
  return row?.n ?? 0;
}

/** Its Temporal Schedule is known to exist: the reconciler need not look at it. */
export async function markScheduleCreated(db: Queryable, appId: string, id: string): Promise<void> {
  await db
    .update(schedules)
    .set({ temporalCreatedAt: sql`coalesce(${schedules.temporalCreatedAt}, now())` })
    .where(and(eq(schedules.appId, appId), eq(schedules.id, id)));
}

export async function deleteScheduleRow(db: Queryable, appId: string, id: string): Promise<void> {
  await db.delete(schedules).where(and(eq(schedules.appId, appId), eq(schedules.id, id)));
}

/** A run made its push (pushId) or was refused (error): what the schedule's view shows as its last run. */
export async function recordScheduleRun(
  db: Queryable,
  appId: string,
  id: string,
  run: { pushId: string } | { error: string },
): Promise<void> {
  await db
    .update(schedules)
    .set(
      'pushId' in run
        ? {
            // Once per push: a retried run records the same push again.
            runs: sql`${schedules.runs} + (${schedules.lastPushId} is distinct from ${run.pushId})::int`,
            lastRunAt: sql`now()`,
            lastPushId: run.pushId,
            lastError: null,
          }
        : { lastRunAt: sql`now()`, lastError: run.error },
    )
    .where(and(eq(schedules.appId, appId), eq(schedules.id, id)));
}
