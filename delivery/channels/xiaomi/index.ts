import { DeviceTokenError } from '../../../db/devices.ts';
import type { Channel } from '../../channel.ts';
import { createXiaomiClient } from './client.ts';
import {
  storeXiaomiCredentials,
  viewXiaomiCredentials,
  type XiaomiCredentials,
  xiaomiCredentialsSchema,
  xiaomiCredentialsViewSchema,
} from './credentials.ts';
import { type XiaomiOptions, xiaomiOptionsSchema } from './options.ts';
import { renderXiaomi, type XiaomiNotification } from './payload.ts';

/** Where the MiPush client connects; tests and other regions set it (XIAOMI_URL). */
export interface XiaomiSettings {
  xiaomiUrl?: string | undefined;
  /** Extra CA trusted for MiPush (tests and private gateways). */
  xiaomiCa?: string | undefined;
}

const TOKEN_MAX = 512;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters and spaces are what is refused
const TOKEN_BAD = /[\s,\u0000-\u001f\u007f]/;

/**
 * Xiaomi MiPush, server API v3 (`/v3/message/regid`, `Authorization: key=<AppSecret>`), following
 * dev.mi.com/xiaomihyperos/documentation "服务器API地址以及参数" (pId=1559, updated 2024-10-21; English pId=1696,
 * 2023-04-26) and the error-code page (pId=1560, 2024-10-18). Confirmed there: the regid endpoint, the header,
 * the form fields (title < 50, description < 128, payload URL-encoded, time_to_live in ms, notify_id,
 * extra.channel_id, extra.only_send_once). Unconfirmed (taken from open-source senders): at most 1,000 ids per
 * request, `data.bad_regids` listing the dead ids, 20301 for "no valid target", 10027 / 10001–10003 as retryable,
 * 10034 as the daily quota, 21301 as an authentication failure; Retry-After is not documented and is honoured
 * only if an answer (or a gateway's 429 / 503) carries one.
 */
export const xiaomi: Channel<
  'xiaomi',
  'xiaomi',
  XiaomiCredentials,
  XiaomiOptions,
  XiaomiNotification,
  XiaomiSettings
> = {
  name: 'xiaomi',
  label: 'Xiaomi',
  optionsKey: 'xiaomi',
  optionsSchema: xiaomiOptionsSchema,
  credentialsSchema: xiaomiCredentialsSchema,
  credentialsSummary: 'Set the Xiaomi MiPush AppSecret and package name',
  credentialsViewSchema: xiaomiCredentialsViewSchema,
  storeCredentials: (body) => storeXiaomiCredentials(body),
  viewCredentials: viewXiaomiCredentials,
  /** Opaque, 1–512 characters without spaces, commas (the batch separator) or control characters. */
  normalizeToken(token) {
    if (!token.length || token.length > TOKEN_MAX)
      throw new DeviceTokenError(`a Xiaomi registration id is 1–${TOKEN_MAX} characters`);
    if (TOKEN_BAD.test(token))
      throw new DeviceTokenError('a Xiaomi registration id has no spaces, commas or control characters');
    return token;
  },
  render: renderXiaomi,
  createClient: (credentials, settings) =>
    createXiaomiClient({
      credentials,
      ...(settings.xiaomiUrl ? { baseUrl: settings.xiaomiUrl } : {}),
      ...(settings.xiaomiCa ? { ca: settings.xiaomiCa } : {}),
    }),
};
