import { z } from 'zod';

/** `offline.xiaomi`: what only MiPush gets. */
export const xiaomiOptionsSchema = z.strictObject({
  /** `extra.channel_id`: a channel registered with Xiaomi (required for apps migrated since 2024-11). */
  channelId: z.string().min(1).max(200).optional(),
  /** `notify_id`: a notification with the same id replaces the one shown. */
  notifyId: z.number().int().min(0).max(2_147_483_647).optional(),
});
export type XiaomiOptions = z.infer<typeof xiaomiOptionsSchema>;
