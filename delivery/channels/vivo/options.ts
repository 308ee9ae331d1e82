import { z } from 'zod';

/** `offline.vivo`: what only vivo Push gets. */
export const vivoOptionsSchema = z.strictObject({
  /** `classification`: 0 operations (vivo's default, counted against the daily operations quota), 1 system. */
  classification: z.union([z.literal(0), z.literal(1)]).optional(),
  /** `category`: vivo's secondary category (e.g. IM, ACCOUNT, ORDER, NEWS, MARKETING). */
  category: z
    .string()
    .regex(/^[A-Z][A-Z_]{0,31}$/, 'category is a vivo category such as IM, ACCOUNT or NEWS')
    .optional(),
  /** `notifyType`: 1 silent, 2 sound, 3 vibration, 4 sound and vibration (default 4). */
  notifyType: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]).optional(),
});
export type VivoOptions = z.infer<typeof vivoOptionsSchema>;
