import { DeviceTokenError } from '../../../db/devices.ts';
import type { Channel } from '../../channel.ts';
import { createOppoClient } from './client.ts';
import {
  type OppoCredentials,
  oppoCredentialsSchema,
  oppoCredentialsViewSchema,
  storeOppoCredentials,
  viewOppoCredentials,
} from './credentials.ts';
import { type OppoOptions, oppoOptionsSchema } from './options.ts';
import { type OppoNotification, renderOppo } from './payload.ts';

/** Where the OPPO client connects; tests and the overseas service set it (OPPO_URL). */
export interface OppoSettings {
  oppoUrl?: string | undefined;
  /** Extra CA trusted for OPPO Push (tests and private gateways). */
  oppoCa?: string | undefined;
}

const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

/**
 * OPPO Push (HeyTap), server API v1: `POST /server/v1/auth` (form app_key, timestamp in ms, sign = hex
 * sha256(appKey + timestamp + masterSecret)) gives an auth_token for 24 hours, sent as the form field
 * `auth_token`; `POST /server/v1/message/notification/unicast_batch` (form `messages` = JSON array of at most
 * 1,000 messages, `target_type` 2 = registration id) answers one `data` entry per message. Followed:
 * open.oppomobile.com developmentDoc 11234 (auth), 11235 (addresses, common parameters and return codes),
 * 11236 (notification fields) and the 单点推送 page (unicast / unicast_batch), as stored copies of the current
 * pages. Confirmed: the endpoints, the sign, the ≤ 1,000 messages, per-message `errorCode` 10000 (invalid
 * registration id), common codes -2 / -1 / 11 / 13 / 33 / 55, title ≤ 50 and content ≤ 200 characters.
 * Unconfirmed: off_line_ttl 1 hour – 10 days (from a vendor-aggregator's page), the category values, whether
 * OPPO ever sends Retry-After (honoured if it does), the timestamp tolerance of the auth request.
 */
export const oppo: Channel<'oppo', 'oppo', OppoCredentials, OppoOptions, OppoNotification, OppoSettings> = {
  name: 'oppo',
  label: 'OPPO',
  optionsKey: 'oppo',
  optionsSchema: oppoOptionsSchema,
  credentialsSchema: oppoCredentialsSchema,
  credentialsSummary: 'Set the OPPO Push AppKey and MasterSecret',
  credentialsViewSchema: oppoCredentialsViewSchema,
  storeCredentials: (body) => storeOppoCredentials(body),
  viewCredentials: viewOppoCredentials,
  /** Letters, digits, `_` and `-`, 1–256 (e.g. `CN_` and 32 hex digits). */
  normalizeToken(token) {
    if (!TOKEN.test(token))
      throw new DeviceTokenError(
        'an OPPO registration id is 1–256 letters, digits, "_" or "-" (e.g. CN_ and 32 hex digits)',
      );
    return token;
  },
  render: renderOppo,
  createClient: (credentials, settings) =>
    createOppoClient({
      credentials,
      ...(settings.oppoUrl ? { baseUrl: settings.oppoUrl } : {}),
      ...(settings.oppoCa ? { ca: settings.oppoCa } : {}),
    }),
};
