import { DeviceTokenError } from '../../../db/devices.ts';
import type { Channel } from '../../channel.ts';
import { createVivoClient } from './client.ts';
import {
  storeVivoCredentials,
  type VivoCredentials,
  viewVivoCredentials,
  vivoCredentialsSchema,
  vivoCredentialsViewSchema,
} from './credentials.ts';
import { type VivoOptions, vivoOptionsSchema } from './options.ts';
import { renderVivo, type VivoNotification } from './payload.ts';

/** Where the vivo client connects; tests set it (VIVO_URL). */
export interface VivoSettings {
  vivoUrl?: string | undefined;
  /** Extra CA trusted for vivo Push (tests and private gateways). */
  vivoCa?: string | undefined;
}

const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

/**
 * vivo Push, server API ("PUSH-UPS-API", dev.vivo.com.cn documentCenter doc 362, version 2.9.2 as stored):
 * `POST /message/auth` (JSON appId, appKey, timestamp in ms within ±10 minutes, sign = lower-case md5(appId +
 * appKey + timestamp + appSecret)) gives an authToken for 24 hours (vivo asks for a new one every 1–2 hours),
 * sent as the `authToken` header with every request, whose body also carries `appId`; `/message/send` for one
 * regId, `/message/saveListPayload` + `/message/pushToList` (2–1,000 regIds) for more. Confirmed: those
 * endpoints and fields (title ≤ 40 and content ≤ 100 where a Chinese character counts 2, timeToLive ≤ 7 days,
 * classification 0 operations / 1 system, clientCustomMap ≤ 1,024 characters), the daily-quota codes 10070 /
 * 10252, 10302 with `invalidUser` for a bad regId on a single send. Unconfirmed: 10000 for an invalid authToken,
 * 10072 for "too frequent", the `invalidUsers` list of pushToList and its statuses (from open-source senders),
 * the shortest timeToLive (60 s in one copy, 900 s in an older one), whether vivo sends Retry-After.
 */
export const vivo: Channel<'vivo', 'vivo', VivoCredentials, VivoOptions, VivoNotification, VivoSettings> = {
  name: 'vivo',
  label: 'vivo',
  optionsKey: 'vivo',
  optionsSchema: vivoOptionsSchema,
  credentialsSchema: vivoCredentialsSchema,
  credentialsSummary: 'Set the vivo Push AppID, AppKey and AppSecret',
  credentialsViewSchema: vivoCredentialsViewSchema,
  storeCredentials: (body) => storeVivoCredentials(body),
  viewCredentials: viewVivoCredentials,
  /** Letters, digits, `_` and `-`, 1–256 (a regId is 23 digits today). */
  normalizeToken(token) {
    if (!TOKEN.test(token))
      throw new DeviceTokenError('a vivo regId is 1–256 letters, digits, "_" or "-" (23 digits today)');
    return token;
  },
  render: renderVivo,
  createClient: (credentials, settings) =>
    createVivoClient({
      credentials,
      ...(settings.vivoUrl ? { baseUrl: settings.vivoUrl } : {}),
      ...(settings.vivoCa ? { ca: settings.vivoCa } : {}),
    }),
};
