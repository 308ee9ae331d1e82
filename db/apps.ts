import { createHash, randomBytes, randomInt } from 'node:crypto';
import { and, eq, gt, inArray, or, sql } from 'drizzle-orm';
import { newId, newSecret } from '../core/ids.ts';
import { seal, sealedUnderCurrentKey, unseal } from '../core/secrets.ts';
import type { Db } from './client.ts';
import { pgErrorCode, SQLSTATE } from './errors.ts';
import { apps } from './schema.ts';

type AppRow = typeof apps.$inferSelect;
/** An app as the code sees it: its secret keys and credentials in plaintext (the row holds them sealed). */
export type App = AppRow;

/*
 * Encryption at rest: every read of an app row goes through openApp and every write of a secret through
 * seal (core/secrets.ts); the context binds a sealed value to its app and field.
 */
const secretContext = (appId: string) => `apps:${appId}:secret_key`;
const credentialsContext = (appId: string, channel: string) => `apps:${appId}:channel_credentials:${channel}`;

/** A channel's stored credentials as sealed for the row. */
const sealCredentials = (appId: string, channel: string, stored: unknown): string =>
  seal(JSON.stringify(stored), credentialsContext(appId, channel));

function openCredentials(appId: string, channel: string, value: unknown): unknown {
  // An object was stored before encryption at rest; it stays readable until rewritten.
  return typeof value === 'string' ? JSON.parse(unseal(value, credentialsContext(appId, channel))) : value;
}

function openApp(row: AppRow): App {
  return {
    ...row,
    secretKey: unseal(row.secretKey, secretContext(row.id)),
    previousSecretKey:
      row.previousSecretKey === null ? null : unseal(row.previousSecretKey, secretContext(row.id)),
    channelCredentials: Object.fromEntries(
      Object.entries(row.channelCredentials).map(([channel, value]) => [
        channel,
        openCredentials(row.id, channel, value),
      ]),
    ),
  };
}

const openFirst = ([row]: AppRow[]): App | undefined => (row ? openApp(row) : undefined);

/** The secret keys that verify an app's user tokens and UserSigs now: the newest first. */
export function validSecretKeys(app: App, now = Date.now()): string[] {
  const previous = app.previousSecretKey;
  const until = app.previousSecretKeyExpiresAt?.getTime() ?? 0;
  return previous !== null && until > now ? [app.secretKey, previous] : [app.secretKey];
}

export interface CreatedApp {
  id: string;
  name: string;
  sdkAppId: number;
  apiKey: string;
  secretKey: string;
}

