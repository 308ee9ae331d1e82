import { z } from 'zod';

/** A vivo Push app's server credentials, as stored for an app. */
export interface VivoCredentials {
  /** The numeric AppID. */
  appId: string;
  appKey: string;
  /** Signs the auth request (never sent itself). */
  appSecret: string;
}

const SECRET = z.string().min(1).max(256).regex(/^\S+$/, 'has no spaces');

export const vivoCredentialsSchema = z.strictObject({
  appId: z.string().regex(/^\d{1,18}$/, 'appId is the numeric AppID from the vivo developer console'),
  appKey: SECRET.meta({ description: 'The AppKey from the vivo developer console' }),
  appSecret: SECRET.meta({ description: 'The AppSecret from the vivo developer console (never returned)' }),
});

export const vivoCredentialsViewSchema = z.object({ appId: z.string(), appKey: z.string() });

export async function storeVivoCredentials(body: unknown): Promise<VivoCredentials> {
  return vivoCredentialsSchema.parse(body);
}

/** The ids, never the AppSecret. */
export function viewVivoCredentials(c: VivoCredentials): z.infer<typeof vivoCredentialsViewSchema> {
  return { appId: c.appId, appKey: c.appKey };
}
