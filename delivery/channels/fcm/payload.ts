import type { CommonNotification } from '../../channel.ts';
import type { FcmOptions } from './options.ts';

/** What the FCM client sends: the common notification plus what only FCM has. */
export interface FcmNotification extends CommonNotification {
  image?: string;
  /** android.collapse_key */
  collapseId?: string;
  priority?: 'high' | 'normal';
  /** Android notification channel. */
  channelId?: string;
}

/** FCM's longest Android TTL (4 weeks). */
const MAX_TTL_SECONDS = 28 * 24 * 3600;

/** The common fields plus `offline.android`; the common sound wins over its own. */
export function renderFcm(common: CommonNotification, options: FcmOptions | undefined): FcmNotification {
  const n: FcmNotification = { ...common };
  if (n.sound === undefined && options?.sound !== undefined) n.sound = options.sound;
  if (options?.collapseKey !== undefined) n.collapseId = options.collapseKey;
  if (options?.priority !== undefined) n.priority = options.priority;
  if (options?.channelId !== undefined) n.channelId = options.channelId;
  return n;
}

/** The v1 `message` without its `token`: the same for every device of a push. */
export function fcmMessage(n: FcmNotification, now = Date.now()): Record<string, unknown> {
  const ttl = n.expiresAt ? Math.floor((n.expiresAt.getTime() - now) / 1000) : 0;
  const androidNotification = omitUndefined({ channel_id: n.channelId, sound: n.sound });
  return {
    notification: omitUndefined({ title: n.title, body: n.body, image: n.image }),
    // pushId last so that custom data can never hide which push this is.
    data: omitUndefined({ ...n.data, ext: n.ext, pushId: n.pushId }),
    android: omitUndefined({
      ttl: `${Math.min(MAX_TTL_SECONDS, Math.max(0, ttl))}s`,
      priority: n.priority === 'normal' ? 'NORMAL' : 'HIGH',
      collapse_key: n.collapseId,
      notification: Object.keys(androidNotification).length > 0 ? androidNotification : undefined,
    }),
  };
}

/**
 * The body of messages:send for every device of a page, `{"message":{"token":<token>,…message}}`: the same
 * bytes as JSON.stringify of the whole request, built from the page's two halves around each device's token
 * rather than by stringifying the message per device. (A Buffer per body, copied from Buffer halves, measured
 * no cheaper than this string, which the stream encodes natively: docs/performance.md.)
 */
export function fcmBodies(message: Record<string, unknown>): (token: string) => string {
  const rest = JSON.stringify(message).slice(1);
  const suffix = rest === '}' ? '}}' : `,${rest}}`;
  return (token) => `{"message":{"token":${JSON.stringify(token)}${suffix}`;
}

function omitUndefined<T extends Record<string, unknown>>(value: T): T {
  for (const key of Object.keys(value)) if (value[key] === undefined) delete value[key];
  return value;
}
