/**
 * The push service: validate, record and start a push; read it; cancel or recall it. It speaks domain errors
 * (pushes/errors.ts, core/errors.ts), never HTTP: the REST routes and the v4 layer map them.
 */
import { createHash } from 'node:crypto';
// The OpenAPI-aware zod: the API names these schemas (.openapi), whichever module loads them first.
import { z } from '@hono/zod-openapi';
import type { FieldPath } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { messageSchema } from '../core/messages.ts';
import { countPush } from '../core/metrics.ts';
import { traceStatement } from '../core/tracing.ts';
import { resolveCondition } from '../db/accounts.ts';
import type { App } from '../db/apps.ts';
import { lockedSlotsOf } from '../db/attributes.ts';
import type { Queryable } from '../db/client.ts';
import {
  type Condition,
  ConditionError,
  compileCondition,
  conditionAttributeNames,
} from '../db/conditions.ts';
import { pgErrorCode, SQLSTATE } from '../db/errors.ts';
import {
  findPush,
  findPushByIdempotencyKey,
  type PushRow,
  pushWorkflowId,
  releaseIdempotencyKey,
} from '../db/pushes.ts';
import { reservePushSlots } from '../db/quota.ts';
import { type LocalDelivery, pushes } from '../db/schema.ts';
import { offlineOptionsSchema } from '../delivery/offline-options.ts';
import { cancelPushUpdate, recallPushUpdate } from '../workflows/push.ts';
import type { PushDeps } from './deps.ts';
import { PushError, TimeError } from './errors.ts';
import {
  checkLocalTime,
  localDeliveryFields,
  localTimeSchema,
  resolveLocalDelivery,
} from './local-delivery.ts';
import { localizedSchema, variants } from './localized.ts';
import { isClosedWorkflowError } from './temporal.ts';
import { throttleSchema } from './throttle.ts';
import { emitPushEvent } from './webhook-events.ts';

export const MAX_RETENTION_SECONDS = 604_800;
const IDEMPOTENCY_WINDOW_MS = 7 * 24 * 3600 * 1000;
const MAX_SEND_AHEAD_MS = 366 * 24 * 3600 * 1000;
const RECALL_WINDOW_MS = 24 * 3600 * 1000;

export const pushInputSchema = z.strictObject({
  audience: z.union([z.literal('all'), z.record(z.string(), z.unknown())]).default('all'),
  message: messageSchema,
  offline: offlineOptionsSchema.default({ push: true }),
  /** Language variants of `message` / `offline`, which stay the default (pushes/localized.ts). */
  localized: localizedSchema,
  /** Counts against the app's frequency cap, and skips accounts over it. */
  capped: z.boolean().default(true),
  retentionSeconds: z
    .number()
    .int()
    .min(0)
    .max(MAX_RETENTION_SECONDS, 'retention is at most 604800 seconds (7 days)')
    .default(0),
  sendAt: z
    .union([
      z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2026-12-01T09:00:00Z' }),
      localTimeSchema,
    ])
    .optional(),
  ...localDeliveryFields,
  /** Recipients notified per minute at most; absent = the app's default; null = not throttled. */
  throttlePerMinute: throttleSchema.nullable().optional(),
});
export type PushInput = z.infer<typeof pushInputSchema>;

/** A scheduled time (at request field `at`) must be ahead of now and within a year. */
export function checkFutureTime(iso: string, at: FieldPath): void {
  const ahead = Date.parse(iso) - Date.now();
  if (ahead <= 0) throw new TimeError('time_in_past', at, 'must be in the future');
  if (ahead > MAX_SEND_AHEAD_MS) throw new TimeError('time_too_far', at, 'must be within one year');
}

/** Checks a condition and that every attribute it names exists; a refusal names the field (`at`) it came from. */
export async function checkAudience(
  deps: PushDeps,
  appId: string,
  audience: unknown,
  at: FieldPath = ['audience'],
): Promise<Condition | null> {
  return resolveCondition(deps.database.db, appId, audience, at);
}

