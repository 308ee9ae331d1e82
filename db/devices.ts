import { and, asc, eq, sql } from 'drizzle-orm';
import { HeraldError } from '../core/errors.ts';
import type { Queryable } from './client.ts';
import { devices } from './schema.ts';

/**
 * Device tokens. One row per (app, platform, token): a token belongs to one account at a time, so a
 * phone that logs in as someone else moves its token to the new account. Registering again re-enables a
 * token a provider had reported dead (the app got a fresh registration from the OS, so it works again).
 * Tokens registered with the same `deviceId` are one device (a phone with both a vendor token and an FCM
 * token): it holds at most one token per channel and counts once against the account's device cap.
 */

export type Environment = 'sandbox' | 'production';
export const ENVIRONMENTS = ['sandbox', 'production'] as const;

export type DeviceRow = typeof devices.$inferSelect;

/** Thrown by a channel's token rules (and for a bad topic): the API answers 400 invalid_device_token. */
export class DeviceTokenError extends HeraldError {
  override name = 'DeviceTokenError';
  constructor(problem: string) {
    super('invalid_device_token', 'invalid', problem);
  }
}

/**
 * A device platform as these queries need it: its name (the stored `platform`) and its token rules. The
 * channels of delivery/registry.ts are these; db does not import them, callers pass them in.
 */
export interface DevicePlatform {
  readonly name: string;
  /** The token in its stored spelling; throws DeviceTokenError when it is malformed. */
  normalizeToken(token: string): string;
}

const DEVICE_ID_MAX = 128;
const DEVICE_ID_FORMAT = /^[A-Za-z0-9._:-]+$/;

/** An app's id of an installation: 1–128 letters, digits, `.`, `_`, `:`, `-`; absent or empty is none. */
export function checkDeviceId(deviceId: string | undefined | null): string | null {
  if (deviceId === undefined || deviceId === null || deviceId === '') return null;
  if (deviceId.length > DEVICE_ID_MAX || !DEVICE_ID_FORMAT.test(deviceId))
    throw new DeviceTokenError(
      `deviceId is at most ${DEVICE_ID_MAX} characters of letters, digits, '.', '_', ':' and '-'`,
    );
  return deviceId;
}

const TOPIC_MAX = 255;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters and spaces are what is refused
const TOPIC_BAD = /[\s\u0000-\u001f\u007f]/;

export function checkTopic(topic: string | undefined | null): string | null {
  if (topic === undefined || topic === null || topic === '') return null;
  if (topic.length > TOPIC_MAX || TOPIC_BAD.test(topic))
    throw new DeviceTokenError(`topic is at most ${TOPIC_MAX} characters, without spaces`);
  return topic;
}

export interface DeviceRegistration {
  accountId: string;
  platform: DevicePlatform;
  token: string;
  environment?: Environment | undefined;
  topic?: string | undefined | null;
  /** The installation this token belongs to (see checkDeviceId); its other token of this channel goes. */
  deviceId?: string | undefined | null;
}

export interface RegisteredDevice {
  device: DeviceRow;
  created: boolean;
  /** The account the token belonged to before, when it moved from another account. */
  movedFrom: string | null;
  /**
   * Tokens removed: the device's previous token of this channel, and the devices of the account removed to keep
   * it within `maxDevices` (least recently updated first).
   */
  evicted: { platform: string; token: string }[];
}

/** Advisory lock classes of device registration (db/attributes.ts uses 7262532): per account, per device id. */
const DEVICE_LOCK_CLASS = 7262533;
const DEVICE_ID_LOCK_CLASS = 7262534;

/**
 * Registers (or re-registers) a device token for an account: new tokens are inserted, a token of another
 * account moves, a disabled token is enabled again. With `maxDevices`, the account keeps at most that many
 * devices: the ones beyond it are evicted in the same transaction, disabled ones first, then the least recently
 * updated (never the token just registered). Registrations of one account take a transaction-scoped advisory
 * lock, so two at once cannot both see room and together exceed the cap. Throws `DeviceTokenError` on a
 * malformed token.
 */
