import { z } from 'zod';

/** `offline.oppo`: what only OPPO Push gets. */
export const oppoOptionsSchema = z.strictObject({
  /** `channel_id`: the Android notification channel (registered with OPPO as a private channel to lift the quota). */
  channelId: z.string().min(1).max(200).optional(),
  /** `category`: OPPO's message category (e.g. IM, ACCOUNT, ORDER, NEWS, MARKETING). */
  category: z
    .string()
    .regex(/^[A-Z][A-Z_]{0,31}$/, 'category is an OPPO category such as IM, ACCOUNT or NEWS')
    .optional(),
  /** `notify_level`: 1 notification bar only, 2 bar and lock screen, 16 bar, lock screen and banner. */
  notifyLevel: z.union([z.literal(1), z.literal(2), z.literal(16)]).optional(),
});
export type OppoOptions = z.infer<typeof oppoOptionsSchema>;
