import { eq } from 'drizzle-orm';
import type { Queryable } from './client.ts';
import { attributeNames } from './schema.ts';

/** The app's attribute names and the slot each is stored under. */
export async function attributeSlots(db: Queryable, appId: string): Promise<Map<string, number>> {
  const rows = await db
    .select({ slot: attributeNames.slot, name: attributeNames.name })
    .from(attributeNames)
    .where(eq(attributeNames.appId, appId));
  return new Map(rows.map((r) => [r.name, r.slot]));
}
