import { sql } from 'drizzle-orm';
import { dropRecipientPartition } from '../db/recipients.ts';
import { RecipientState } from '../db/schema.ts';
import type { ActivityDeps } from './deps.ts';

type PushRef = { appId: string; pushId: string };

const STILL_WAITING = [RecipientState.pending];

export function lifecycleActivities({ database, bus }: ActivityDeps) {
  const { db } = database;

  return {
    /** Tells every gateway to deliver this push to its connected recipients. */
    async publishToGateways({ appId, pushId }: PushRef): Promise<void> {
      await bus.publish({ type: 'push', appId, pushId });
    },

    /** Final counters are in place; the push is completed and its copies wait until `expiresAt`. */
    async completePush({ appId, pushId }: PushRef): Promise<{ expiresAt: string }> {
      const rows = await db.execute<{ expires_at: Date }>(sql`
        update pushes set status = case when status = 'running' then 'completed' else status end,
          completed_at = coalesce(completed_at, now())
        where app_id = ${appId} and id = ${pushId}
        returning expires_at`);
      const expiresAt = rows[0]?.expires_at;
      if (!expiresAt) throw new Error(`push ${pushId} has no expiry: was it snapshotted?`);
      return { expiresAt: new Date(expiresAt).toISOString() };
    },

    /** Stops the push. Copies already stored keep their retention; the caller waits it out when there are any. */
    async markPushCanceled({ appId, pushId }: PushRef): Promise<{ expiresAt: string | null }> {
      const rows = await db.execute<{ expires_at: Date | null; retention_seconds: number }>(sql`
        update pushes set status = case when status in ('scheduled', 'running') then 'canceled' else status end,
          canceled_at = coalesce(canceled_at, now())
        where app_id = ${appId} and id = ${pushId}
        returning expires_at, retention_seconds`);
      const row = rows[0];
      if (!row?.expires_at || row.retention_seconds === 0) {
        await dropRecipientPartition(db, pushId);
        return { expiresAt: null };
      }
      return { expiresAt: new Date(row.expires_at).toISOString() };
    },

    /**
     * Retention is over: copies nobody fetched are counted as expired and the push's recipient partition is
     * dropped whole. Idempotent: the count is taken only once.
     */
    async expirePush({ appId, pushId }: PushRef): Promise<{ expired: number }> {
      const result = await db.transaction(async (tx) => {
        const [locked] = await tx.execute<{
          expired_at: Date | null;
          snapshot_at: Date | null;
          retention_seconds: number;
        }>(sql`
          select expired_at, snapshot_at, retention_seconds from pushes where app_id = ${appId} and id = ${pushId} for update`);
        if (!locked || locked.expired_at) return { expired: 0 };
        let expired = 0;
        // With retention 0 nothing was kept, so nothing expires: the partition only held the snapshot.
        if (locked.snapshot_at && locked.retention_seconds > 0) {
          const [c] = await tx.execute<{ n: number }>(sql`
            select count(*)::int as n from push_recipients
            where push_id = ${pushId} and state in ${STILL_WAITING}`);
          expired = c?.n ?? 0;
        }
        await tx.execute(sql`
          update pushes set expired_at = now(), expired = ${expired} where app_id = ${appId} and id = ${pushId}`);
        return { expired };
      });
      // Also on a retry whose first attempt committed the count but died before the drop.
      await dropRecipientPartition(db, pushId);
      return result;
    },

    /** Withdraws every copy not yet delivered, tells connected clients to remove it, and stops the push. */
    async recallPush({ appId, pushId }: PushRef): Promise<{ withdrawn: number }> {
      const result = await db.transaction(async (tx) => {
        const [locked] = await tx.execute<{
          recalled_at: Date | null;
          expired_at: Date | null;
          snapshot_at: Date | null;
          retention_seconds: number;
        }>(sql`
          select recalled_at, expired_at, snapshot_at, retention_seconds from pushes where app_id = ${appId} and id = ${pushId} for update`);
        if (!locked) return { withdrawn: 0 };
        let withdrawn = 0;
        if (!locked.expired_at && locked.snapshot_at && locked.retention_seconds > 0) {
          const [c] = await tx.execute<{ n: number }>(sql`
            select count(*)::int as n from push_recipients
            where push_id = ${pushId} and state in ${STILL_WAITING}`);
          withdrawn = c?.n ?? 0;
        }
        await tx.execute(sql`
          update pushes set recalled_at = coalesce(recalled_at, now()),
            withdrawn = case when recalled_at is null then ${withdrawn} else withdrawn end,
            status = case when status in ('scheduled', 'running') then 'canceled' else status end,
            canceled_at = case when status in ('scheduled', 'running') then now() else canceled_at end
          where app_id = ${appId} and id = ${pushId}`);
        return { withdrawn: locked.recalled_at ? 0 : withdrawn };
      });
      // Once recalled_at is committed no sync or live delivery offers the push, so the rows can go after.
      await dropRecipientPartition(db, pushId);
      await bus.publish({ type: 'recall', appId, pushId });
      return result;
    },
  };
}
