import { z } from 'zod';
import { clickActionSchema } from '../click-action.ts';

/** `offline.hms`: what only Huawei Push Kit gets. */
export const hmsOptionsSchema = z.strictObject({
  /** android.notification.channel_id (Tencent's HuaWeiChannelID). */
  channelId: z.string().min(1).max(200).optional(),
  /** android.notification.importance (Tencent's HuaWeiImportance): LOW marketing, NORMAL service. */
  importance: z.enum(['LOW', 'NORMAL', 'HIGH']).optional(),
  /** android.category, the self-classification Huawei approved (Tencent's HuaWeiCategory): IM, VOIP, … */
  category: z
    .string()
    .regex(/^[A-Z][A-Z_]{0,63}$/, 'hms.category is a Huawei message category such as IM or SUBSCRIPTION')
    .optional(),
  /** android.collapse_key: -1 (default) shows every message, 0–100 keeps the latest of the group offline. */
  collapseKey: z.number().int().min(-1).max(100).optional(),
  /** android.notification.click_action; default the credentials' clickAction, else open the app. */
  clickAction: clickActionSchema.optional(),
  /** With an intent click action, `ext` is also an extra of the intent (Tencent's ExtAsHuaweiIntentParam 1). */
  extAsIntentParams: z.boolean().optional(),
});
export type HmsOptions = z.infer<typeof hmsOptionsSchema>;
