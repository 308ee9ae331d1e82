import { z } from 'zod';
import { clickActionSchema } from '../click-action.ts';

/** `offline.honor`: what only Honor Push gets. */
export const honorOptionsSchema = z.strictObject({
  /** android.notification.importance (Tencent's HonorImportance): LOW marketing, NORMAL service. */
  importance: z.enum(['LOW', 'NORMAL']).optional(),
  /** android.notification.clickAction; default open the app. */
  clickAction: clickActionSchema.optional(),
  /** android.notification.tag: a newer notification with the same tag replaces the shown one. */
  tag: z.string().min(1).max(128).optional(),
});
export type HonorOptions = z.infer<typeof honorOptionsSchema>;
