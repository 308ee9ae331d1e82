import { z } from 'zod';
import { bytesMax } from './text.ts';

/**
 * The offline options every channel gets (title, body, sound, badge, ext…). Each channel's own options sit
 * beside them under its key (`apns`, `android`); delivery/offline-options.ts composes the whole schema from
 * the channel registry.
 */
export const commonOfflineOptionsSchema = z.strictObject({
  /** false = no APNs/FCM notification (Tencent's PushFlag 1); stored copies still wait for the user. */
  push: z.boolean().default(true),
  title: bytesMax(200, 'title').optional(),
  /** Notification text; by default derived from the elements as Tencent does. */
  body: bytesMax(1_000, 'body').optional(),
  ext: bytesMax(3_000, 'ext').optional(),
  sound: z.string().max(200).optional(),
  /** The badge number to show; absent leaves the badge alone (Tencent's BadgeMode 1). */
  badge: z.number().int().min(0).max(99_999).optional(),
});

/** A push's offline options as stored: the common ones, and each channel's own under its key. */
export type OfflineOptions = z.output<typeof commonOfflineOptionsSchema> & {
  readonly [channelOptionsKey: string]: unknown;
};
