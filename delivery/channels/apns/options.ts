import { z } from 'zod';
import { absoluteUrl, bytesMax } from '../../../core/text.ts';

/** `offline.apns`: what only APNs gets. */
export const apnsOptionsSchema = z.strictObject({
  title: bytesMax(200, 'apns.title').optional(),
  subtitle: bytesMax(200, 'apns.subtitle').optional(),
  image: absoluteUrl.optional(),
  mutableContent: z.boolean().optional(),
  collapseId: bytesMax(64, 'apns.collapseId').optional(),
  priority: z.enum(['high', 'normal']).optional(),
  sound: z.string().max(200).optional(),
});
export type ApnsOptions = z.infer<typeof apnsOptionsSchema>;
