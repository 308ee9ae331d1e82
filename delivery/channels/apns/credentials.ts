import { z } from 'zod';
import { checkPrivateKey } from '../keys.ts';

/** A token-auth key (.p8) of an Apple developer account, as stored for an app. */
export interface ApnsCredentials {
  keyId: string;
  teamId: string;
  topic: string;
  privateKey: string;
}

export const apnsCredentialsSchema = z.strictObject({
  keyId: z
    .string()
    .regex(/^[A-Z0-9]{10}$/, 'keyId is the 10-character id of the .p8 key in your Apple account'),
  teamId: z.string().regex(/^[A-Z0-9]{10}$/, 'teamId is your 10-character Apple team id'),
  topic: z.string().min(1).max(255).meta({ description: 'The app bundle id' }),
  privateKey: z
    .string()
    .includes('BEGIN PRIVATE KEY', { message: 'privateKey is the PEM text of the .p8 file' }),
});

export const apnsCredentialsViewSchema = z.object({
  keyId: z.string(),
  teamId: z.string(),
  topic: z.string(),
});

export async function storeApnsCredentials(body: unknown): Promise<ApnsCredentials> {
  const credentials = apnsCredentialsSchema.parse(body);
  await checkPrivateKey(credentials.privateKey, 'ES256', 'privateKey');
  return credentials;
}

/** Only the ids that name the key, never the key. */
export function viewApnsCredentials(c: ApnsCredentials): z.infer<typeof apnsCredentialsViewSchema> {
  return { keyId: c.keyId, teamId: c.teamId, topic: c.topic };
}
