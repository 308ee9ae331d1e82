/**
 * v4/timpush: the successor family's recall of a push, by TaskId (the push id), within 24 hours of its start:
 * undelivered sends stop, stored copies are withdrawn, connected clients are told to remove the message — the
 * native recall.
 */
import { PushError } from '../../pushes/errors.ts';
import { getPush, recallPush } from '../../pushes/service.ts';
import type { Command } from './command.ts';
import { TencentFailure } from './errors.ts';
import { findPushesByIds, findPushesCreatedBetween, statistics } from './reports.ts';

/** Tencent: at most 5 TaskIDs, and at most 30 days back. */
const MAX_STATISTICS_TASKS = 5;
const MAX_STATISTICS_DAYS = 30;

const revoke: Command = async ({ deps, app, body }) => {
  const taskId = body.TaskId;
  if (typeof taskId !== 'string' || taskId === '')
    throw new TencentFailure('invalid_request', ['TaskId'], 'required, the TaskId im_push answered');
  let push: Awaited<ReturnType<typeof getPush>>;
  try {
    push = await getPush(deps, app.id, taskId);
  } catch (err) {
    if (err instanceof PushError && err.code === 'not_found')
      throw new TencentFailure(
        'not_found',
        ['TaskId'],
        `${JSON.stringify(taskId)} names no push of this app`,
      );
    throw err;
  }
  // Tencent refuses a second recall of one task (90050); the native recall would answer it as a no-op.
  if (push.recalledAt)
    throw new TencentFailure('already_recalled', ['TaskId'], `${taskId} was already recalled`);
  // OfflinePushInfo (a notification replacing the recalled one) is accepted and not used.
  await recallPush(deps, push);
  return {};
};

/**
 * all_member_push_statistics: with TaskID, one result per push of the app (ids that name none are left out);
 * without, the sum over the app's pushes created between StartTime and EndTime (Unix seconds, ≤ 30 days).
 * PlatformStatistics is empty: Herald's per-channel figures are in GET /v1/pushes/{id}/funnel.
 */
const allMemberPushStatistics: Command = async ({ deps, app, body }) => {
  const seconds = (field: 'StartTime' | 'EndTime') => {
    const v = body[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
      throw new TencentFailure('invalid_request', [field], 'required, Unix seconds');
    return v;
  };
  const start = seconds('StartTime');
  const end = seconds('EndTime');
  if (end < start || end - start > MAX_STATISTICS_DAYS * 86_400)
    throw new TencentFailure(
      'invalid_request',
      ['EndTime'],
      `at most ${MAX_STATISTICS_DAYS} days after StartTime`,
    );
  const ids = body.TaskID ?? [];
  if (!Array.isArray(ids) || ids.length > MAX_STATISTICS_TASKS || ids.some((id) => typeof id !== 'string'))
    throw new TencentFailure(
      'invalid_request',
      ['TaskID'],
      `at most ${MAX_STATISTICS_TASKS} TaskIDs (strings)`,
    );
  const { db } = deps.database;
  if (ids.length === 0) {
    const rows = await findPushesCreatedBetween(db, app.id, new Date(start * 1000), new Date(end * 1000));
    return { ...statistics(rows), PlatformStatistics: [] };
  }
  const rows = await findPushesByIds(
    db,
    app.id,
    (ids as string[]).filter((id) => /^[0-9a-f-]{36}$/.test(id)),
  );
  const byId = new Map(rows.map((p) => [p.id, p]));
  return {
    Results: [...new Set(ids as string[])].flatMap((id) => {
      const p = byId.get(id);
      return p ? [{ TaskID: id, ...statistics([p]), PlatformStatistics: [] }] : [];
    }),
  };
};

export const timpushCommands = { revoke, all_member_push_statistics: allMemberPushStatistics };
