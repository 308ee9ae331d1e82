/**
 * v4/timpush: the successor family's recall of a push, by TaskId (the push id), within 24 hours of its start:
 * undelivered sends stop, stored copies are withdrawn, connected clients are told to remove the message — the
 * native recall.
 */
import { PushError } from '../../pushes/errors.ts';
import { getPush, recallPush } from '../../pushes/service.ts';
import type { Command } from './command.ts';
import { TencentFailure } from './errors.ts';

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

export const timpushCommands = { revoke };
