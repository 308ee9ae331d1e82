import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { HeraldError } from '../core/errors.ts';
import {
  markFailed,
  type PushRef,
  type SnapshotResult,
  SnapshotStopped,
  snapshot,
} from '../pushes/lifecycle.ts';
import type { ActivityDeps } from './deps.ts';

/** How often a running snapshot heartbeats: heartbeats carry a cancel (and a dead worker's timeout). */
const SNAPSHOT_HEARTBEAT_MS = 1000;

export function audienceActivities({ database, testing }: ActivityDeps) {
  return {
    /**
     * Copies the matching accounts into the push's own recipient partition inside PostgreSQL and counts them
     * (pushes/lifecycle.ts snapshot). Idempotent: a push whose snapshot committed is never snapshotted again.
     * It heartbeats while its statement runs; a cancel (or the worker shutting down) cancels the statement and
     * rolls back. A snapshot that can never succeed (a domain error) fails without retries. Its result (in the
     * workflow's history) says how many recipients it took, how many the frequency cap skipped and, for a push
     * with language variants, how many got each.
     */
    async snapshotAudience(ref: PushRef): Promise<SnapshotResult> {
      const ctx = Context.current();
      ctx.heartbeat();
      const beat = setInterval(() => ctx.heartbeat(), SNAPSHOT_HEARTBEAT_MS);
      try {
        return await snapshot(database.db, ref, {
          signal: ctx.cancellationSignal,
          holdSeconds: testing?.snapshotHoldSeconds,
        });
      } catch (err) {
        if (err instanceof SnapshotStopped) throw new CancelledFailure(err.message);
        if (err instanceof HeraldError) throw ApplicationFailure.nonRetryable(err.message, err.code);
        throw err;
      } finally {
        clearInterval(beat);
      }
    },

    /** The push can never run: it ends failed with the reason, and its quota slot is given back. */
    async markPushFailed({ appId, pushId, reason }: PushRef & { reason: string }): Promise<void> {
      await markFailed(database.db, { appId, pushId }, reason);
    },
  };
}
