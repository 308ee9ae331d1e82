import type { CommonNotification } from '../../channel.ts';
import { type ClickAction, vendorClickAction } from '../click-action.ts';
import type { HmsOptions } from './options.ts';

/** What the HMS client sends: the common notification plus what only Huawei Push Kit has. */
export interface HmsNotification extends CommonNotification {
  channelId?: string;
  importance?: 'LOW' | 'NORMAL' | 'HIGH';
  category?: string;
  collapseKey?: number;
  clickAction?: ClickAction;
  extAsIntentParams?: boolean;
}

/** Huawei's longest time to live (15 days) and the limit of a message without its tokens. */
export const HMS_MAX_TTL_SECONDS = 15 * 24 * 3600;
export const HMS_MAX_MESSAGE_BYTES = 4096;

/** The common fields plus `offline.hms`. */
export function renderHms(common: CommonNotification, options: HmsOptions | undefined): HmsNotification {
  const n: HmsNotification = { ...common };
  if (options?.channelId !== undefined) n.channelId = options.channelId;
  if (options?.importance !== undefined) n.importance = options.importance;
  if (options?.category !== undefined) n.category = options.category;
  if (options?.collapseKey !== undefined) n.collapseKey = options.collapseKey;
  if (options?.clickAction !== undefined) n.clickAction = options.clickAction;
  if (options?.extAsIntentParams !== undefined) n.extAsIntentParams = options.extAsIntentParams;
  return n;
}

/**
 * The `message` of a v1/v2 messages:send without its `token` list, the same for every device of a push:
 * a notification message (android.notification) whose `data` JSON string carries the custom data, `ext` and
 * the push id. A notification needs a title: without one the body is the title too. `ttl` counts down to the
 * push's expiry (at least 1 s: retention 0 means deliver now or never).
 */
export function hmsMessage(
  n: HmsNotification,
  defaultClickAction?: ClickAction,
  now = Date.now(),
): Record<string, unknown> {
  const left = n.expiresAt ? Math.floor((n.expiresAt.getTime() - now) / 1000) : 0;
  const ttl = Math.min(HMS_MAX_TTL_SECONDS, Math.max(1, left));
  const click = n.clickAction ?? defaultClickAction;
  const extras =
    n.extAsIntentParams && n.ext !== undefined && click?.type === 'intent' ? { ext: n.ext } : undefined;
  const customSound = n.sound !== undefined && n.sound !== 'default' ? n.sound : undefined;
  return {
    // pushId last so that custom data can never hide which push this is.
    data: JSON.stringify(omitUndefined({ ...n.data, ext: n.ext, pushId: n.pushId })),
    android: omitUndefined({
      collapse_key: n.collapseKey,
      category: n.category,
      ttl: `${ttl}s`,
      notification: omitUndefined({
        title: n.title ?? n.body,
        body: n.body,
        channel_id: n.channelId,
        importance: n.importance,
        sound: customSound,
        default_sound: customSound === undefined,
        click_action: vendorClickAction(click, extras),
      }),
    }),
  };
}

function omitUndefined<T extends Record<string, unknown>>(value: T): T {
  for (const key of Object.keys(value)) if (value[key] === undefined) delete value[key];
  return value;
}
