/**
 * Recurring pushes on Temporal Schedules. The `schedules` row is the source of truth for which app owns which
 * Schedule (`sched-<app>-<id>`: a handle is only ever made from a row found by app and id), for listing, and
 * for the push template (the message never enters Temporal); the Temporal Schedule owns when runs fire, pause
 * and the remaining count. Each run (workflows/schedule.ts) creates an ordinary push (pushes/schedule-runs.ts).
 */
import { createHash } from 'node:crypto';
// The OpenAPI-aware zod: the API names these schemas (.openapi), whichever module loads them first.
import { z } from '@hono/zod-openapi';
import {
  type Client,
  ScheduleAlreadyRunning,
  type ScheduleDescription,
  ScheduleNotFoundError,
  type ScheduleOptions,
  ScheduleOverlapPolicy,
} from '@temporalio/client';
import { and, eq, sql } from 'drizzle-orm';
import type { HeraldError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { App } from '../db/apps.ts';
import { pgErrorCode, SQLSTATE } from '../db/errors.ts';
import {
  countSchedules,
  deleteScheduleRow,
  findSchedule,
  findScheduleByIdempotencyKey,
  markScheduleCreated,
  type PushTemplate,
  releaseScheduleIdempotencyKey,
  type ScheduleRow,
  temporalScheduleId,
} from '../db/schedules.ts';
import { schedules } from '../db/schema.ts';
import { type ScheduledPushInput, scheduledPushWorkflow } from '../workflows/schedule.ts';
import { HeraldAppId, HeraldScheduleId } from '../workflows/search-attributes.ts';
import type { PushDeps } from './deps.ts';
import { PushError } from './errors.ts';
import { MAX_COUNT, resolveSpec, ScheduleSpecError, temporalSpec, timingFields } from './schedule-spec.ts';
import { checkAudience, pushInputSchema } from './service.ts';

/** Schedules one app may have at once: each is a Temporal Schedule on the shared cluster. */
export const MAX_SCHEDULES_PER_APP = 100;
/** A run missed by more than this (Temporal was down) is skipped, not sent late. */
export const CATCHUP_WINDOW = '1 hour';

export const pushTemplateSchema = pushInputSchema.omit({ sendAt: true });

const countSchema = z.number().int().min(1).max(MAX_COUNT);

export const scheduleInputSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  ...timingFields,
  count: countSchema.optional(),
  paused: z.boolean().default(false),
  push: pushTemplateSchema,
});
export type ScheduleInput = z.infer<typeof scheduleInputSchema>;

export const scheduleUpdateSchema = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  ...timingFields,
  /** Scheduled runs left from now on; null = no limit. */
  count: countSchema.nullable().optional(),
  push: pushTemplateSchema.optional(),
});
export type ScheduleUpdate = z.infer<typeof scheduleUpdateSchema>;

const IDEMPOTENCY_WINDOW_MS = 7 * 24 * 3600 * 1000;

/** The Temporal Schedule of a row: its spec, and the action that starts one run. */
export function scheduleOptions(deps: PushDeps, row: ScheduleRow): ScheduleOptions {
  const args: ScheduledPushInput = { appId: row.appId, scheduleId: row.id };
  const attributes = deps.config.HERALD_SEARCH_ATTRIBUTES
    ? {
        typedSearchAttributes: [
          { key: HeraldAppId, value: row.appId },
          { key: HeraldScheduleId, value: row.id },
        ],
      }
    : {};
  return {
    scheduleId: row.temporalScheduleId,
    spec: temporalSpec(row.spec),
    action: {
      type: 'startWorkflow',
      workflowType: scheduledPushWorkflow,
      // Temporal adds `-<scheduled time>` to it for each run.
      workflowId: row.temporalScheduleId,
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      args: [args],
      workflowExecutionTimeout: '1 hour',
      staticSummary: `Scheduled push · schedule ${row.id} · app ${row.appId}`,
      ...attributes,
    },
    // A run only creates its push: it outlasts the next fire time only while it cannot reach PostgreSQL or
    // waits out the app's minimum interval, and then that next run is skipped.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: CATCHUP_WINDOW, pauseOnFailure: false },
    memo: { app: row.appId, schedule: row.id },
    state: {
      paused: row.pausedAtCreation,
      ...(row.count !== null ? { remainingActions: row.count } : {}),
    },
    ...attributes,
  };
}

/**
 * Temporal's refusal of a spec (the client raises INVALID_ARGUMENT "Invalid schedule spec: …" as a TypeError
 * carrying the reason, e.g. `Minute is not in range [0-59]`, `CronString does not have 5-7 fields`): a 400.
 */
