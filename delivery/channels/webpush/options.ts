import { z } from 'zod';
import { bytesMax } from '../../../core/text.ts';

const URL_MAX = 2048;
const httpsUrl = (what: string) =>
  z
    .url({ protocol: /^https$/, error: `${what} must be an https:// URL` })
    .max(URL_MAX, `${what} must be at most ${URL_MAX} characters`);

/**
 * `offline.webpush`: what only Web Push gets. The notification fields are the browser's NotificationOptions
 * the service worker passes to `showNotification`; `urgency` and `topic` are RFC 8030 request headers the push
 * service acts on.
 */
export const webPushOptionsSchema = z.strictObject({
  /** Replaces the common title for browsers. */
  title: bytesMax(200, 'webpush.title').optional(),
  icon: httpsUrl('webpush.icon').optional(),
  image: httpsUrl('webpush.image').optional(),
  /** NotificationOptions.badge: a small monochrome image (Android's status bar). Not the number badge. */
  badgeIcon: httpsUrl('webpush.badgeIcon').optional(),
  /** A shown notification with the same tag is replaced rather than stacked. */
  tag: bytesMax(200, 'webpush.tag').optional(),
  /** With a tag: alert again when replacing. */
  renotify: z.boolean().optional(),
  requireInteraction: z.boolean().optional(),
  silent: z.boolean().optional(),
  /** What a click opens: an https:// URL, or a path on the site (`/inbox/42`). */
  url: z
    .string()
    .max(URL_MAX)
    .refine(
      (u) => /^\/(?!\/)/.test(u) || (URL.canParse(u) && new URL(u).protocol === 'https:'),
      'webpush.url must be an https:// URL or a path starting with one /',
    )
    .optional(),
  /** RFC 8030 §5.3: how soon the push service should deliver (battery vs. latency); default normal. */
  urgency: z.enum(['very-low', 'low', 'normal', 'high']).optional(),
  /** RFC 8030 §5.4: a message not yet delivered with the same topic is replaced by this one. */
  topic: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/, 'webpush.topic is 1–32 characters of A–Z a–z 0–9 _ -')
    .optional(),
});
export type WebPushOptions = z.infer<typeof webPushOptionsSchema>;
