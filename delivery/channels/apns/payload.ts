import type http2 from 'node:http2';
import type { CommonNotification } from '../../channel.ts';
import type { ApnsOptions } from './options.ts';

/** What the APNs client sends: the common notification plus what only APNs has. */
export interface ApnsNotification extends CommonNotification {
  subtitle?: string;
  /** Accepted as Tencent's ApnsInfo.Image; not part of the payload (it needs a notification service extension). */
  image?: string;
  mutableContent?: boolean;
  /** apns-collapse-id */
  collapseId?: string;
  priority?: 'high' | 'normal';
}

/** The common fields plus `offline.apns`; its title wins over the common one, the common sound over its own. */
export function renderApns(common: CommonNotification, options: ApnsOptions | undefined): ApnsNotification {
  const n: ApnsNotification = { ...common };
  if (options?.title !== undefined) n.title = options.title;
  if (n.sound === undefined && options?.sound !== undefined) n.sound = options.sound;
  if (options?.subtitle !== undefined) n.subtitle = options.subtitle;
  if (options?.image !== undefined) n.image = options.image;
  if (options?.mutableContent !== undefined) n.mutableContent = options.mutableContent;
  if (options?.collapseId !== undefined) n.collapseId = options.collapseId;
  if (options?.priority !== undefined) n.priority = options.priority;
  return n;
}

/** The JSON body Apple receives: `aps` plus the custom keys beside it. */
export function apnsPayload(n: ApnsNotification): Record<string, unknown> {
  const aps = omitUndefined({
    alert: omitUndefined({ title: n.title, subtitle: n.subtitle, body: n.body }),
    badge: n.badge,
    sound: n.sound,
    'mutable-content': n.mutableContent ? 1 : undefined,
  });
  // Custom data first so that it can never overwrite `aps` or `ext`.
  // pushId beside aps, as FCM's data carries it: the app reports opens with it (POST /v1/engagement).
  return omitUndefined({ ...n.data, aps, ext: n.ext, pushId: n.pushId });
}

/** A page's headers; `:path`, `authorization` and `apns-topic` are set per request. */
export function apnsHeaders(n: ApnsNotification): http2.OutgoingHttpHeaders {
  const headers: http2.OutgoingHttpHeaders = {
    ':method': 'POST',
    ':path': '',
    authorization: '',
    'apns-topic': '',
    'apns-push-type': 'alert',
    'apns-priority': n.priority === 'normal' ? '5' : '10',
    // 0 = deliver now or never; otherwise Apple stores it until this epoch second.
    'apns-expiration': n.expiresAt ? String(Math.floor(n.expiresAt.getTime() / 1000)) : '0',
    'content-type': 'application/json',
  };
  // Added rather than deleted when unset: the object is reused for every request of the page.
  if (n.collapseId !== undefined) headers['apns-collapse-id'] = n.collapseId;
  return headers;
}

function omitUndefined<T extends Record<string, unknown>>(value: T): T {
  for (const key of Object.keys(value)) if (value[key] === undefined) delete value[key];
  return value;
}
