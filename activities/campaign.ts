import { and, eq, inArray, sql } from 'drizzle-orm';
import { campaigns, pushes } from '../db/schema.ts';
import type { ActivityDeps } from './deps.ts';

export function campaignActivities({ database }: ActivityDeps) {
  const { db } = database;
  return {
    /** Moves the send time of steps that have not started. */
    async reschedulePushes({
      appId,
      pushes: moved,
    }: {
      appId: string;
      pushes: { pushId: string; at: string }[];
    }) {
      for (const m of moved) {
        await db
          .update(pushes)
          .set({ sendAt: new Date(m.at) })
          .where(and(eq(pushes.appId, appId), eq(pushes.id, m.pushId), eq(pushes.status, 'scheduled')));
      }
    },

    /** The steps that never started are canceled pushes; the campaign is canceled. */
    async cancelCampaignPushes({
      appId,
      campaignId,
      pushIds,
    }: {
      appId: string;
      campaignId: string;
      pushIds: string[];
    }) {
      await db.transaction(async (tx) => {
        if (pushIds.length) {
          await tx
            .update(pushes)
            .set({ status: 'canceled', canceledAt: sql`coalesce(${pushes.canceledAt}, now())` })
            .where(and(eq(pushes.appId, appId), inArray(pushes.id, pushIds), eq(pushes.status, 'scheduled')));
        }
        await tx
          .update(campaigns)
          .set({ status: 'canceled', canceledAt: sql`coalesce(${campaigns.canceledAt}, now())` })
          .where(and(eq(campaigns.appId, appId), eq(campaigns.id, campaignId)));
      });
    },

    async finishCampaign({
      appId,
      campaignId,
      canceled,
    }: {
      appId: string;
      campaignId: string;
      canceled: boolean;
    }) {
      await db
        .update(campaigns)
        .set({ status: canceled ? 'canceled' : 'completed' })
        .where(and(eq(campaigns.appId, appId), eq(campaigns.id, campaignId), eq(campaigns.status, 'active')));
    },
  };
}
