import { z } from 'zod';

/** A Honor developer app's push credentials, as stored for a Herald app. */
export interface HonorCredentials {
  /** The app's APP ID: the sendMessage URL's. */
  appId: string;
  /** The OAuth 2.0 client of the app's push service: the token request's. */
  clientId: string;
  clientSecret: string;
}

const noSpaces = (what: string) => z.string().min(1).max(512).regex(/^\S+$/, `${what} has no spaces`);

export const honorCredentialsSchema = z.strictObject({
  appId: z
    .string()
    .regex(/^\d{1,32}$/, 'appId is the APP ID shown on the Honor push service page, digits only'),
  clientId: noSpaces('clientId').meta({ description: 'Client ID shown on the Honor push service page' }),
  clientSecret: noSpaces('clientSecret').meta({ description: 'Client Secret shown beside it' }),
});

export const honorCredentialsViewSchema = z.object({ appId: z.string(), clientId: z.string() });

export function storeHonorCredentials(body: unknown): HonorCredentials {
  const { appId, clientId, clientSecret } = honorCredentialsSchema.parse(body);
  return { appId, clientId, clientSecret };
}

/** The ids, never the secret. */
export function viewHonorCredentials(c: HonorCredentials): z.infer<typeof honorCredentialsViewSchema> {
  return { appId: c.appId, clientId: c.clientId };
}
