import { z } from 'zod';
import { checkPrivateKey } from '../keys.ts';

/** A Firebase service account, as stored for an app. */
export interface FcmCredentials {
  projectId: string;
  clientEmail: string;
  serviceAccount: Record<string, unknown>;
}

export const fcmCredentialsSchema = z.strictObject({
  serviceAccount: z
    .looseObject({
      type: z.literal('service_account', 'serviceAccount.type must be "service_account"'),
      project_id: z.string().min(1),
      client_email: z.email(),
      private_key: z.string().includes('BEGIN PRIVATE KEY'),
      token_uri: z.url().optional(),
    })
    .meta({ description: 'The service-account JSON downloaded from the Firebase console' }),
});

export const fcmCredentialsViewSchema = z.object({ projectId: z.string(), clientEmail: z.string() });

export async function storeFcmCredentials(body: unknown): Promise<FcmCredentials> {
  const { serviceAccount } = fcmCredentialsSchema.parse(body);
  await checkPrivateKey(serviceAccount.private_key, 'RS256', 'serviceAccount.private_key');
  return { projectId: serviceAccount.project_id, clientEmail: serviceAccount.client_email, serviceAccount };
}

/** Only the project and the account's address, never the key. */
export function viewFcmCredentials(c: FcmCredentials): z.infer<typeof fcmCredentialsViewSchema> {
  return { projectId: c.projectId, clientEmail: c.clientEmail };
}
