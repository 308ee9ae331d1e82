/**
 * Local-time delivery and send windows: a push whose recipients get it by their own clocks is sent in waves,
 * one per distinct UTC offset of its audience's zones at the moment it reaches them (docs/pushes.md). The plan
 * is made once, when the push starts; each wave then snapshots its own recipients at its time into the push's
 * partition (the first wave creates it, later ones append), and its online fan-out and offline pages run for
 * that wave's rows only.
 */
import { and, eq, sql } from 'drizzle-orm';
import { countPush, countRecipients } from '../core/metrics.ts';
import { traceStatement } from '../core/tracing.ts';
import type { Queryable } from '../db/client.ts';
import {
  appendRecipients,
  connectedNow,
  recipientPartitionExists,
  snapshotRecipients,
} from '../db/recipients.ts';
import { pushes, pushWaves } from '../db/schema.ts';
import { zoneNames } from '../db/timezones.ts';
import { insertWaves, inWaveZones, planWaves, type WaveRow } from '../db/waves.ts';
import { PushError } from './errors.ts';
import { audiencePredicate, type PushRef, type SnapshotOptions, stoppableSnapshot } from './lifecycle.ts';

/** A wave as the workflow sees it: small enough for its history (at most one per offset, about 40). */
export interface WavePlan {
  wave: number;
  /** The UTC offset of the wave's zones at its time, e.g. `+05:30`. */
  offset: string;
  /** ISO time the wave is due. */
  at: string;
  /** Accounts of the audience in its zones when the plan was made. */
  planned: number;
  /** Its zones' local time had passed when the push started, and the push skips such zones. */
  skipped: boolean;
}

const toPlan = (w: WaveRow): WavePlan => ({
  wave: w.wave,
  offset: w.utcOffset,
  at: w.at.toISOString(),
  planned: w.planned,
  skipped: w.status === 'skipped',
});

/**
 * Plans the push's waves, once: every zone's moment and offset, the audience counted per zone, grouped by
 * (moment, offset), in one statement. Idempotent: a plan already stored is returned as it is.
 */
export async function planPushWaves(db: Queryable, { appId, pushId }: PushRef): Promise<WavePlan[]> {
  const names = (await zoneNames(db)).names;
  return traceStatement('plan push waves', () =>
    db.transaction(async (tx) => {
      const [push] = await tx
        .select({
          status: pushes.status,
          audience: pushes.audience,
          audienceSlots: pushes.audienceSlots,
          localDelivery: pushes.localDelivery,
          sendAt: pushes.sendAt,
        })
        .from(pushes)
        .where(and(eq(pushes.appId, appId), eq(pushes.id, pushId)))
        .for('update');
      if (!push) throw new PushError('not_found', 'not_found', `push ${pushId} does not exist`);
      const stored = await tx
        .select()
        .from(pushWaves)
        .where(and(eq(pushWaves.appId, appId), eq(pushWaves.pushId, pushId)))
        .orderBy(pushWaves.wave);
      if (stored.length) return stored.map(toPlan);
      if (!push.localDelivery) throw new Error(`push ${pushId} has no local delivery to plan`);
      const [now] = await tx.execute<{ now: Date | string }>(sql`select now() as now`);
      const start = new Date(now?.now ?? Date.now());
      const planned = await planWaves(tx, {
        appId,
        names,
        delivery: push.localDelivery,
        base: push.sendAt ?? start,
        start,
        audience: await audiencePredicate(tx, appId, push),
      });
      return (await insertWaves(tx, appId, pushId, planned)).map(toPlan);
    }),
  );
}

/**
 * One wave's snapshot: the audience's accounts in the wave's zones now, appended to the push (the first wave
 * creates the partition), counted in the wave and in the push's totals in the same transaction. Idempotent per
 * wave. The first wave moves the push to running; every wave moves its expiry to retention after it.
 */
export async function snapshotWave(
  db: Queryable,
  { appId, pushId }: PushRef,
  wave: number,
  opts: SnapshotOptions = {},
): Promise<{ audience: number }> {
  const result = await traceStatement('snapshot push wave', () =>
    stoppableSnapshot(db, opts, async (tx, checkpoint) => {
      const [push] = await tx
        .select({
          status: pushes.status,
          audience: pushes.audience,
          audienceSlots: pushes.audienceSlots,
          localDelivery: pushes.localDelivery,
          snapshotAt: pushes.snapshotAt,
          retentionSeconds: pushes.retentionSeconds,
        })
        .from(pushes)
        // Not locked: the wave's row is (below), and the push row only for the counters at the end, so the
        // pages of earlier waves, which add to the same push row, do not wait for this insert.
        .where(and(eq(pushes.appId, appId), eq(pushes.id, pushId)));
      if (!push?.localDelivery) throw new PushError('not_found', 'not_found', `push ${pushId} has no waves`);
      const [w] = await tx
        .select()
        .from(pushWaves)
        .where(and(eq(pushWaves.pushId, pushId), eq(pushWaves.wave, wave)))
        .for('update');
      if (!w) throw new PushError('not_found', 'not_found', `push ${pushId} has no wave ${wave}`);
      if (w.snapshotAt) return { audience: w.audience };
      if (push.status !== 'scheduled' && push.status !== 'running')
        throw new PushError('push_ended', 'conflict', `the push is already ${push.status}`);
      if (opts.holdSeconds) await tx.execute(sql`select pg_sleep(${opts.holdSeconds})`);
      checkpoint();
      const recipients = sql`select a.seq, a.account_id from accounts a
        where a.app_id = ${appId} and ${inWaveZones(w.zones, push.localDelivery.timezone)}
          and ${await audiencePredicate(tx, appId, push)}`;
      const audience = (await recipientPartitionExists(tx, pushId))
        ? await appendRecipients(tx, pushId, wave, recipients)
        : await snapshotRecipients(tx, pushId, recipients, wave);
      checkpoint();
      const [stored] = push.retentionSeconds
        ? await tx.execute<{ n: number }>(sql`
            select count(*)::int as n from push_recipients r
            where r.push_id = ${pushId} and r.wave = ${wave} and not ${connectedNow(appId, sql`r.account_id`)}`)
        : [{ n: 0 }];
      const n = stored?.n ?? 0;
      await tx.execute(sql`
        update pushes set snapshot_at = coalesce(snapshot_at, clock_timestamp()), status = 'running',
          audience_count = audience_count + ${audience}, stored_offline = stored_offline + ${n},
          started_at = coalesce(started_at, now()),
          expires_at = clock_timestamp() + make_interval(secs => retention_seconds)
        where app_id = ${appId} and id = ${pushId}`);
      await tx.execute(sql`
        update push_waves set status = 'sent', snapshot_at = clock_timestamp(), audience = ${audience},
          stored_offline = ${n}
        where push_id = ${pushId} and wave = ${wave}`);
      return { audience, stored: n, first: push.snapshotAt === null };
    }),
  );
  if ('stored' in result && result.stored !== undefined) {
    if (result.first) countPush('running', appId);
    countRecipients('snapshotted', appId, result.audience);
    countRecipients('stored', appId, result.stored);
  }
  return { audience: result.audience };
}
