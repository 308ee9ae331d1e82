import { and, desc, eq, gte, lt, lte, type SQL, sql } from 'drizzle-orm';
import type { Queryable } from './client.ts';
import { type PushStatus, pushes } from './schema.ts';

export type PushRow = typeof pushes.$inferSelect;
export type NewPush = typeof pushes.$inferInsert;

export const pushWorkflowId = (appId: string, pushId: string) => `push-${appId}-${pushId}`;

export async function findPush(db: Queryable, appId: string, pushId: string): Promise<PushRow | undefined> {
  const [row] = await db
    .select()
    .from(pushes)
    .where(and(eq(pushes.appId, appId), eq(pushes.id, pushId)));
  return row;
}

export async function findPushByIdempotencyKey(
  db: Queryable,
  appId: string,
  key: string,
): Promise<PushRow | undefined> {
  const [row] = await db
    .select()
    .from(pushes)
    .where(and(eq(pushes.appId, appId), eq(pushes.idempotencyKey, key)));
  return row;
}

/** Frees a key older than the 7-day idempotency window so it can name a new push. */
export async function releaseIdempotencyKey(db: Queryable, appId: string, pushId: string): Promise<void> {
  await db
    .update(pushes)
    .set({ idempotencyKey: null })
    .where(and(eq(pushes.appId, appId), eq(pushes.id, pushId)));
}

/** The push's workflow is known to exist: the reconciler need not look at it. */
export async function markWorkflowStarted(db: Queryable, appId: string, pushId: string): Promise<void> {
  await db
    .update(pushes)
    .set({ workflowStartedAt: sql`coalesce(${pushes.workflowStartedAt}, now())` })
    .where(and(eq(pushes.appId, appId), eq(pushes.id, pushId)));
}

export interface PushFilter {
  status?: PushStatus | undefined;
  campaignId?: string | undefined;
  scheduleId?: string | undefined;
  createdFrom?: Date | undefined;
  createdTo?: Date | undefined;
  /** Keyset cursor: the id of the last push of the previous page (ids are time-ordered). */
  after?: string | undefined;
  limit: number;
}

/** Newest first, paged by id (UUIDv7, so id order is creation order). */
export async function listPushes(db: Queryable, appId: string, f: PushFilter): Promise<PushRow[]> {
  const where: (SQL | undefined)[] = [eq(pushes.appId, appId)];
  if (f.status) where.push(eq(pushes.status, f.status));
  if (f.campaignId) where.push(eq(pushes.campaignId, f.campaignId));
  if (f.scheduleId) where.push(eq(pushes.scheduleId, f.scheduleId));
  if (f.createdFrom) where.push(gte(pushes.createdAt, f.createdFrom));
  if (f.createdTo) where.push(lte(pushes.createdAt, f.createdTo));
  if (f.after) where.push(lt(pushes.id, f.after));
  return db
    .select()
    .from(pushes)
    .where(and(...where))
    .orderBy(desc(pushes.id))
    .limit(f.limit);
}

export async function listCampaignPushes(
  db: Queryable,
  appId: string,
  campaignId: string,
): Promise<PushRow[]> {
  return db
    .select()
    .from(pushes)
    .where(and(eq(pushes.appId, appId), eq(pushes.campaignId, campaignId)))
    .orderBy(pushes.campaignStep);
}
