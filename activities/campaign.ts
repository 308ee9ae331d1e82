import { cancelCampaign, finishCampaign, reschedule } from '../pushes/campaign-lifecycle.ts';
import type { ActivityDeps } from './deps.ts';

/** The campaign workflow's steps: thin wrappers of the transitions in pushes/campaign-lifecycle.ts. */
export function campaignActivities({ database }: ActivityDeps) {
  const { db } = database;
  return {
    /** Moves the send time of steps that have not started. */
    async reschedulePushes({ appId, pushes }: { appId: string; pushes: { pushId: string; at: string }[] }) {
      await reschedule(db, appId, pushes);
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
      await cancelCampaign(db, appId, campaignId, pushIds);
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
      await finishCampaign(db, appId, campaignId, canceled);
    },
  };
}
