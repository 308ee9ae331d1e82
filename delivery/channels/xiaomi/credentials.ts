import { z } from 'zod';

/** A MiPush app's server credentials, as stored for an app. */
export interface XiaomiCredentials {
  /** The AppSecret, sent as `Authorization: key=<AppSecret>`. */
  appSecret: string;
  /** The Android package name (`restricted_package_name`). */
  packageName: string;
}

const NO_SPACE = /^\S+$/;

export const xiaomiCredentialsSchema = z.strictObject({
  appSecret: z
    .string()
    .min(1)
    .max(256)
    .regex(NO_SPACE, 'appSecret has no spaces')
    .meta({ description: 'The AppSecret from the Xiaomi developer console (never returned)' }),
  packageName: z
    .string()
    .max(255)
    .regex(
      /^[A-Za-z][\w]*(\.[A-Za-z][\w]*)+$/,
      'packageName is the Android package name, e.g. com.example.app',
    ),
});

export const xiaomiCredentialsViewSchema = z.object({ packageName: z.string() });

export async function storeXiaomiCredentials(body: unknown): Promise<XiaomiCredentials> {
  return xiaomiCredentialsSchema.parse(body);
}

/** Only the package, never the secret. */
export function viewXiaomiCredentials(c: XiaomiCredentials): z.infer<typeof xiaomiCredentialsViewSchema> {
  return { packageName: c.packageName };
}
