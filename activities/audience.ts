import { and, eq, sql } from 'drizzle-orm';
import { eligibleAccount } from '../db/accounts.ts';
import { attributeSlots } from '../db/attribute-slots.ts';
import { type Condition, compileCondition } from '../db/conditions.ts';
import { connectedNow, snapshotRecipients } from '../db/recipients.ts';
import { pushes } from '../db/schema.ts';
import type { ActivityDeps } from './deps.ts';

export function audienceActivities({ database }: ActivityDeps) {
  return {
    /**
     * Copies the matching accounts into the push's own recipient partition in one INSERT … SELECT inside
     * PostgreSQL (never through Node), and counts them. Idempotent: a push whose snapshot committed is never snapshotted again.
     */
    async snapshotAudience({
      appId,
      pushId,
    }: {
      appId: string;
      pushId: string;
    }): Promise<{ audience: number }> {
      return database.db.transaction(async (tx) => {
        const [push] = await tx
          .select({
            audience: pushes.audience,
            snapshotAt: pushes.snapshotAt,
            count: pushes.audienceCount,
            retentionSeconds: pushes.retentionSeconds,
          })
          .from(pushes)
          .where(and(eq(pushes.appId, appId), eq(pushes.id, pushId)))
          .for('update');
        if (!push) throw new Error(`push ${pushId} not found`);
        if (push.snapshotAt) return { audience: push.count };
        const slots = await attributeSlots(tx, appId);
        const predicate = compileCondition(push.audience as Condition | null, (n) => slots.get(n), 'a');
        const audience = await snapshotRecipients(
          tx,
          pushId,
          sql`select a.seq, a.account_id from accounts a
              where a.app_id = ${appId} and ${eligibleAccount('a')} and ${predicate}`,
        );
        // The stored copies are the recipients not connected to a live gateway now: they exist from this
        // commit on, whatever the provider notifications that follow do.
        const [stored] = push.retentionSeconds
          ? await tx.execute<{ n: number }>(sql`
              select count(*)::int as n from push_recipients r
              where r.push_id = ${pushId} and not ${connectedNow(appId, sql`r.account_id`)}`)
          : [{ n: 0 }];
        // started_at is when the snapshot began (the transaction's now()), snapshot_at when it ended.
        await tx.execute(sql`
          update pushes set snapshot_at = clock_timestamp(), audience_count = ${audience}, status = 'running',
            stored_offline = ${stored?.n ?? 0},
            started_at = coalesce(started_at, now()),
            expires_at = clock_timestamp() + make_interval(secs => retention_seconds)
          where app_id = ${appId} and id = ${pushId}`);
        return { audience };
      });
    },
  };
}
