/**
 * Honor Push for Android, after Honor's server API reference "下行消息" (developer.honor.com/cn/docs/11002/
 * reference/downlink-message) and its guide "发送下行消息" (2023-11-01):
 * - auth: form `grant_type=client_credentials&client_id&client_secret` at iam.developer.honor.com →
 *   `{access_token, expires_in}` (3,600 s), sent as `Authorization: Bearer` with a `timestamp` header (epoch ms);
 * - send: POST /api/v1/{appId}/sendMessage, one message (`data` string, `android.ttl` ≤ "1296000s",
 *   `android.notification` with title, body, `clickAction` — mandatory — and `importance` LOW | NORMAL) for a
 *   `token` array;
 * - answer: `{code: 200, message, data: {sendResult, requestId, failTokens, expireTokens}}`.
 * Unconfirmed (Honor's error-code table could not be read): the token limit per request (Huawei's 1,000 is
 * used), the codes of an expired access token (Huawei's 80200001 / 80200003 are read), of throttling (HTTP
 * 429 / 503, 81000001) and of all-invalid tokens (80300007), a Retry-After on throttling, the tolerance of the
 * `timestamp` header, and whether a TTL of 0 is accepted (1 s is the shortest sent).
 */
import { DeviceTokenError } from '../../../db/devices.ts';
import type { Channel } from '../../channel.ts';
import { createHonorClient } from './client.ts';
import {
  type HonorCredentials,
  honorCredentialsSchema,
  honorCredentialsViewSchema,
  storeHonorCredentials,
  viewHonorCredentials,
} from './credentials.ts';
import { type HonorOptions, honorOptionsSchema } from './options.ts';
import { type HonorNotification, renderHonor } from './payload.ts';

/** Where the Honor client connects; tests and private gateways set them (HONOR_URL, HONOR_TOKEN_URL). */
export interface HonorSettings {
  honorUrl?: string | undefined;
  honorTokenUrl?: string | undefined;
  /** Extra CA trusted for Honor's endpoints (tests and private gateways). */
  honorCa?: string | undefined;
}

const TOKEN_MAX = 1024;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters and spaces are what is refused
const TOKEN_BAD = /[\s\u0000-\u001f\u007f]/;

/** Honor Push for Android, batch sendMessage with OAuth 2.0. Its options are `offline.honor`. */
export const honor: Channel<
  'honor',
  'honor',
  HonorCredentials,
  HonorOptions,
  HonorNotification,
  HonorSettings
> = {
  name: 'honor',
  label: 'Honor Push',
  optionsKey: 'honor',
  optionsSchema: honorOptionsSchema,
  credentialsSchema: honorCredentialsSchema,
  credentialsSummary: 'Set the Honor Push app credentials (APP ID, client ID and secret)',
  credentialsViewSchema: honorCredentialsViewSchema,
  storeCredentials: async (body) => storeHonorCredentials(body),
  viewCredentials: viewHonorCredentials,
  /** Opaque, 1–1024 characters without spaces or control characters. */
  normalizeToken(token) {
    if (!token.length || token.length > TOKEN_MAX)
      throw new DeviceTokenError(`a Honor push token is 1–${TOKEN_MAX} characters`);
    if (TOKEN_BAD.test(token))
      throw new DeviceTokenError('a Honor push token has no spaces or control characters');
    return token;
  },
  render: renderHonor,
  createClient: (credentials, settings) =>
    createHonorClient({
      credentials,
      ...(settings.honorUrl ? { baseUrl: settings.honorUrl } : {}),
      ...(settings.honorTokenUrl ? { tokenUrl: settings.honorTokenUrl } : {}),
      ...(settings.honorCa ? { ca: settings.honorCa } : {}),
    }),
};
