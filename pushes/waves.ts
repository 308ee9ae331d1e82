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
import { capUntil } from '../db/frequency-cap.ts';
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
import {
  audiencePredicate,
  type PushRef,
  recipientSource,
  type SnapshotOptions,
  type SnapshotResult,
  stoppableSnapshot,
} from './lifecycle.ts';
import { languageCounts } from './localized.ts';
import { emitPushEvent } from './webhook-events.ts';

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
 * One wave's snapshot: the audience's accounts in the wave's zones now, each with its language variant, less
 * those at the app's frequency cap (a capped push), appended to the push (the first wave creates the partition),
 * counted in the wave and in the push's totals (audience, capped, languages) in the same transaction. The cap is
 * counted at each wave's time, from the other pushes only: an account is in the push's partition once, whichever
 * wave took it, so the push counts once per recipient; each wave moves its `cap_until` to the window's end from
 * then. Idempotent per wave. The first wave moves the push to running; every wave moves its expiry to retention
 * after it.
 */
export async function snapshotWave(
  db: Queryable,
  { appId, pushId }: PushRef,
  wave: number,
  opts: SnapshotOptions = {},
): Promise<SnapshotResult> {
  const result = await traceStatement('snapshot push wave', () =>
    stoppableSnapshot(
      db,
      opts,
      async (tx, checkpoint): Promise<SnapshotResult & { stored?: number; first?: boolean }> => {
        const [push] = await tx
          .select({
            status: pushes.status,
            audience: pushes.audience,
            audienceSlots: pushes.audienceSlots,
            localDelivery: pushes.localDelivery,
            snapshotAt: pushes.snapshotAt,
            retentionSeconds: pushes.retentionSeconds,
            localized: pushes.localized,
            capped: pushes.capped,
          })
          .from(pushes)
          // Not locked: the wave's row is (below), and the push row only for the counters at the end, so the
          // pages of earlier waves, which add to the same push row, do not wait for this insert.
          .where(and(eq(pushes.appId, appId), eq(pushes.id, pushId)));
        if (!push?.localDelivery)
          throw new PushError('not_found', 'not_found', `push ${pushId} has no waves`);
        const [w] = await tx
          .select()
          .from(pushWaves)
          .where(and(eq(pushWaves.pushId, pushId), eq(pushWaves.wave, wave)))
          .for('update');
        if (!w) throw new PushError('not_found', 'not_found', `push ${pushId} has no wave ${wave}`);
        if (w.snapshotAt) return { audience: w.audience, capped: 0 };
        if (push.status !== 'scheduled' && push.status !== 'running')
          throw new PushError('push_ended', 'conflict', `the push is already ${push.status}`);
        if (opts.holdSeconds) await tx.execute(sql`select pg_sleep(${opts.holdSeconds})`);
        checkpoint();
        const { source, cap } = await recipientSource(
          tx,
          appId,
          push,
          sql`a.app_id = ${appId} and ${inWaveZones(w.zones, push.localDelivery.timezone)}
            and ${await audiencePredicate(tx, appId, push)}`,
          pushId,
        );
        checkpoint();
        // The wave's rows are numbered after the earlier waves' (the first wave's from 1).
        const {
          inserted: audience,
          skipped,
          after,
        } = (await recipientPartitionExists(tx, pushId))
          ? await appendRecipients(tx, pushId, wave, source)
          : { ...(await snapshotRecipients(tx, pushId, source, wave)), after: 0 };
        checkpoint();
        // Stored copies and the wave's recipients per variant, in one scan of the wave's rows.
        const offline =
          push.retentionSeconds > 0 ? sql`not ${connectedNow(appId, sql`r.account_id`)}` : sql`false`;
        const perVariant =
          push.retentionSeconds > 0 || push.localized
            ? await tx.execute<{ variant: number; n: number; stored: number }>(sql`
                select r.variant, count(*)::int as n, count(*) filter (where ${offline})::int as stored
                from push_recipients r where r.push_id = ${pushId} and r.wave = ${wave} group by r.variant`)
            : [];
        const n = perVariant.reduce((sum, r) => sum + r.stored, 0);
        const languages = push.localized ? languageCounts(push.localized, perVariant) : undefined;
        // The push's language counts are the sums of its waves'.
        const addLanguages = languages
          ? sql`(select jsonb_object_agg(k, total) from (
                select k, sum(v::int) as total from (
                  select key as k, value as v from jsonb_each_text(coalesce(language_counts, '{}'::jsonb))
                  union all select key, value from jsonb_each_text(${JSON.stringify(languages)}::jsonb)) x
                group by k) y)`
          : sql`language_counts`;
        await tx.execute(sql`
          update pushes set snapshot_at = coalesce(snapshot_at, clock_timestamp()), status = 'running',
            audience_count = audience_count + ${audience}, stored_offline = stored_offline + ${n},
            over_cap = over_cap + ${skipped}, language_counts = ${addLanguages},
            cap_until = ${cap ? sql`greatest(cap_until, ${capUntil(cap)})` : sql`cap_until`},
            started_at = coalesce(started_at, now()),
            expires_at = clock_timestamp() + make_interval(secs => retention_seconds)
          where app_id = ${appId} and id = ${pushId}`);
        await tx.execute(sql`
          update push_waves set status = 'sent', snapshot_at = clock_timestamp(), audience = ${audience},
            stored_offline = ${n}, first_row = ${after + 1}, last_row = ${after + audience}
          where push_id = ${pushId} and wave = ${wave}`);
        // The first wave is the push's start.
        if (push.snapshotAt === null) await emitPushEvent(tx, appId, pushId, 'push.started');
        return { audience, capped: skipped, languages, stored: n, first: push.snapshotAt === null };
      },
    ),
  );
  const { stored, first, ...counts } = result;
  if (stored !== undefined) {
    if (first) countPush('running', appId);
    countRecipients('snapshotted', appId, counts.audience);
    countRecipients('capped', appId, counts.capped);
    countRecipients('stored', appId, stored);
  }
  return counts;
}
