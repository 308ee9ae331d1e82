import { z } from 'zod';
import { bytesMax, absoluteUrl as url, utf8Bytes } from './text.ts';

export { bytesMax, utf8Bytes };

/** The element kinds of Tencent's MsgBody, in Herald's own spelling. */
export const elementSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('text'), text: z.string().min(1, 'text must not be empty').max(12_000) }),
  z.strictObject({
    type: z.literal('custom'),
    data: z.string().max(12_000).default(''),
    desc: z.string().max(1_000).optional(),
    ext: z.string().max(4_000).optional(),
    sound: z.string().max(200).optional(),
  }),
  z.strictObject({
    type: z.literal('image'),
    url,
    width: z.number().int().positive().optional(),
    height: z.number().int().positive().optional(),
  }),
  z.strictObject({
    type: z.literal('file'),
    url,
    name: z.string().max(200).optional(),
    size: z.number().int().min(0).optional(),
  }),
  z.strictObject({
    type: z.literal('sound'),
    url,
    seconds: z.number().int().min(0).optional(),
    size: z.number().int().min(0).optional(),
  }),
  z.strictObject({
    type: z.literal('video'),
    url,
    thumbUrl: url.optional(),
    seconds: z.number().int().min(0).optional(),
  }),
  z.strictObject({
    type: z.literal('location'),
    latitude: z.number(),
    longitude: z.number(),
    desc: z.string().max(500).default(''),
  }),
  z.strictObject({
    type: z.literal('face'),
    index: z.number().int(),
    data: z.string().max(1_000).default(''),
  }),
]);
export type Element = z.infer<typeof elementSchema>;

/** A message's elements: 1–20, at most one custom, at most 12 KB of JSON (a localized variant's too). */
export const elementsSchema = z
  .array(elementSchema)
  .min(1, 'a message needs at least one element')
  .max(20)
  .refine((els) => els.filter((e) => e.type === 'custom').length <= 1, {
    message: 'a message may hold at most one custom element',
  })
  .refine((els) => utf8Bytes(JSON.stringify(els)) <= 12_288, {
    message: 'the message body must be at most 12 KB of JSON',
  });

export const messageSchema = z.strictObject({
  elements: elementsSchema,
  from: z.string().min(1).max(32).optional(),
});
export type Message = z.infer<typeof messageSchema>;

export { commonOfflineOptionsSchema, type OfflineOptions } from './offline-options.ts';

/** Tencent's rule for the notification text: Desc, else each element's push text; none means no notification. */
export function notificationBody(
  message: { elements: readonly Element[] },
  offline: { body?: string | undefined },
): string | undefined {
  if (offline.body) return offline.body;
  const parts = message.elements
    .map((e) => {
      switch (e.type) {
        case 'text':
          return e.text;
        case 'custom':
          return e.desc;
        case 'location':
          return '[Location]';
        case 'face':
          return '[Face]';
        case 'image':
          return '[Image]';
        case 'file':
          return '[File]';
        case 'sound':
          return '[Voice]';
        case 'video':
          return '[Video]';
        default:
          return undefined;
      }
    })
    .filter((t): t is string => Boolean(t));
  return parts.length ? parts.join(' ') : undefined;
}
