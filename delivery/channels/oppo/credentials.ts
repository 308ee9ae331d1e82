import { z } from 'zod';

/** An OPPO Push app's server credentials, as stored for an app. */
export interface OppoCredentials {
  appKey: string;
  /** The MasterSecret that signs the auth request (never sent itself). */
  masterSecret: string;
}

const SECRET = z.string().min(1).max(256).regex(/^\S+$/, 'has no spaces');

export const oppoCredentialsSchema = z.strictObject({
  appKey: SECRET.meta({ description: 'The AppKey from the OPPO Push console' }),
  masterSecret: SECRET.meta({ description: 'The MasterSecret from the OPPO Push console (never returned)' }),
});

export const oppoCredentialsViewSchema = z.object({ appKey: z.string() });

export async function storeOppoCredentials(body: unknown): Promise<OppoCredentials> {
  return oppoCredentialsSchema.parse(body);
}

/** Only the AppKey, never the MasterSecret. */
export function viewOppoCredentials(c: OppoCredentials): z.infer<typeof oppoCredentialsViewSchema> {
  return { appKey: c.appKey };
}
