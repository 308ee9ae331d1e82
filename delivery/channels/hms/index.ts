/**
 * Huawei Push Kit (HMS Core) for Android, after Huawei's server API reference "Sending Downlink Messages"
 * (developer.huawei.com, HMSCore-References https-send-api-0000001050986197: the V5 page and the current one,
 * which requires TLS 1.2 since 2023-02-28), "Client Credentials" (OAuth 2.0, oauth2/v3/token), and the result
 * codes of Huawei's FAQ on them (HMS Core's blog post 125866284, 2022) and its push-scenariozed-api-response page:
 * - auth: form `grant_type=client_credentials&client_id&client_secret` → `{access_token, expires_in}` (3,600 s),
 *   sent as `Authorization: Bearer`; refreshed before expiry and once on 80200001 / 80200003;
 * - send: POST /v1/{clientId}/messages:send (or /v2/{projectId}/… for a multi-sender project), one `message`
 *   for up to 1,000 `token`s, at most 4,096 bytes without them; `android.category`, `collapse_key`, `ttl`
 *   (≤ 15 days), `notification.importance`, `channel_id`, `click_action` (type 1 intent/action, 2 URL, 3 app);
 * - answers: 80000000 sent; 80100000 partly, the failed tokens in `msg`; 80300007 all tokens invalid; HTTP 503
 *   flow control; 81000001 internal error.
 * Unconfirmed (from open-source senders — gorush, HMS-Core's server demos — not Huawei's pages): the `msg` of
 * 80100000 in v1 (`{"success","failure","illegal_tokens":[…]}`; v3's `illegalTokens` by reason is read too),
 * the HTTP status of each business code (the code is read first), a Retry-After on flow control, the OAuth
 * error body, and whether a TTL of 0 is accepted (1 s is the shortest sent).
 */
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