export interface CreatePushOptions {
  idempotencyKey?: string | undefined;
  source?: 'v1' | 'v4' | 'campaign' | 'schedule';
  campaign?: { id: string; step: number } | undefined;
  /** The schedule whose run this push is. */
  scheduleId?: string | undefined;
  /** The app's default throttle, for an input that names none (createPush fills it in from the app). */
  defaultThrottlePerMinute?: number | null | undefined;
}

/**
 * The slots of the attributes a condition names, resolved inside the transaction that stores the push (under
 * the lock attribute removals take), or unknown_attribute at `at` for a name removed since it was checked.
 */
export async function resolveAudienceSlots(
  tx: Queryable,
  appId: string,
  condition: Condition | null,
  at: FieldPath = ['audience'],
): Promise<Record<string, number> | null> {
  const names = conditionAttributeNames(condition);
  if (names.length === 0) return null;
  const slots = await lockedSlotsOf(tx, appId, names);
  try {
    compileCondition(condition, (n) => slots[n]);
  } catch (err) {
    throw err instanceof ConditionError ? err.at(at) : err;
  }
  return slots;
}

/** The row of a new push; its id is time-ordered and its workflow id derived from it. */
export function newPushRow(
  appId: string,
  input: Omit<PushInput, 'localized' | 'capped' | 'throttlePerMinute'> &
    Partial<Pick<PushInput, 'localized' | 'capped'>> & { throttlePerMinute?: number | null | undefined },
  condition: Condition | null,
  requestHash: string | null,
  opts: CreatePushOptions,
  audienceSlots: Record<string, number> | null = null,
  localDelivery: LocalDelivery | null = null,
): typeof pushes.$inferInsert {
  const id = newId();
  return {
    appId,
    id,
    campaignId: opts.campaign?.id,
    campaignStep: opts.campaign?.step,
    scheduleId: opts.scheduleId,
    audience: condition,
    audienceSlots,
    message: input.message,
    offline: input.offline,
    localized: variants(input.localized),
    capped: input.capped ?? true,
    fromAccount: input.message.from,
    retentionSeconds: input.retentionSeconds,
    sendAt: typeof input.sendAt === 'string' ? new Date(input.sendAt) : undefined,
    localDelivery,
    idempotencyKey: opts.idempotencyKey,
    requestHash,
    source: opts.source ?? 'v1',
    workflowId: pushWorkflowId(appId, id),
    throttlePerMinute:
      input.throttlePerMinute === undefined
        ? (opts.defaultThrottlePerMinute ?? null)
        : input.throttlePerMinute,
  };
}

/** Takes pushes from the daily quota inside the caller's transaction, or refuses (too_many) saying when. */
export async function takeQuota(tx: Queryable, appId: string, count: number): Promise<void> {
  const refusal = await reservePushSlots(tx, appId, count);
  if (!refusal) return;
  const { reason, limit, retryAfterSeconds } = refusal;
  const problem =
    reason === 'too_frequent'
      ? `Pushes must be at least ${limit} ms apart; retry in ${retryAfterSeconds} s`
      : `The daily quota of ${limit} pushes is used up; it resets at 00:00 UTC`;
  throw new PushError(reason, 'too_many', problem, { details: { limit, retryAfterSeconds } });
}

/**
 * Validates, records and starts a push. The idempotency key makes a retry the same push: the same body
 * returns it (created = false), another body is refused (idempotency_key_reused). The workflow is started with
 * USE_EXISTING, so a retry after a crash between the insert and the start simply starts it.
 */
