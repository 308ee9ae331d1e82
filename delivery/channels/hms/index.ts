import { DeviceTokenError } from '../../../db/devices.ts';
import type { Channel } from '../../channel.ts';
import { createHmsClient } from './client.ts';
import {
  type HmsCredentials,
  hmsCredentialsSchema,
  hmsCredentialsViewSchema,
  storeHmsCredentials,
  viewHmsCredentials,
} from './credentials.ts';
import { type HmsOptions, hmsOptionsSchema } from './options.ts';
import { type HmsNotification, renderHms } from './payload.ts';

/** Where the HMS client connects; tests and private gateways set them (HMS_URL, HMS_TOKEN_URL). */
export interface HmsSettings {
  hmsUrl?: string | undefined;
  hmsTokenUrl?: string | undefined;
  /** Extra CA trusted for Huawei's endpoints (tests and private gateways). */
  hmsCa?: string | undefined;
}

const TOKEN_MAX = 1024;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters and spaces are what is refused
const TOKEN_BAD = /[\s\u0000-\u001f\u007f]/;

/** Huawei Push Kit (HMS Core) for Android, batch messages:send with OAuth 2.0. Its options are `offline.hms`. */
export const hms: Channel<'hms', 'hms', HmsCredentials, HmsOptions, HmsNotification, HmsSettings> = {
  name: 'hms',
  label: 'Huawei Push Kit',
  optionsKey: 'hms',
  optionsSchema: hmsOptionsSchema,
  credentialsSchema: hmsCredentialsSchema,
  credentialsSummary: 'Set the Huawei Push Kit app credentials (App ID and secret)',
  credentialsViewSchema: hmsCredentialsViewSchema,
  storeCredentials: async (body) => storeHmsCredentials(body),
  viewCredentials: viewHmsCredentials,
  /** Opaque, 1–1024 characters without spaces or control characters. */
  normalizeToken(token) {
    if (!token.length || token.length > TOKEN_MAX)
      throw new DeviceTokenError(`a Huawei push token is 1–${TOKEN_MAX} characters`);
    if (TOKEN_BAD.test(token))
      throw new DeviceTokenError('a Huawei push token has no spaces or control characters');
    return token;
  },
  render: renderHms,
  createClient: (credentials, settings) =>
    createHmsClient({
      credentials,
      ...(settings.hmsUrl ? { baseUrl: settings.hmsUrl } : {}),
      ...(settings.hmsTokenUrl ? { tokenUrl: settings.hmsTokenUrl } : {}),
      ...(settings.hmsCa ? { ca: settings.hmsCa } : {}),
    }),
};
