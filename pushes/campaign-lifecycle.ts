/** A campaign's state transitions, as functions of (db, …); the campaign workflow's activities call these. */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { campaigns, pushes } from '../db/schema.ts';
import { emitCampaignEvent, emitPushEvents } from './webhook-events.ts';

/** Moves the send time of steps that have not started. */
export async function reschedule(
  db: Queryable,
  appId: string,
  moved: readonly { pushId: string; at: string }[],
): Promise<void> {
  for (const m of moved) {
    await db
      .update(pushes)
      .set({ sendAt: new Date(m.at) })
      .where(and(eq(pushes.appId, appId), eq(pushes.id, m.pushId), eq(pushes.status, 'scheduled')));
  }
}

/** active → canceled: the steps that never started (`pushIds`) are canceled pushes. */
export async function cancelCampaign(
  db: Queryable,
  appId: string,
  campaignId: string,
  pushIds: readonly string[],
): Promise<void> {
  await db.transaction(async (tx) => {
    if (pushIds.length) {
      const canceled = await tx
        .update(pushes)
        .set({ status: 'canceled', canceledAt: sql`coalesce(${pushes.canceledAt}, now())` })
        .where(and(eq(pushes.appId, appId), inArray(pushes.id, [...pushIds]), eq(pushes.status, 'scheduled')))
        .returning({ id: pushes.id });
      await emitPushEvents(
        tx,
        appId,
        canceled.map((r) => r.id),
        'push.canceled',
      );
    }
    const changed = await tx
      .update(campaigns)
      .set({ status: 'canceled', canceledAt: sql`coalesce(${campaigns.canceledAt}, now())` })
      .where(and(eq(campaigns.appId, appId), eq(campaigns.id, campaignId), eq(campaigns.status, 'active')))
      .returning({ id: campaigns.id });
    if (changed.length) await emitCampaignEvent(tx, appId, campaignId, 'campaign.canceled');
  });
}

/** active → completed (or canceled, when it was canceled while its last steps ran). */
export async function finishCampaign(
  db: Queryable,
  appId: string,
  campaignId: string,
  canceled: boolean,
): Promise<void> {
  await db.transaction(async (tx) => {
    const changed = await tx
      .update(campaigns)
      .set({ status: canceled ? 'canceled' : 'completed' })
      .where(and(eq(campaigns.appId, appId), eq(campaigns.id, campaignId), eq(campaigns.status, 'active')))
      .returning({ id: campaigns.id });
    if (changed.length)
      await emitCampaignEvent(tx, appId, campaignId, canceled ? 'campaign.canceled' : 'campaign.completed');
  });
}