function specRefusal(err: unknown, spec: ScheduleRow['spec']): HeraldError | undefined {
  if (!(err instanceof TypeError)) return undefined;
  if (/time ?zone/i.test(err.message))
    return new ScheduleSpecError(
      'invalid_timezone',
      `Temporal does not know this time zone: ${err.message}`,
      ['timezone'],
    );
  return spec.cron
    ? new ScheduleSpecError('invalid_cron', `Temporal cannot use this cron string: ${err.message}`, ['cron'])
    : new ScheduleSpecError('invalid_schedule', `Temporal refused the calendar: ${err.message}`, [
        'calendar',
      ]);
}

/**
 * Creates the row's Temporal Schedule (a second create is the first one) and records that it exists. Used by
 * create and by the reconciler, for a row whose process died between its commit and this.
 */
export async function ensureTemporalSchedule(deps: PushDeps, row: ScheduleRow): Promise<void> {
  try {
    await deps.temporal.schedule.create(scheduleOptions(deps, row));
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await markScheduleCreated(deps.database.db, row.appId, row.id);
}

/**
 * The reconciler's repair of a row whose Temporal Schedule was never made (its process died after the commit):
 * made now, or, if Temporal refuses its spec (the create that died would have refused it too), the row removed.
 */
export async function repairSchedule(deps: PushDeps, row: ScheduleRow): Promise<'created' | 'removed'> {
  try {
    await ensureTemporalSchedule(deps, row);
    return 'created';
  } catch (err) {
    if (!specRefusal(err, row.spec)) throw err;
    await deleteScheduleRow(deps.database.db, row.appId, row.id);
    return 'removed';
  }
}

/**
 * Validates and records a schedule, then creates its Temporal Schedule. A spec Temporal refuses removes the row
 * again and is a 400; the Idempotency-Key works as a push's does.
 */
export async function createSchedule(
  deps: PushDeps,
  app: App,
  input: ScheduleInput,
  opts: { idempotencyKey?: string | undefined } = {},
): Promise<{ schedule: ScheduleRow; created: boolean }> {
  const spec = resolveSpec(input);
  await checkAudience(deps, app.id, input.push.audience, ['push', 'audience']);
  const requestHash = createHash('sha256').update(JSON.stringify(input)).digest('hex');
  const earlier = await sameRequest(deps, app.id, requestHash, opts.idempotencyKey);
  if (earlier) return earlier;
  const id = newId();
  let row: ScheduleRow;
  try {
    row = await deps.database.db.transaction(async (tx) => {
      // The per-app limit, counted under a lock on the app's row so two creates cannot both pass it.
      await tx.execute(sql`select 1 from apps where id = ${app.id} for update`);
      if ((await countSchedules(tx, app.id)) >= MAX_SCHEDULES_PER_APP)
        throw new PushError(
          'schedule_limit_reached',
          'conflict',
          `An app has at most ${MAX_SCHEDULES_PER_APP} schedules; delete one first`,
          { details: { limit: MAX_SCHEDULES_PER_APP } },
        );
      const [inserted] = await tx
        .insert(schedules)
        .values({
          appId: app.id,
          id,
          name: input.name,
          spec,
          template: input.push as PushTemplate,
          temporalScheduleId: temporalScheduleId(app.id, id),
          count: input.count ?? null,
          pausedAtCreation: input.paused,
          idempotencyKey: opts.idempotencyKey,
          requestHash,
        })
        .returning();
      if (!inserted) throw new Error('schedule insert returned nothing');
      return inserted;
    });
  } catch (err) {
    if (opts.idempotencyKey && pgErrorCode(err) === SQLSTATE.uniqueViolation) {
      const winner = await sameRequest(deps, app.id, requestHash, opts.idempotencyKey);
      if (winner) return winner;
    }
    throw err;
  }
  try {
    await ensureTemporalSchedule(deps, row);
    const made = await describeSchedule(deps.temporal, row);
    if (made && made.info.nextActionTimes.length === 0)
      throw new ScheduleSpecError(
        'invalid_schedule',
        'it would never run: no time matches its calendar or cron string between startAt and endAt',
      );
  } catch (err) {
    // Nothing half-written: the row and its Schedule go together.
    await deps.temporal.schedule
      .getHandle(row.temporalScheduleId)
      .delete()
      .catch(() => undefined);
    await deleteScheduleRow(deps.database.db, app.id, id);
    throw specRefusal(err, spec) ?? err;
  }
  return { schedule: row, created: true };
}

async function sameRequest(
  deps: PushDeps,
  appId: string,
  requestHash: string,
  key: string | undefined,
): Promise<{ schedule: ScheduleRow; created: false } | undefined> {
  if (!key) return undefined;
  const { db } = deps.database;
  const existing = await findScheduleByIdempotencyKey(db, appId, key);
  if (!existing) return undefined;
  if (Date.now() - existing.createdAt.getTime() > IDEMPOTENCY_WINDOW_MS) {
    await releaseScheduleIdempotencyKey(db, appId, existing.id);
    return undefined;
  }
  if (existing.requestHash !== requestHash)
    throw new PushError(
      'idempotency_key_reused',
      'conflict',
      'This Idempotency-Key was used for a different schedule in the last 7 days',
    );
  await ensureTemporalSchedule(deps, existing);
  return { schedule: existing, created: false };
}

/** The schedule, or not_found (an id that is not a UUID names none; another app's is not found either). */
export async function getSchedule(deps: PushDeps, appId: string, id: string): Promise<ScheduleRow> {
  const row = z.uuid().safeParse(id).success ? await findSchedule(deps.database.db, appId, id) : undefined;
  if (!row) throw new PushError('not_found', 'not_found', `Schedule ${id} does not exist in this app`);
  return row;
}

/** What Temporal says of a schedule now; undefined when its Schedule does not exist (yet, or any more). */
export async function describeSchedule(
  temporal: Client,
  row: ScheduleRow,
): Promise<ScheduleDescription | undefined> {
  try {
    return await temporal.schedule.getHandle(row.temporalScheduleId).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
}

const missing = (row: ScheduleRow) =>
  new PushError(
    'schedule_not_ready',
    'conflict',
    `Schedule ${row.id} has no Temporal Schedule yet (its creation was interrupted); the reconciler creates it within about two minutes`,
  );

async function onHandle<T>(
  deps: PushDeps,
  row: ScheduleRow,
  fn: (h: ReturnType<Client['schedule']['getHandle']>) => Promise<T>,
): Promise<T> {
  try {
    return await fn(deps.temporal.schedule.getHandle(row.temporalScheduleId));
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw missing(row);
    throw err;
  }
}

export const pauseSchedule = (deps: PushDeps, row: ScheduleRow, note?: string) =>
  onHandle(deps, row, (h) => h.pause(note ?? 'paused through the Herald API'));

export const resumeSchedule = (deps: PushDeps, row: ScheduleRow, note?: string) =>
  onHandle(deps, row, (h) => h.unpause(note ?? 'resumed through the Herald API'));

/** One run now, whatever the calendar says and even when paused; it does not count against `count`. */
export const triggerSchedule = (deps: PushDeps, row: ScheduleRow) =>
  onHandle(deps, row, (h) => h.trigger(ScheduleOverlapPolicy.ALLOW_ALL));

/**
 * Changes name, timing, count or template. The row changes in a transaction that commits only once Temporal
 * took the new spec, so a spec Temporal refuses changes nothing. Pause state is kept.
 */
export async function updateSchedule(deps: PushDeps, row: ScheduleRow, patch: ScheduleUpdate): Promise<void> {
  const timing = ['calendar', 'cron', 'timezone', 'startAt', 'endAt'] as const;
  const retimed = timing.some((k) => patch[k] !== undefined);
  const spec = retimed ? resolveSpec(patch, row.spec) : row.spec;
  if (patch.push) await checkAudience(deps, row.appId, patch.push.audience, ['push', 'audience']);
  await deps.database.db.transaction(async (tx) => {
    const [updated] = await tx
      .update(schedules)
      .set({
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.push ? { template: patch.push as PushTemplate } : {}),
        spec,
        updatedAt: sql`now()`,
      })
      .where(and(eq(schedules.appId, row.appId), eq(schedules.id, row.id)))
      .returning();
    if (!updated)
      throw new PushError('not_found', 'not_found', `Schedule ${row.id} does not exist in this app`);
    if (!retimed && patch.count === undefined) return;
    const options = scheduleOptions(deps, updated);
    try {
      await onHandle(deps, updated, (h) =>
        h.update((previous) => {
          const remaining =
            patch.count === undefined ? previous.state.remainingActions : (patch.count ?? undefined);
          return {
            spec: options.spec,
            action: options.action,
            policies: options.policies ?? {},
            state: {
              paused: previous.state.paused,
              ...(previous.state.note !== undefined ? { note: previous.state.note } : {}),
              ...(remaining !== undefined ? { remainingActions: remaining } : {}),
            },
          };
        }),
      );
    } catch (err) {
      throw specRefusal(err, spec) ?? err;
    }
  });
}

/** Deletes the Temporal Schedule, then the row. Idempotent; pushes its runs made stay, with their scheduleId. */
export async function deleteSchedule(deps: PushDeps, row: ScheduleRow): Promise<void> {
  try {
    await deps.temporal.schedule.getHandle(row.temporalScheduleId).delete();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
  await deleteScheduleRow(deps.database.db, row.appId, row.id);
}