/** TLSSigAPIv2 signs with the secret as a plain string, as Tencent's 64-hex-digit keys. */
const newSecretKey = () => randomBytes(32).toString('hex');

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
    const secretKey = input.secretKey ?? newSecretKey();
    const sdkAppId = input.sdkAppId ?? 1_400_000_000 + randomInt(0, 99_999_999);
    try {
      await db.insert(apps).values({
        id,
        name: input.name,
        sdkAppId,
        apiKeyHash: hashApiKey(apiKey),
        secretKey: seal(secretKey, secretContext(id)),
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

/** The app whose current API key this is, or whose previous one while its overlap lasts. */
export async function findAppByApiKey(db: Db, apiKey: string): Promise<App | undefined> {
  const hash = hashApiKey(apiKey);
  return openFirst(
    await db
      .select()
      .from(apps)
      .where(
        or(
          eq(apps.apiKeyHash, hash),
          and(eq(apps.previousApiKeyHash, hash), gt(apps.previousApiKeyExpiresAt, sql`now()`)),
        ),
      )
      .limit(1),
  );
}

export async function findAppBySdkAppId(db: Db, sdkAppId: number): Promise<App | undefined> {
  return openFirst(await db.select().from(apps).where(eq(apps.sdkAppId, sdkAppId)).limit(1));
}

export async function findAppById(db: Db, id: string): Promise<App | undefined> {
  return openFirst(await db.select().from(apps).where(eq(apps.id, id)).limit(1));
}

/**
 * The default app is created on the first `herald start` so a newcomer can push at once. Its keys are kept
 * in the data folder by the caller; here we only say whether one exists.
 */
export async function findDefaultApp(db: Db): Promise<App | undefined> {
  return openFirst(await db.select().from(apps).where(eq(apps.isDefault, true)).limit(1));
}

export async function updateAppSettings(
  db: Db,
  appId: string,
  patch: Partial<
    Pick<
      App,
      | 'name'
      | 'dailyPushQuota'
      | 'minPushIntervalMs'
      | 'adminIdentifier'
      | 'attrSlots'
      | 'defaultTimezone'
      | 'defaultWindow'
      | 'defaultThrottlePerMinute'
      | 'frequencyCap'
    >
  >,
): Promise<App> {
  // An empty patch changes nothing (drizzle refuses an UPDATE without values).
  if (Object.values(patch).every((v) => v === undefined)) {
    const current = await findAppById(db, appId);
    if (!current) throw new Error(`app ${appId} vanished`);
    return current;
  }
  const row = openFirst(
    await db
      .update(apps)
      .set({ ...patch })
      .where(eq(apps.id, appId))
      .returning(),
  );
  if (!row) throw new Error(`app ${appId} vanished`);
  return row;
}

/** Sets one channel's credentials (sealed); undefined when the app is gone. */
export async function setChannelCredentials(
  db: Db,
  appId: string,
  channel: string,
  stored: unknown,
): Promise<App | undefined> {
  const entry = JSON.stringify({ [channel]: sealCredentials(appId, channel, stored) });
  return openFirst(
    await db
      .update(apps)
      .set({ channelCredentials: sql`${apps.channelCredentials} || ${entry}::jsonb` })
      .where(eq(apps.id, appId))
      .returning(),
  );
}

export async function removeChannelCredentials(
  db: Db,
  appId: string,
  channel: string,
): Promise<App | undefined> {
  return openFirst(
    await db
      .update(apps)
      .set({ channelCredentials: sql`${apps.channelCredentials} - ${channel}::text` })
      .where(eq(apps.id, appId))
      .returning(),
  );
}

export type KeyKind = 'api' | 'secret';

export interface RotatedKey {
  kind: KeyKind;
  /** The new key, shown only now. */
  key: string;
  /** Until when the replaced key still works (null: it stopped at once). */
  previousExpiresAt: Date | null;
}

/**
 * Gives an app a new API key or secret key. The replaced key keeps working `overlapSeconds` (0: stops at
 * once) so clients can move over; a key replaced before is dropped (two keys at most). Undefined when the app
 * does not exist.
 */
export async function rotateAppKey(
  db: Db,
  appId: string,
  kind: KeyKind,
  overlapSeconds: number,
): Promise<RotatedKey | undefined> {
  const overlap = overlapSeconds > 0;
  const until = overlap ? sql`now() + make_interval(secs => ${overlapSeconds})` : null;
  // SET expressions read the row as it was: the current key moves to previous as the new one replaces it.
  if (kind === 'api') {
    const key = newSecret('hk');
    const [row] = await db
      .update(apps)
      .set({
        previousApiKeyHash: overlap ? sql`${apps.apiKeyHash}` : null,
        previousApiKeyExpiresAt: until,
        apiKeyHash: hashApiKey(key),
      })
      .where(eq(apps.id, appId))
      .returning({ until: apps.previousApiKeyExpiresAt });
    return row && { kind, key, previousExpiresAt: row.until };
  }
  const key = newSecretKey();
  const [row] = await db
    .update(apps)
    .set({
      previousSecretKey: overlap ? sql`${apps.secretKey}` : null,
      previousSecretKeyExpiresAt: until,
      secretKey: seal(key, secretContext(appId)),
    })
    .where(eq(apps.id, appId))
    .returning({ until: apps.previousSecretKeyExpiresAt });
  return row && { kind, key, previousExpiresAt: row.until };
}

/** Ends the overlap of a rotation now: only the newest key works. False when the app does not exist. */
export async function revokePreviousKey(db: Db, appId: string, kind: KeyKind): Promise<boolean> {
  const rows = await db
    .update(apps)
    .set(
      kind === 'api'
        ? { previousApiKeyHash: null, previousApiKeyExpiresAt: null }
        : { previousSecretKey: null, previousSecretKeyExpiresAt: null },
    )
    .where(eq(apps.id, appId))
    .returning({ id: apps.id });
  return rows.length > 0;
}

/**
 * Rewrites every app's secret keys and credentials sealed under the current encryption key: rows sealed under
 * an older key (HERALD_ENCRYPTION_KEYS_OLD) and rows from before encryption at rest. Each row is updated only
 * if it did not change meanwhile (a concurrent write seals under the current key anyway). `onlyAppIds`: those
 * apps only (tests, which share one database with other processes that hold other keys).
 */
export async function reencryptApps(
  db: Db,
  opts: { onlyAppIds?: readonly string[] } = {},
): Promise<{ apps: number; rewritten: number; changedMeanwhile: number }> {
  const only = opts.onlyAppIds;
  const rows = await (only
    ? db
        .select()
        .from(apps)
        .where(inArray(apps.id, [...only]))
    : db.select().from(apps));
  let rewritten = 0;
  let changedMeanwhile = 0;
  for (const row of rows) {
    const stale = (v: unknown) => typeof v !== 'string' || !sealedUnderCurrentKey(v);
    const staleChannels = Object.entries(row.channelCredentials).filter(([, v]) => stale(v));
    const previousStale = row.previousSecretKey !== null && stale(row.previousSecretKey);
    if (!stale(row.secretKey) && !previousStale && staleChannels.length === 0) continue;
    const open = openApp(row);
    const reseal = (plain: string) => seal(plain, secretContext(row.id));
    const credentials = { ...row.channelCredentials };
    for (const [channel] of staleChannels)
      credentials[channel] = sealCredentials(row.id, channel, open.channelCredentials[channel]);
    const done = await db
      .update(apps)
      .set({
        secretKey: reseal(open.secretKey),
        previousSecretKey: open.previousSecretKey === null ? null : reseal(open.previousSecretKey),
        channelCredentials: credentials,
      })
      .where(
        and(
          eq(apps.id, row.id),
          eq(apps.secretKey, row.secretKey),
          row.previousSecretKey === null
            ? sql`${apps.previousSecretKey} is null`
            : eq(apps.previousSecretKey, row.previousSecretKey),
          sql`${apps.channelCredentials} = ${JSON.stringify(row.channelCredentials)}::jsonb`,
        ),
      )
      .returning({ id: apps.id });
    if (done.length) rewritten++;
    else changedMeanwhile++;
  }
  return { apps: rows.length, rewritten, changedMeanwhile };
}

export interface AppSummary {
  id: string;
  name: string;
  sdkAppId: number;
  isDefault: boolean;
  createdAt: Date;
}

/** The apps in creation order (ids are time-ordered), a page at a time after `after`; no secrets. */
export async function listApps(db: Db, after: string | undefined, limit: number): Promise<AppSummary[]> {
  return db
    .select({
      id: apps.id,
      name: apps.name,
      sdkAppId: apps.sdkAppId,
      isDefault: apps.isDefault,
      createdAt: apps.createdAt,
    })
    .from(apps)
    .where(after === undefined ? undefined : gt(apps.id, after))
    .orderBy(apps.id)
    .limit(limit);
}