export async function registerDevice(
  db: Queryable,
  appId: string,
  input: DeviceRegistration,
  limits: { maxDevices?: number | undefined } = {},
): Promise<RegisteredDevice> {
  const platform = input.platform.name;
  const token = input.platform.normalizeToken(input.token);
  const topic = checkTopic(input.topic);
  const deviceId = checkDeviceId(input.deviceId);
  const environment = input.environment ?? 'production';
  const { maxDevices } = limits;
  const { row, evicted } = await db.transaction(async (tx) => {
    if (maxDevices !== undefined)
      await tx.execute(
        sql`select pg_advisory_xact_lock(${DEVICE_LOCK_CLASS}, hashtext(${appId} || '/' || ${input.accountId}))`,
      );
    // One token per channel per device: a new token of this channel replaces the device's old one.
    let replaced: { platform: string; token: string }[] = [];
    if (deviceId !== null) {
      await tx.execute(
        sql`select pg_advisory_xact_lock(${DEVICE_ID_LOCK_CLASS}, hashtext(${appId} || '/' || ${deviceId}))`,
      );
      replaced = [
        ...(await tx.execute<{ platform: string; token: string }>(sql`
          delete from devices where app_id = ${appId} and device_id = ${deviceId} and platform = ${platform}
            and token <> ${token}
          returning platform, token`)),
      ];
    }
    const rows = await tx.execute<{
      created: boolean;
      previous_account: string | null;
      created_at: Date;
      updated_at: Date;
    }>(sql`
      with prev as (
        select account_id from devices where app_id = ${appId} and platform = ${platform} and token = ${token}
      )
      insert into devices (app_id, platform, token, account_id, environment, topic, device_id)
      values (${appId}, ${platform}, ${token}, ${input.accountId}, ${environment}, ${topic}, ${deviceId})
      on conflict (app_id, platform, token) do update set
        account_id = excluded.account_id, environment = excluded.environment, topic = excluded.topic,
        device_id = excluded.device_id, updated_at = now(), disabled_at = null, disabled_reason = null
      returning (xmax = 0) as created, (select account_id from prev) as previous_account,
        created_at, updated_at`);
    // The cap counts devices: tokens of one device id are one. The device just registered is kept, then
    // devices with a live token, then the most recently updated.
    const evicted =
      maxDevices === undefined
        ? []
        : await tx.execute<{ platform: string; token: string }>(sql`
            with mine as (
              select platform, token, coalesce(device_id, platform || ' ' || token) as grp
              from devices where app_id = ${appId} and account_id = ${input.accountId}
            ), grouped as (
              select d.grp, bool_or(d.platform = ${platform} and d.token = ${token}) as current,
                bool_or(x.disabled_at is null) as live, max(x.updated_at) as last, max(x.created_at) as first
              from mine d join devices x
                on x.app_id = ${appId} and x.platform = d.platform and x.token = d.token
              group by d.grp
            ), beyond as (
              select grp from grouped
              order by current desc, live desc, last desc, first desc, grp
              offset ${maxDevices}
            )
            delete from devices d using mine m, beyond b
            where m.grp = b.grp and d.app_id = ${appId} and d.platform = m.platform and d.token = m.token
            returning d.platform, d.token`);
    return { row: rows[0], evicted: [...replaced, ...evicted] };
  });
  if (!row) throw new Error('device upsert returned nothing');
  const previous = row.previous_account;
  return {
    created: row.created,
    movedFrom: previous && previous !== input.accountId ? previous : null,
    evicted: evicted.map((e) => ({ platform: e.platform, token: e.token })),
    device: {
      appId,
      platform,
      token,
      accountId: input.accountId,
      environment,
      topic,
      deviceId,
      createdAt: new Date(row.created_at),
      updatedAt: new Date(row.updated_at),
      disabledAt: null,
      disabledReason: null,
    },
  };
}

/** The account's devices, enabled and disabled, oldest first. */
export async function listDevices(db: Queryable, appId: string, accountId: string): Promise<DeviceRow[]> {
  return db
    .select()
    .from(devices)
    .where(and(eq(devices.appId, appId), eq(devices.accountId, accountId)))
    .orderBy(asc(devices.createdAt), asc(devices.platform), asc(devices.token));
}

/**
 * Removes a token from an account. Only the account that holds it can remove it: a token that moved to
 * another account in the meantime stays there. Returns whether a row went.
 */
export async function removeDevice(
  db: Queryable,
  appId: string,
  accountId: string,
  platform: DevicePlatform,
  token: string,
): Promise<boolean> {
  let normalized: string;
  try {
    normalized = platform.normalizeToken(token);
  } catch {
    return false;
  }
  const gone = await db
    .delete(devices)
    .where(
      and(
        eq(devices.appId, appId),
        eq(devices.platform, platform.name),
        eq(devices.token, normalized),
        eq(devices.accountId, accountId),
      ),
    )
    .returning({ token: devices.token });
  return gone.length > 0;
}
