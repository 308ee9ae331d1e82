import { DeviceTokenError } from '../../../db/devices.ts';
import type { Channel } from '../../channel.ts';
import { createApnsClient } from './client.ts';
import {
  type ApnsCredentials,
  apnsCredentialsSchema,
  apnsCredentialsViewSchema,
  storeApnsCredentials,
  viewApnsCredentials,
} from './credentials.ts';
import { type ApnsOptions, apnsOptionsSchema } from './options.ts';
import { type ApnsNotification, renderApns } from './payload.ts';

/** Where the APNs client connects; tests and private gateways set them (APNS_URL, APNS_SANDBOX_URL). */
export interface ApnsSettings {
  apnsProductionUrl?: string | undefined;
  apnsSandboxUrl?: string | undefined;
  /** Extra CA trusted for APNs (tests and private gateways). */
  apnsCa?: string | undefined;
}

const TOKEN = /^[0-9a-f]{64,200}$/;

/** Apple Push Notification service, token-based (.p8) authentication, HTTP/2. */
export const apns: Channel<'apns', 'apns', ApnsCredentials, ApnsOptions, ApnsNotification, ApnsSettings> = {
  name: 'apns',
  label: 'APNs',
  optionsKey: 'apns',
  optionsSchema: apnsOptionsSchema,
  credentialsSchema: apnsCredentialsSchema,
  credentialsSummary: 'Set the APNs token-auth key (.p8)',
  credentialsViewSchema: apnsCredentialsViewSchema,
  storeCredentials: storeApnsCredentials,
  viewCredentials: viewApnsCredentials,
  /**
   * Hex, 64 digits today and up to 200 for longer future tokens, stored lower-case so one token is never two
   * rows.
   */
  normalizeToken(token) {
    const t = token.toLowerCase();
    if (!TOKEN.test(t) || t.length % 2 !== 0)
      throw new DeviceTokenError('an APNs device token is an even number (64–200) of hex digits');
    return t;
  },
  render: renderApns,
  createClient: (credentials, settings) =>
    createApnsClient({
      credentials,
      ...(settings.apnsProductionUrl ? { productionUrl: settings.apnsProductionUrl } : {}),
      ...(settings.apnsSandboxUrl ? { sandboxUrl: settings.apnsSandboxUrl } : {}),
      ...(settings.apnsCa ? { ca: settings.apnsCa } : {}),
    }),
};
