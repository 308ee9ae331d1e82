import { createHash, randomBytes, randomInt } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { newId, newSecret } from '../core/ids.ts';
import type { Db } from './client.ts';
import { pgErrorCode, SQLSTATE } from './errors.ts';
import { apps } from './schema.ts';

export type App = typeof apps.$inferSelect;

export interface CreatedApp {
  id: string;
  name: string;
  sdkAppId: number;
  apiKey: string;
  secretKey: string;
}

export const hashApiKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** Creates an app with fresh keys; the keys are returned here and never again. */
export async function createApp(
  db: Db,
  input: {
    name: string;
    isDefault?: boolean;
    dailyPushQuota?: number;
    minPushIntervalMs?: number;
    /** An app moving from Tencent Cloud IM keeps its SDKAppID and key, so existing UserSigs stay valid. */
    sdkAppId?: number;
    secretKey?: string;
  },
): Promise<CreatedApp> {
  for (let attempt = 0; ; attempt++) {
    const id = newId();
    const apiKey = newSecret('hk');
    // TLSSigAPIv2 signs with the secret as a plain string, as Tencent's 64-hex-digit keys.
    const secretKey = input.secretKey ?? randomBytes(32).toString('hex');
    const sdkAppId = input.sdkAppId ?? 1_400_000_000 + randomInt(0, 99_999_999);
    try {
      await db.insert(apps).values({
        id,
        name: input.name,
        sdkAppId,
        apiKeyHash: hashApiKey(apiKey),
        secretKey,
        isDefault: input.isDefault ?? false,
        ...(input.dailyPushQuota !== undefined ? { dailyPushQuota: input.dailyPushQuota } : {}),
        ...(input.minPushIntervalMs !== undefined ? { minPushIntervalMs: input.minPushIntervalMs } : {}),
      });
      return { id, name: input.name, sdkAppId, apiKey, secretKey };
    } catch (err) {
      const clash = pgErrorCode(err) === SQLSTATE.uniqueViolation;
      if (clash && input.sdkAppId !== undefined) throw new SdkAppIdTakenError(input.sdkAppId);
      // A clash of the random sdkAppId is the only other expected conflict; try another number.
      if (attempt < 3 && clash) continue;
      throw err;
    }
  }
}

export class SdkAppIdTakenError extends Error {
  constructor(readonly sdkAppId: number) {
    super(`sdkAppId ${sdkAppId} belongs to another app`);
  }
}

export async function findAppByApiKey(db: Db, apiKey: string): Promise<App | undefined> {
  const [row] = await db
    .select()
    .from(apps)
    .where(eq(apps.apiKeyHash, hashApiKey(apiKey)))
    .limit(1);
  return row;
}

export async function findAppBySdkAppId(db: Db, sdkAppId: number): Promise<App | undefined> {
  const [row] = await db.select().from(apps).where(eq(apps.sdkAppId, sdkAppId)).limit(1);
  return row;
}

export async function findAppById(db: Db, id: string): Promise<App | undefined> {
  const [row] = await db.select().from(apps).where(eq(apps.id, id)).limit(1);
  return row;
}

/**
 * The default app is created on the first `herald start` so a newcomer can push at once. Its keys are kept
 * in the data folder by the caller; here we only say whether one exists.
 */
export async function findDefaultApp(db: Db): Promise<App | undefined> {
  const [row] = await db.select().from(apps).where(eq(apps.isDefault, true)).limit(1);
  return row;
}

export async function updateAppSettings(
  db: Db,
  appId: string,
  patch: Partial<
    Pick<App, 'name' | 'dailyPushQuota' | 'minPushIntervalMs' | 'adminIdentifier' | 'attrSlots'>
  >,
): Promise<App> {
  // An empty patch changes nothing (drizzle refuses an UPDATE without values).
  if (Object.values(patch).every((v) => v === undefined)) {
    const current = await findAppById(db, appId);
    if (!current) throw new Error(`app ${appId} vanished`);
    return current;
  }
  const [row] = await db
    .update(apps)
    .set({ ...patch })
    .where(eq(apps.id, appId))
    .returning();
  if (!row) throw new Error(`app ${appId} vanished`);
  return row;
}
