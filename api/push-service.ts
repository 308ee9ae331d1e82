import { createHash } from 'node:crypto';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/client';
import { z } from 'zod';
import { newId } from '../core/ids.ts';
import { messageSchema, offlineOptionsSchema } from '../core/messages.ts';
import { resolveCondition } from '../db/accounts.ts';
import type { App } from '../db/apps.ts';
import type { Queryable } from '../db/client.ts';
import type { Condition } from '../db/conditions.ts';
import {
  findPush,
  findPushByIdempotencyKey,
  markPushFailed,
  type PushRow,
  pushWorkflowId,
  releaseIdempotencyKey,
} from '../db/pushes.ts';
import { type QuotaRefusal, reservePushSlots } from '../db/quota.ts';
import { pushes } from '../db/schema.ts';
import {
  cancelPushUpdate,
  type PushWorkflowInput,
  pushWorkflow,
  recallPushUpdate,
} from '../workflows/push.ts';
import { domain } from './accounts.ts';
import type { ApiDeps } from './context.ts';
import { ApiError } from './errors.ts';

export const MAX_RETENTION_SECONDS = 604_800;
const IDEMPOTENCY_WINDOW_MS = 7 * 24 * 3600 * 1000;
const MAX_SEND_AHEAD_MS = 366 * 24 * 3600 * 1000;

export const pushInputSchema = z.strictObject({
  audience: z.union([z.literal('all'), z.record(z.string(), z.unknown())]).default('all'),
  message: messageSchema,
  offline: offlineOptionsSchema.default({ push: true }),
  retentionSeconds: z
    .number()
    .int()
    .min(0)
    .max(MAX_RETENTION_SECONDS, 'retention is at most 604800 seconds (7 days)')
    .default(0),
  sendAt: z.iso
    .datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2026-12-01T09:00:00Z' })
    .optional(),
});
export type PushInput = z.infer<typeof pushInputSchema>;

/** A scheduled time must be ahead of now and within a year. */
export function checkFutureTime(iso: string, field: string): void {
  const ahead = Date.parse(iso) - Date.now();
  if (ahead <= 0) throw new ApiError(400, 'time_in_past', `${field} must be in the future`);
  if (ahead > MAX_SEND_AHEAD_MS) throw new ApiError(400, 'time_too_far', `${field} must be within one year`);
}

/** Checks a condition and that every attribute it names exists, as a 400 the caller can act on. */
export async function checkAudience(
  deps: ApiDeps,
  appId: string,
  audience: unknown,
): Promise<Condition | null> {
  return domain(() => resolveCondition(deps.database.db, appId, audience), { conditionField: 'audience' });
}

export interface CreatePushOptions {
  idempotencyKey?: string | undefined;
  source?: 'v1' | 'v4' | 'campaign';
  campaign?: { id: string; step: number } | undefined;
}

/** The row of a new push; its id is time-ordered and its workflow id derived from it. */
export function newPushRow(
  appId: string,
  input: PushInput,
  condition: Condition | null,
  requestHash: string | null,
  opts: CreatePushOptions,
): typeof pushes.$inferInsert {
  const id = newId();
  return {
    appId,
    id,
    campaignId: opts.campaign?.id,
    campaignStep: opts.campaign?.step,
    audience: condition,
    message: input.message,
    offline: input.offline,
    fromAccount: input.message.from,
    retentionSeconds: input.retentionSeconds,
    sendAt: input.sendAt ? new Date(input.sendAt) : undefined,
    idempotencyKey: opts.idempotencyKey,
    requestHash,
    source: opts.source ?? 'v1',
    workflowId: pushWorkflowId(appId, id),
  };
}

/** Takes pushes from the daily quota inside the caller's transaction, or refuses with a 429 that says when. */
export async function takeQuota(tx: Queryable, appId: string, count: number): Promise<void> {
  const refusal: QuotaRefusal | undefined = await reservePushSlots(tx, appId, count);
  if (!refusal) return;
  const message =
    refusal.reason === 'too_frequent'
      ? `Pushes must be at least ${refusal.limit} ms apart; retry in ${refusal.retryAfterSeconds} s`
      : `The daily quota of ${refusal.limit} pushes is used up; it resets at 00:00 UTC`;
  throw new ApiError(
    429,
    refusal.reason,
    message,
    { retryAfterSeconds: refusal.retryAfterSeconds },
    {
      'retry-after': String(refusal.retryAfterSeconds),
    },
  );
}

/**
 * Validates, records and starts a push. The idempotency key makes a retry the same push: the same body
 * returns it (created = false), another body is a 409. The workflow is started with USE_EXISTING, so a
 * retry after a crash between the insert and the start simply starts it.
 */
