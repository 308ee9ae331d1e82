/**
 * im_get_push_report reads many pushes at once; the native API reads one. This is the read it needs, and the
 * mapping of a native push row onto Tencent's report.
 */
import { and, eq, gte, inArray, lt } from 'drizzle-orm';
import type { Queryable } from '../../db/client.ts';
import type { PushRow } from '../../db/pushes.ts';
import { type ChannelCount, pushes } from '../../db/schema.ts';
import { deliveredOf } from '../../pushes/engagement.ts';

/** The app's pushes among `ids` (ids that name none are simply absent). */
export async function findPushesByIds(
  db: Queryable,
  appId: string,
  ids: readonly string[],
): Promise<PushRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(pushes)
    .where(and(eq(pushes.appId, appId), inArray(pushes.id, [...ids])));
}

export interface TencentReport {
  TaskId: string;
  /** 0 not started, 1 pushing, 2 done. */
  Status: 0 | 1 | 2;
  /** When the push started (its audience snapshot), Unix seconds; 0 before it starts. */
  StartTime: number;
  /** Recipients the push is done with; see `report`. */
  Finished: number;
  /** Recipients: the accounts in the audience snapshot (0 before it is taken). */
  Total: number;
}

/**
 * A native push as Tencent's report row.
 * - Status: scheduled → 0; running → 1; completed, canceled, failed → 2.
 * - Total: the audience counter, the accounts in the push's snapshot.
 * - Finished: the recipients the fan-out is done with. While a push runs, and when it was canceled or failed,
 *   that is deliveredOnline + storedOffline (reached over a live connection, or kept for them and handed to
 *   APNs / FCM), at most Total. A completed push has handled every recipient — reached online, stored, or, with
 *   MsgLifeTime 0 and nobody connected, passed over as Tencent does — so Finished = Total.
 */
export function report(p: PushRow): TencentReport {
  const total = p.audienceCount;
  const reached = Math.min(total, p.deliveredOnline + p.storedOffline);
  return {
    TaskId: p.id,
    Status: p.status === 'scheduled' ? 0 : p.status === 'running' ? 1 : 2,
    StartTime: p.startedAt ? Math.floor(p.startedAt.getTime() / 1000) : 0,
    Finished: p.status === 'completed' ? total : reached,
    Total: total,
  };
}

/** The app's pushes created in [from, to), for the statistics over a time range. */
export async function findPushesCreatedBetween(db: Queryable, appId: string, from: Date, to: Date) {
  return db
    .select()
    .from(pushes)
    .where(and(eq(pushes.appId, appId), gte(pushes.createdAt, from), lt(pushes.createdAt, to)));
}

export interface TencentStatistics {
  TotalCount: number;
  SentCount: number;
  DeliveredCount: number;
  ClickCount: number;
}

/**
 * timpush/all_member_push_statistics from the native counters:
 * - TotalCount: the audience (accounts the push could reach).
 * - SentCount: handed over: delivered online, synced on connect, and every provider notification attempted.
 * - DeliveredCount: reached: online + synced + the notifications a provider accepted (the funnel's delivered).
 * - ClickCount: accounts that reported a click (each once).
 */
export function statistics(rows: readonly PushRow[]): TencentStatistics {
  const sum = (f: (p: PushRow) => number) => rows.reduce((s, p) => s + f(p), 0);
  const attempted = (p: PushRow) =>
    Object.values(p.channelCounts as Record<string, ChannelCount>).reduce((s, c) => s + c.sent + c.failed, 0);
  return {
    TotalCount: sum((p) => p.audienceCount),
    SentCount: sum((p) => p.deliveredOnline + p.syncedLater + attempted(p)),
    DeliveredCount: sum(deliveredOf),
    ClickCount: sum((p) => p.clicked),
  };
}
