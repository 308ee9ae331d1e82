import { DeviceTokenError } from '../../../db/devices.ts';
import type { Channel } from '../../channel.ts';
import { createFcmClient } from './client.ts';
import {
  type FcmCredentials,
  fcmCredentialsSchema,
  fcmCredentialsViewSchema,
  storeFcmCredentials,
  viewFcmCredentials,
} from './credentials.ts';
import { type FcmOptions, fcmOptionsSchema } from './options.ts';
import { type FcmNotification, renderFcm } from './payload.ts';

/** Where the FCM client connects; tests and private gateways set them (FCM_URL). */
export interface FcmSettings {
  fcmUrl?: string | undefined;
  /** Extra CA trusted for FCM and its token endpoint (tests and private gateways). */
  fcmCa?: string | undefined;
  /** Token endpoints allowed besides Google's (HERALD_ALLOWED_TOKEN_URIS; tests' fakes). */
  fcmAllowedTokenUris?: readonly string[] | undefined;
}

const TOKEN_MAX = 4096;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters and spaces are what is refused
const TOKEN_BAD = /[\s\u0000-\u001f\u007f]/;

/** Firebase Cloud Messaging, HTTP v1 API with a service account. Its options are `offline.android`. */
export const fcm: Channel<'fcm', 'android', FcmCredentials, FcmOptions, FcmNotification, FcmSettings> = {
  name: 'fcm',
  label: 'FCM',
  fallback: true,
  optionsKey: 'android',
  optionsSchema: fcmOptionsSchema,
  credentialsSchema: fcmCredentialsSchema,
  credentialsSummary: 'Set the FCM service account',
  credentialsViewSchema: fcmCredentialsViewSchema,
  storeCredentials: (body, settings) => storeFcmCredentials(body, settings.fcmAllowedTokenUris),
  viewCredentials: viewFcmCredentials,
  /** Opaque, 1–4096 characters without spaces or control characters. */
  normalizeToken(token) {
    if (!token.length || token.length > TOKEN_MAX)
      throw new DeviceTokenError(`an FCM registration token is 1–${TOKEN_MAX} characters`);
    if (TOKEN_BAD.test(token))
      throw new DeviceTokenError('an FCM registration token has no spaces or control characters');
    return token;
  },
  render: renderFcm,
  createClient: (credentials, settings) =>
    createFcmClient({
      credentials,
      ...(settings.fcmUrl ? { baseUrl: settings.fcmUrl } : {}),
      ...(settings.fcmCa ? { ca: settings.fcmCa } : {}),
      ...(settings.fcmAllowedTokenUris ? { allowedTokenUris: settings.fcmAllowedTokenUris } : {}),
    }),
};
