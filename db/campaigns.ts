import { and, desc, eq, lt, sql } from 'drizzle-orm';
import type { Message, OfflineOptions } from '../core/messages.ts';
import type { Queryable } from './client.ts';
import { campaigns, type SendWindow } from './schema.ts';

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

export async function findCampaignByIdempotencyKey(
  db: Queryable,
  appId: string,
  key: string,
): Promise<CampaignRow | undefined> {
  const [row] = await db
    .select()
    .from(campaigns)
    .where(and(eq(campaigns.appId, appId), eq(campaigns.idempotencyKey, key)));
  return row;
}

/** Frees a key older than the 7-day idempotency window so it can name a new campaign. */
export async function releaseCampaignIdempotencyKey(db: Queryable, appId: string, id: string): Promise<void> {
  await db
    .update(campaigns)
    .set({ idempotencyKey: null })
    .where(and(eq(campaigns.appId, appId), eq(campaigns.id, id)));
}

/** The campaign's workflow is known to exist: the reconciler need not look at it. */
export async function markCampaignWorkflowStarted(db: Queryable, appId: string, id: string): Promise<void> {
  await db
    .update(campaigns)
    .set({ workflowStartedAt: sql`coalesce(${campaigns.workflowStartedAt}, now())` })
    .where(and(eq(campaigns.appId, appId), eq(campaigns.id, id)));
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
  /** An absolute time, or a wall-clock time in each recipient's zone (pushes/waves.ts). */
  at: string | { localTime: string };
  pastZones?: 'send' | 'skip' | undefined;
  window?: SendWindow | null | undefined;
  audience: 'all' | Record<string, unknown>;
  message: Message;
  offline: OfflineOptions;
  /** Language variants as sent (pushes/localized.ts). */
  localized?: Record<string, unknown> | undefined;
  capped?: boolean | undefined;
  retentionSeconds: number;
  throttlePerMinute?: number | null | undefined;
}