export async function createPush(
  deps: ApiDeps,
  app: App,
  input: PushInput,
  opts: CreatePushOptions = {},
): Promise<{ push: PushRow; created: boolean }> {
  const { db } = deps.database;
  const condition = await checkAudience(deps, app.id, input.audience);
  if (input.sendAt) checkFutureTime(input.sendAt, 'sendAt');
  const requestHash = createHash('sha256').update(JSON.stringify(input)).digest('hex');

  if (opts.idempotencyKey) {
    const existing = await findPushByIdempotencyKey(db, app.id, opts.idempotencyKey);
    if (existing && Date.now() - existing.createdAt.getTime() > IDEMPOTENCY_WINDOW_MS) {
      await releaseIdempotencyKey(db, app.id, existing.id);
    } else if (existing) {
      if (existing.requestHash !== requestHash) {
        throw new ApiError(
          409,
          'idempotency_key_reused',
          'This Idempotency-Key was used for a different push in the last 7 days',
        );
      }
      await startPushWorkflow(deps, existing);
      return { push: existing, created: false };
    }
  }

  let row: PushRow;
  try {
    row = await db.transaction(async (tx) => {
      await takeQuota(tx, app.id, 1);
      const [inserted] = await tx
        .insert(pushes)
        .values(newPushRow(app.id, input, condition, requestHash, opts))
        .returning();
      if (!inserted) throw new Error('push insert returned nothing');
      return inserted;
    });
  } catch (err) {
    // Two requests with one new key raced: the loser returns the winner's push.
    if (opts.idempotencyKey && (err as { code?: string }).code === '23505') {
      return createPush(deps, app, input, opts);
    }
    throw err;
  }
  await startPushWorkflow(deps, row);
  return { push: row, created: true };
}

export async function startPushWorkflow(deps: ApiDeps, push: PushRow): Promise<void> {
  const args: PushWorkflowInput = {
    appId: push.appId,
    pushId: push.id,
    sendAt: push.sendAt?.toISOString(),
    retentionSeconds: push.retentionSeconds,
  };
  try {
    await deps.temporal.workflow.start(pushWorkflow, {
      workflowId: push.workflowId,
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      args: [args],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      // A finished push is never run twice, whatever retries arrive later.
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      memo: { app: push.appId, push: push.id, campaign: push.campaignId ?? '' },
    });
  } catch (err) {
    if ((err as Error).name === 'WorkflowExecutionAlreadyStartedError') return;
    await markPushFailed(
      deps.database.db,
      push.appId,
      push.id,
      `could not start workflow: ${(err as Error).message}`,
    );
    throw err;
  }
}

export async function getPushOr404(deps: ApiDeps, appId: string, pushId: string): Promise<PushRow> {
  const push = z.uuid().safeParse(pushId).success
    ? await findPush(deps.database.db, appId, pushId)
    : undefined;
  if (!push) throw new ApiError(404, 'not_found', `Push ${pushId} does not exist in this app`);
  return push;
}

const RECALL_WINDOW_MS = 24 * 3600 * 1000;

/**
 * Sends the cancel or recall update to the push's workflow. Both are idempotent: a push that already ended
 * answers with its current state. The workflow's history records each request.
 */
async function stopPush(deps: ApiDeps, push: PushRow, how: 'cancel' | 'recall'): Promise<void> {
  const handle = deps.temporal.workflow.getHandle(push.workflowId);
  try {
    await handle.executeUpdate(how === 'cancel' ? cancelPushUpdate : recallPushUpdate);
  } catch (err) {
    // A workflow that already finished has nothing left to stop.
    if (isClosedWorkflowError(err)) return;
    throw err;
  }
}

/** The error an update gets when its workflow has already closed. */
export function isClosedWorkflowError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return (
    err.name === 'WorkflowNotFoundError' ||
    /already completed|workflow execution.*(closed|completed)/i.test(err.message)
  );
}

export async function cancelPush(deps: ApiDeps, push: PushRow): Promise<void> {
  if (push.status === 'scheduled' || push.status === 'running') await stopPush(deps, push, 'cancel');
}

export async function recallPush(deps: ApiDeps, push: PushRow): Promise<void> {
  if (push.recalledAt) return;
  const since = Date.now() - (push.startedAt ?? push.createdAt).getTime();
  if (push.startedAt && since > RECALL_WINDOW_MS) {
    throw new ApiError(
      409,
      'recall_window_passed',
      'A push can be recalled only within 24 hours of its start',
    );
  }
  await stopPush(deps, push, 'recall');
}
