import type { CommonNotification } from '../../channel.ts';
import type { WebPushOptions } from './options.ts';

/** What the Web Push client sends: the common notification plus what only Web Push has. */
export interface WebPushNotification extends CommonNotification {
  icon?: string;
  image?: string;
  badgeIcon?: string;
  tag?: string;
  renotify?: boolean;
  requireInteraction?: boolean;
  silent?: boolean;
  url?: string;
  urgency?: 'very-low' | 'low' | 'normal' | 'high';
  topic?: string;
}

/** The common fields plus `offline.webpush`; its title wins over the common one. */
export function renderWebPush(
  common: CommonNotification,
  options: WebPushOptions | undefined,
): WebPushNotification {
  const n: WebPushNotification = { ...common };
  if (!options) return n;
  const { title, ...rest } = options;
  if (title !== undefined) n.title = title;
  for (const [key, value] of Object.entries(rest))
    if (value !== undefined) Object.assign(n, { [key]: value });
  return n;
}

/**
 * The JSON the service worker receives (decrypted) in its `push` event: what `showNotification` takes, the
 * URL to open, and Herald's ids. `appBadge` is the common badge number (for `navigator.setAppBadge`); the
 * common `sound` has no Web counterpart and is not sent.
 */
export function webPushPayload(n: WebPushNotification): Record<string, unknown> {
  return omitUndefined({
    title: n.title,
    body: n.body,
    icon: n.icon,
    image: n.image,
    badge: n.badgeIcon,
    tag: n.tag,
    renotify: n.renotify,
    requireInteraction: n.requireInteraction,
    silent: n.silent,
    url: n.url,
    appBadge: n.badge,
    data: n.data,
    ext: n.ext,
    pushId: n.pushId,
  });
}

/** RFC 8030 headers shared by every subscription of a page: TTL (the push's remaining retention), Urgency, Topic. */
export function webPushHeaders(n: WebPushNotification, now = Date.now()): Record<string, string> {
  const ttl = n.expiresAt ? Math.max(0, Math.floor((n.expiresAt.getTime() - now) / 1000)) : 0;
  const headers: Record<string, string> = {
    ttl: String(ttl),
    'content-encoding': 'aes128gcm',
    'content-type': 'application/octet-stream',
  };
  if (n.urgency !== undefined) headers.urgency = n.urgency;
  if (n.topic !== undefined) headers.topic = n.topic;
  return headers;
}

function omitUndefined<T extends Record<string, unknown>>(value: T): T {
  for (const key of Object.keys(value)) if (value[key] === undefined) delete value[key];
  return value;
}