export async function createPush(
  deps: PushDeps,
  app: App,
  input: PushInput,
  opts: CreatePushOptions = {},
): Promise<{ push: PushRow; created: boolean }> {
  const condition = await checkAudience(deps, app.id, input.audience);
  if (typeof input.sendAt === 'string') checkFutureTime(input.sendAt, ['sendAt']);
  const localTime = typeof input.sendAt === 'object' ? input.sendAt.localTime : undefined;
  if (localTime !== undefined) checkLocalTime(localTime, ['sendAt', 'localTime']);
  // The Tencent layer has no such thing: its pushes go out at once whatever the app's default window.
  const defaults = opts.source === 'v4' ? { ...app, defaultWindow: null } : app;
  const localDelivery = resolveLocalDelivery(defaults, { ...input, localTime });
  const requestHash = createHash('sha256').update(JSON.stringify(input)).digest('hex');
  const earlier = await sameRequest(deps, app.id, requestHash, opts.idempotencyKey);
  if (earlier) return earlier;
  const rowOpts = { defaultThrottlePerMinute: app.defaultThrottlePerMinute, ...opts };

  let row: PushRow;
  try {
    row = await traceStatement('insert push', () =>
      deps.database.db.transaction(async (tx) => {
        await takeQuota(tx, app.id, 1);
        const slots = await resolveAudienceSlots(tx, app.id, condition);
        const [inserted] = await tx
          .insert(pushes)
          .values(newPushRow(app.id, input, condition, requestHash, rowOpts, slots, localDelivery))
          .returning();
        if (!inserted) throw new Error('push insert returned nothing');
        await emitPushEvent(tx, app.id, inserted.id, 'push.created');
        return inserted;
      }),
    );
  } catch (err) {
    // Two requests with one new key raced: the loser answers with the winner's push. It waited for the
    // winner's quota lock, so it fails on the key or, with a minimum interval, on the interval.
    const raced =
      pgErrorCode(err) === SQLSTATE.uniqueViolation || (err instanceof PushError && err.kind === 'too_many');
    if (opts.idempotencyKey && raced) {
      const winner = await sameRequest(deps, app.id, requestHash, opts.idempotencyKey);
      if (winner) return winner;
    }
    throw err;
  }
  countPush('scheduled', app.id);
  await startPushWorkflow(deps, row);
  return { push: row, created: true };
}

/** The push an earlier request with this key made (started, in case it was not), or undefined. */
async function sameRequest(
  deps: PushDeps,
  appId: string,
  requestHash: string,
  key: string | undefined,
): Promise<{ push: PushRow; created: false } | undefined> {
  if (!key) return undefined;
  const { db } = deps.database;
  const existing = await findPushByIdempotencyKey(db, appId, key);
  if (!existing) return undefined;
  if (Date.now() - existing.createdAt.getTime() > IDEMPOTENCY_WINDOW_MS) {
    await releaseIdempotencyKey(db, appId, existing.id);
    return undefined;
  }
  if (existing.requestHash !== requestHash) {
    throw new PushError(
      'idempotency_key_reused',
      'conflict',
      'This Idempotency-Key was used for a different push in the last 7 days',
    );
  }
  await startPushWorkflow(deps, existing);
  return { push: existing, created: false };
}

import { startPushWorkflow } from './start.ts';

export { startPushWorkflow };

/** The push, or not_found (an id that is not a UUID names no push either). */
export async function getPush(deps: PushDeps, appId: string, pushId: string): Promise<PushRow> {
  const push = z.uuid().safeParse(pushId).success
    ? await findPush(deps.database.db, appId, pushId)
    : undefined;
  if (!push) throw new PushError('not_found', 'not_found', `Push ${pushId} does not exist in this app`);
  return push;
}

/**
 * Sends the cancel or recall update to the push's workflow. Both are idempotent: a push that already ended
 * answers with its current state. The workflow's history records each request.
 */
async function stopPush(deps: PushDeps, push: PushRow, how: 'cancel' | 'recall'): Promise<void> {
  const handle = deps.temporal.workflow.getHandle(push.workflowId);
  try {
    await handle.executeUpdate(how === 'cancel' ? cancelPushUpdate : recallPushUpdate);
  } catch (err) {
    // A workflow that already finished has nothing left to stop.
    if (isClosedWorkflowError(err)) return;
    throw err;
  }
}

export async function cancelPush(deps: PushDeps, push: PushRow): Promise<void> {
  if (push.status === 'scheduled' || push.status === 'running') await stopPush(deps, push, 'cancel');
}

export async function recallPush(deps: PushDeps, push: PushRow): Promise<void> {
  if (push.recalledAt) return;
  const since = Date.now() - (push.startedAt ?? push.createdAt).getTime();
  if (push.startedAt && since > RECALL_WINDOW_MS) {
    throw new PushError(
      'recall_window_passed',
      'conflict',
      'A push can be recalled only within 24 hours of its start',
    );
  }
  await stopPush(deps, push, 'recall');
}
