/**
 * Web Push: notifications to browsers through their push services, per
 *   RFC 8030 (Generic Event Delivery Using HTTP Push, December 2016): the request, TTL, Urgency, Topic, answers;
 *   RFC 8291 (Message Encryption for Web Push, November 2017) with RFC 8188 `aes128gcm`: the payload;
 *   RFC 8292 (VAPID for Web Push, November 2017): the sender's identity;
 *   W3C Push API (Working Draft, 2024): the subscription browsers hand out (`endpoint`, `keys.p256dh`, `keys.auth`).
 * Its options are `offline.webpush`; its devices are subscriptions (./subscription.ts); its credentials the app's
 * VAPID key pair (./credentials.ts). docs/pushes.md and docs/webpush.md say how a site wires it.
 */
import type { Channel } from '../../channel.ts';
import { createWebPushClient } from './client.ts';
import {
  storeWebPushCredentials,
  viewWebPushCredentials,
  type WebPushCredentials,
  webPushCredentialsSchema,
  webPushCredentialsViewSchema,
} from './credentials.ts';
import { type WebPushOptions, webPushOptionsSchema } from './options.ts';
import { renderWebPush, type WebPushNotification } from './payload.ts';
import { normalizeWebPushToken } from './subscription.ts';

/** Which push services subscriptions may name (HERALD_WEBPUSH_PUSH_SERVICES), and an extra CA for tests' fakes. */
export interface WebPushSettings {
  /** Undefined: the browsers' push services (./push-services.ts). */
  webPushServices?: readonly string[] | undefined;
  webPushCa?: string | undefined;
}

export const webpush: Channel<
  'webpush',
  'webpush',
  WebPushCredentials,
  WebPushOptions,
  WebPushNotification,
  WebPushSettings
> = {
  name: 'webpush',
  label: 'Web Push',
  optionsKey: 'webpush',
  optionsSchema: webPushOptionsSchema,
  credentialsSchema: webPushCredentialsSchema,
  credentialsSummary: 'Set the Web Push VAPID key pair and contact (or have Herald generate the pair)',
  credentialsViewSchema: webPushCredentialsViewSchema,
  storeCredentials: async (body, _settings, current) => storeWebPushCredentials(body, current),
  viewCredentials: viewWebPushCredentials,
  normalizeToken: (token, settings) =>
    normalizeWebPushToken(token, settings ? { services: settings.webPushServices } : undefined),
  render: renderWebPush,
  createClient: (credentials, settings) =>
    createWebPushClient({
      credentials,
      services: settings.webPushServices,
      ...(settings.webPushCa ? { ca: settings.webPushCa } : {}),
    }),
};
