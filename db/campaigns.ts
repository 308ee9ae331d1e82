import { and, desc, eq, lt } from 'drizzle-orm';
import type { Message, OfflineOptions } from '../core/messages.ts';
import type { Queryable } from './client.ts';
import { campaigns } from './schema.ts';

export type CampaignRow = typeof campaigns.$inferSelect;

export const campaignWorkflowId = (appId: string, campaignId: string) => `campaign-${appId}-${campaignId}`;

export async function findCampaign(
  db: Queryable,
  appId: string,
  id: string,
): Promise<CampaignRow | undefined> {
  const [row] = await db
    .select()
    .from(campaigns)
    .where(and(eq(campaigns.appId, appId), eq(campaigns.id, id)));
  return row;
}

export async function listCampaigns(db: Queryable, appId: string, after: string | undefined, limit: number) {
  return db
    .select()
    .from(campaigns)
    .where(and(eq(campaigns.appId, appId), after ? lt(campaigns.id, after) : undefined))
    .orderBy(desc(campaigns.id))
    .limit(limit);
}

/** A campaign step as it was asked for (stored in `campaigns.steps`): the audience as sent, not resolved. */
export interface CampaignStep {
  at: string;
  audience: 'all' | Record<string, unknown>;
  message: Message;
  offline: OfflineOptions;
  retentionSeconds: number;
}
