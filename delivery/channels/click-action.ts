import { z } from 'zod';

/**
 * What tapping a notification does, in the form Huawei Push Kit and Honor Push share (`click_action` /
 * `clickAction`): type 3 opens the app, type 1 opens an in-app page by `intent` URI or `action` name, type 2
 * opens an https URL.
 */
export const clickActionSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('app') }),
  z.strictObject({
    type: z.literal('intent'),
    intent: z
      .string()
      .max(2048)
      .regex(/#Intent;.*end$/, 'intent is an Android intent URI (Intent.toUri), "…#Intent;…;end"'),
  }),
  z.strictObject({ type: z.literal('action'), action: z.string().min(1).max(256) }),
  z.strictObject({
    type: z.literal('url'),
    url: z.url({ protocol: /^https$/, error: 'url must be an https:// URL' }).max(2048),
  }),
]);
export type ClickAction = z.infer<typeof clickActionSchema>;

/** The vendors' numbering; an intent carries `extras` as string extras (`S.<key>=<value>;` before `end`). */
export function vendorClickAction(
  click: ClickAction | undefined,
  extras?: Record<string, string>,
): { type: number; intent?: string; action?: string; url?: string } {
  switch (click?.type) {
    case 'intent':
      return { type: 1, intent: extras ? withStringExtras(click.intent, extras) : click.intent };
    case 'action':
      return { type: 1, action: click.action };
    case 'url':
      return { type: 2, url: click.url };
    default:
      return { type: 3 };
  }
}

/** Adds string extras to an intent URI, percent-encoded as Intent.toUri writes them. */
export function withStringExtras(intent: string, extras: Record<string, string>): string {
  const end = intent.lastIndexOf('end');
  const added = Object.entries(extras)
    .map(([k, v]) => `S.${encodeURIComponent(k)}=${encodeURIComponent(v)};`)
    .join('');
  return `${intent.slice(0, end)}${added}${intent.slice(end)}`;
}
