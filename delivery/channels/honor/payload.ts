import type { CommonNotification } from '../../channel.ts';
import { type ClickAction, vendorClickAction } from '../click-action.ts';
import type { HonorOptions } from './options.ts';

/** What the Honor client sends: the common notification plus what only Honor Push has. */
export interface HonorNotification extends CommonNotification {
  importance?: 'LOW' | 'NORMAL';
  clickAction?: ClickAction;
  tag?: string;
}

/** Honor's longest time to live (15 days, "1296000s"). */
export const HONOR_MAX_TTL_SECONDS = 15 * 24 * 3600;

/** The common fields plus `offline.honor`. */
export function renderHonor(
  common: CommonNotification,
  options: HonorOptions | undefined,
): HonorNotification {
  const n: HonorNotification = { ...common };
  if (options?.importance !== undefined) n.importance = options.importance;
  if (options?.clickAction !== undefined) n.clickAction = options.clickAction;
  if (options?.tag !== undefined) n.tag = options.tag;
  return n;
}

/**
 * The sendMessage body without its `token` list, the same for every device of a push: a notification message
 * (android.notification, which must have a title and a clickAction: without a title the body is the title
 * too; without a click action it opens the app) whose `data` JSON string carries the custom data, `ext` and
 * the push id. `ttl` counts down to the push's expiry (at least 1 s).
 */
export function honorMessage(n: HonorNotification, now = Date.now()): Record<string, unknown> {
  const left = n.expiresAt ? Math.floor((n.expiresAt.getTime() - now) / 1000) : 0;
  const ttl = Math.min(HONOR_MAX_TTL_SECONDS, Math.max(1, left));
  return {
    // pushId last so that custom data can never hide which push this is.
    data: JSON.stringify(omitUndefined({ ...n.data, ext: n.ext, pushId: n.pushId })),
    android: {
      ttl: `${ttl}s`,
      notification: omitUndefined({
        title: n.title ?? n.body,
        body: n.body,
        importance: n.importance,
        clickAction: vendorClickAction(n.clickAction),
        tag: n.tag,
      }),
    },
  };
}

function omitUndefined<T extends Record<string, unknown>>(value: T): T {
  for (const key of Object.keys(value)) if (value[key] === undefined) delete value[key];
  return value;
}
