import {
  complete,
  dropRecipients,
  expire,
  type KeptRecipients,
  markCanceled,
  type PushRef,
  recall,
} from '../pushes/lifecycle.ts';
import type { ActivityDeps } from './deps.ts';

/** The push workflow's state changes: thin wrappers of the transitions in pushes/lifecycle.ts. */
export function lifecycleActivities({ database, bus }: ActivityDeps) {
  const { db } = database;

  return {
    /** Tells every gateway to deliver this push to its connected recipients. */
    async publishToGateways({ appId, pushId, wave }: PushRef & { wave?: number }): Promise<void> {
      await bus.publish({ type: 'push', appId, pushId, ...(wave === undefined ? {} : { wave }) });
    },

    /** Final counters are in place; the push is completed and its copies wait until `expiresAt`. */
    async completePush(ref: PushRef): Promise<{ expiresAt: string }> {
      return complete(db, ref);
    },

    /**
     * Stops the push. Copies already stored keep their retention; the caller waits it out when there are any.
     * With none, `keepRecipientsUntil` says how long the frequency cap still counts the push.
     */
    async markPushCanceled(ref: PushRef): Promise<{ expiresAt: string | null } & KeptRecipients> {
      return markCanceled(db, ref);
    },

    /**
     * Retention is over: copies nobody fetched are counted as expired and the partition is dropped, or kept
     * until `keepRecipientsUntil` while the frequency cap counts the push.
     */
    async expirePush(ref: PushRef): Promise<{ expired: number } & KeptRecipients> {
      return expire(db, ref);
    },

    /** The frequency cap no longer counts the push: its recipient rows go. */
    async dropRecipients(ref: PushRef): Promise<void> {
      await dropRecipients(db, ref);
    },

    /** Withdraws every copy not yet delivered, tells connected clients to remove it, and stops the push. */
    async recallPush(ref: PushRef): Promise<{ withdrawn: number }> {
      const result = await recall(db, ref);
      await bus.publish({ type: 'recall', appId: ref.appId, pushId: ref.pushId });
      return result;
    },
  };
}
