/**
 * The wave plan of a local-time or windowed push, computed by PostgreSQL: for every zone name it knows, the
 * moment the push reaches that zone and the zone's UTC offset at that moment; then, in the same statement, the
 * audience counted per zone and the zones grouped by (moment, offset). Accounts are never loaded.
 */
import { and, eq, inArray, type SQL, sql } from 'drizzle-orm';
import type { Queryable } from './client.ts';
import { type LocalDelivery, pushWaves, type WaveStatus } from './schema.ts';

export type WaveRow = typeof pushWaves.$inferSelect;

export interface PlannedWave {
  at: Date;
  offsetMinutes: number;
  skipped: boolean;
  zones: string[];
  planned: number;
}

/** `+05:30`, `-03:00`, `+00:00`. */
export function formatOffset(minutes: number): string {
  const abs = Math.abs(minutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${minutes < 0 ? '-' : '+'}${hh}:${mm}`;
}

/**
 * Per zone (`name`): `past` (the local time has gone by at `start`), `at` (when the push reaches it) and `off`
 * (its UTC offset in minutes at `at`). The rules (docs/pushes.md, "Local time and send windows"):
 * - with a local time, the moment is that wall-clock time read in the zone by PostgreSQL (`timestamp AT TIME
 *   ZONE`), so each zone uses the offset in force on that date (DST included); without one, `base` for all;
 * - a local time already past at `start` is `start` (pastZones send) or marks the zone skipped;
 * - with a window, a moment outside it moves to the next time the window opens in that zone, read the same way.
 */
export function zoneMoments(names: string[], d: LocalDelivery, base: Date, start: Date): SQL {
  const localTime = d.localTime ?? null;
  const from = d.window?.from ?? null;
  const to = d.window?.to ?? null;
  return sql`
    with z as (
      select name,
        case when ${localTime}::timestamp is null then ${base.toISOString()}::timestamptz
             else (${localTime}::timestamp at time zone name) end as local_at
      from jsonb_array_elements_text(${JSON.stringify(names)}::jsonb) as name
    ), p as (
      select name, ${localTime}::timestamp is not null and local_at < ${start.toISOString()}::timestamptz as past,
        local_at
      from z
    ), b as (
      select name, past, local_at,
        case when past and ${d.pastZones} = 'send' then ${start.toISOString()}::timestamptz else local_at end as base_at
      from p
    ), l as (
      select name, past, base_at, (base_at at time zone name) as loc from b
    ), w as (
      select name, past,
        case
          when ${from}::time is null or (past and ${d.pastZones} = 'skip') then base_at
          when ${from}::time < ${to}::time and loc::time >= ${from}::time and loc::time < ${to}::time then base_at
          when ${from}::time > ${to}::time and (loc::time >= ${from}::time or loc::time < ${to}::time) then base_at
          else ((loc::date + ${from}::time)
                + case when loc::time >= ${from}::time then interval '1 day' else interval '0' end) at time zone name
        end as at
      from l
    )
    select name, past, at,
      (extract(epoch from (at at time zone name) - (at at time zone 'UTC')) / 60)::int as off
    from w`;
}

/** The audience's accounts per zone (accounts without one in `defaultZone`), grouped with the zones' moments. */
export async function planWaves(
  tx: Queryable,
  q: {
    appId: string;
    names: string[];
    delivery: LocalDelivery;
    base: Date;
    start: Date;
    /** `a` is accounts: eligibility and the audience condition. */
    audience: SQL;
  },
): Promise<PlannedWave[]> {
  const rows = await tx.execute<{
    at: Date | string;
    off: number;
    skipped: boolean;
    zones: string[];
    planned: number;
  }>(sql`
    with zm as (${zoneMoments(q.names, q.delivery, q.base, q.start)}),
    aud as (
      select coalesce(a.timezone, ${q.delivery.timezone}) as tz, count(*)::int as n
      from accounts a where a.app_id = ${q.appId} and ${q.audience}
      group by 1
    )
    select zm.at, zm.off, zm.past and ${q.delivery.pastZones} = 'skip' as skipped,
      array_agg(zm.name order by zm.name) as zones, coalesce(sum(aud.n), 0)::int as planned
    from zm left join aud on aud.tz = zm.name
    group by zm.at, zm.off, 3
    having coalesce(sum(aud.n), 0) > 0
    order by 3 desc, zm.at, zm.off desc`);
  return rows.map((r) => ({
    at: new Date(r.at),
    offsetMinutes: r.off,
    skipped: r.skipped,
    zones: r.zones,
    planned: r.planned,
  }));
}

/** The accounts (alias `a`) of a wave's zones; those without a zone belong to the wave of the default zone. */
export function inWaveZones(zones: string[], defaultZone: string): SQL {
  // One bound parameter (drizzle would spread an array into one per element).
  const list = sql`array(select jsonb_array_elements_text(${JSON.stringify(zones)}::jsonb))`;
  return zones.includes(defaultZone)
    ? sql`(a.timezone = any(${list}) or a.timezone is null)`
    : sql`a.timezone = any(${list})`;
}

export async function insertWaves(
  tx: Queryable,
  appId: string,
  pushId: string,
  waves: PlannedWave[],
): Promise<WaveRow[]> {
  if (!waves.length) return [];
  return tx
    .insert(pushWaves)
    .values(
      waves.map((w, i) => ({
        appId,
        pushId,
        wave: i,
        utcOffset: formatOffset(w.offsetMinutes),
        at: w.at,
        zones: w.zones,
        planned: w.planned,
        status: (w.skipped ? 'skipped' : 'waiting') as WaveStatus,
      })),
    )
    .returning();
}

export async function wavesOf(db: Queryable, appId: string, pushIds: string[]): Promise<WaveRow[]> {
  if (!pushIds.length) return [];
  return db
    .select()
    .from(pushWaves)
    .where(and(eq(pushWaves.appId, appId), inArray(pushWaves.pushId, pushIds)))
    .orderBy(pushWaves.pushId, pushWaves.wave);
}
