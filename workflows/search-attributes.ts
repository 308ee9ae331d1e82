/**
 * Herald's Temporal search attributes: the Temporal UI's list filters pushes by app, campaign, schedule and
 * status (`HeraldAppId = "…" AND HeraldStatus = "running"`). They must be registered on the namespace first:
 * the dev server `herald start` runs registers them itself, `herald temporal setup` does so on a cluster.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const HeraldAppId = defineSearchAttributeKey('HeraldAppId', SearchAttributeType.KEYWORD);
export const HeraldPushId = defineSearchAttributeKey('HeraldPushId', SearchAttributeType.KEYWORD);
export const HeraldCampaignId = defineSearchAttributeKey('HeraldCampaignId', SearchAttributeType.KEYWORD);
export const HeraldScheduleId = defineSearchAttributeKey('HeraldScheduleId', SearchAttributeType.KEYWORD);
/** scheduled → running → completed / canceled / failed (upserted by the workflow as the push moves). */
export const HeraldStatus = defineSearchAttributeKey('HeraldStatus', SearchAttributeType.KEYWORD);

export const HERALD_SEARCH_ATTRIBUTES = [
  HeraldAppId,
  HeraldPushId,
  HeraldCampaignId,
  HeraldScheduleId,
  HeraldStatus,
];

export type HeraldStatusValue = 'scheduled' | 'running' | 'completed' | 'canceled' | 'failed';

/** The attributes a push's workflow starts with. */
export function pushSearchAttributes(push: {
  appId: string;
  pushId: string;
  campaignId?: string | null | undefined;
  scheduleId?: string | null | undefined;
}) {
  return [
    { key: HeraldAppId, value: push.appId },
    { key: HeraldPushId, value: push.pushId },
    ...(push.campaignId ? [{ key: HeraldCampaignId, value: push.campaignId }] : []),
    ...(push.scheduleId ? [{ key: HeraldScheduleId, value: push.scheduleId }] : []),
    { key: HeraldStatus, value: 'scheduled' },
  ];
}
