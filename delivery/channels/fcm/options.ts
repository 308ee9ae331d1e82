import { z } from 'zod';

/** `offline.android`: what only FCM gets. */
export const fcmOptionsSchema = z.strictObject({
  channelId: z.string().max(200).optional(),
  collapseKey: z.string().max(200).optional(),
  priority: z.enum(['high', 'normal']).optional(),
  sound: z.string().max(200).optional(),
});
export type FcmOptions = z.infer<typeof fcmOptionsSchema>;
