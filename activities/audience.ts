import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { HeraldError } from '../core/errors.ts';
import {
  markFailed,
  type PushRef,
  type SnapshotResult,
  SnapshotStopped,
  snapshot,
} from '../pushes/lifecycle.ts';
import { planPushWaves, snapshotWave, type WavePlan } from '../pushes/waves.ts';
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

    /** A local-time or windowed push's waves, planned once (pushes/waves.ts); a retry returns the same plan. */
    async planWaves(ref: PushRef): Promise<WavePlan[]> {
      try {
        return await planPushWaves(database.db, ref);
      } catch (err) {
        if (err instanceof HeraldError) throw ApplicationFailure.nonRetryable(err.message, err.code);
        throw err;
      }
    },

    /**
     * One wave's snapshot: as snapshotAudience, for the recipients of the wave's zones (pushes/waves.ts); its
     * result counts the wave's recipients, those the cap skipped in it and, with variants, the wave's languages.
     */
    async snapshotWave({ wave, ...ref }: PushRef & { wave: number }): Promise<SnapshotResult> {
      const ctx = Context.current();
      ctx.heartbeat();
      const beat = setInterval(() => ctx.heartbeat(), SNAPSHOT_HEARTBEAT_MS);
      try {
        return await snapshotWave(database.db, ref, wave, {
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
