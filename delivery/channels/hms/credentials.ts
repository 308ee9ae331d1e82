import { z } from 'zod';
import { type ClickAction, clickActionSchema } from '../click-action.ts';

/** An AppGallery Connect app's OAuth 2.0 client, as stored for a Herald app. */
export interface HmsCredentials {
  /** The app's OAuth 2.0 client ID (its App ID): the `client_id` of the token request and the v1 URL's. */
  clientId: string;
  clientSecret: string;
  /** When set, messages go to the v2 (multi-sender) URL of this project instead of the app's v1 URL. */
  projectId?: string;
  /** The click action of a push that names none (what Tencent's console sets for Huawei). */
  clickAction?: ClickAction;
}

export const hmsCredentialsSchema = z.strictObject({
  clientId: z
    .string()
    .regex(
      /^\d{1,32}$/,
      'clientId is the App ID (OAuth 2.0 client ID) shown in AppGallery Connect, digits only',
    ),
  clientSecret: z
    .string()
    .min(1)
    .max(512)
    .regex(/^\S+$/, 'clientSecret is the app secret (client secret), without spaces'),
  projectId: z
    .string()
    .regex(/^\d{1,32}$/, 'projectId is the project ID shown in AppGallery Connect, digits only')
    .optional(),
  clickAction: clickActionSchema.optional().meta({
    description: 'What tapping a notification does when the push names no `offline.hms.clickAction`',
  }),
});

export const hmsCredentialsViewSchema = z.object({
  clientId: z.string(),
  projectId: z.string().optional(),
  clickAction: clickActionSchema.optional(),
});

export function storeHmsCredentials(body: unknown): HmsCredentials {
  const parsed = hmsCredentialsSchema.parse(body);
  const stored: HmsCredentials = { clientId: parsed.clientId, clientSecret: parsed.clientSecret };
  if (parsed.projectId !== undefined) stored.projectId = parsed.projectId;
  if (parsed.clickAction !== undefined) stored.clickAction = parsed.clickAction;
  return stored;
}

/** Everything but the secret. */
export function viewHmsCredentials(c: HmsCredentials): z.infer<typeof hmsCredentialsViewSchema> {
  const view: z.infer<typeof hmsCredentialsViewSchema> = { clientId: c.clientId };
  if (c.projectId !== undefined) view.projectId = c.projectId;
  if (c.clickAction !== undefined) view.clickAction = c.clickAction;
  return view;
}
