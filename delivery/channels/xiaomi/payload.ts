import type { CommonNotification } from '../../channel.ts';
import { truncate } from '../batch-http.ts';
import type { XiaomiOptions } from './options.ts';

/** What the MiPush client sends: the common notification plus what only MiPush has. */
export interface XiaomiNotification extends CommonNotification {
  channelId?: string;
  notifyId?: number;
}

/** `title` is under 50 characters, `description` under 128 (each character counts 1). */
export const XIAOMI_TITLE_MAX = 49;
export const XIAOMI_DESCRIPTION_MAX = 127;
/** The longest time MiPush keeps a message for an offline device (two weeks; 10 days on private channels). */
const MAX_TTL_MS = 14 * 24 * 3600_000;

export function renderXiaomi(
  common: CommonNotification,
  options: XiaomiOptions | undefined,
): XiaomiNotification {
  const n: XiaomiNotification = { ...common };
  if (options?.channelId !== undefined) n.channelId = options.channelId;
  if (options?.notifyId !== undefined) n.notifyId = options.notifyId;
  return n;
}

/**
 * The form fields of a `/v3/message/regid` request, without `registration_id`: the same for every chunk of a
 * push. A notification needs a title: without one the body is the title too.
 */
export function xiaomiFields(
  n: XiaomiNotification,
  packageName: string,
  now = Date.now(),
): [string, string][] {
  const fields: [string, string][] = [
    ['restricted_package_name', packageName],
    ['pass_through', '0'],
    ['title', truncate(n.title ?? n.body, XIAOMI_TITLE_MAX)],
    ['description', truncate(n.body, XIAOMI_DESCRIPTION_MAX)],
  ];
  // Xiaomi asks for the payload URL-encoded (the app URL-decodes it); the form encodes it once more.
  if (n.ext !== undefined) fields.push(['payload', encodeURIComponent(n.ext)]);
  if (n.expiresAt) {
    const ttl = Math.min(MAX_TTL_MS, Math.max(1000, n.expiresAt.getTime() - now));
    fields.push(['time_to_live', String(ttl)]);
  } else {
    // Retention 0: sent to the device if it is connected now, never kept for later.
    fields.push(['extra.only_send_once', '1']);
  }
  if (n.notifyId !== undefined) fields.push(['notify_id', String(n.notifyId)]);
  if (n.channelId !== undefined) fields.push(['extra.channel_id', n.channelId]);
  for (const [key, value] of Object.entries(n.data ?? {})) fields.push([`extra.${key}`, value]);
  // Last, so that custom data can never hide which push this is.
  fields.push(['extra.pushId', n.pushId]);
  return fields;
}

/** The form body: the fields, then the chunk's registration ids, comma-separated. */
export function xiaomiBody(fields: [string, string][], regIds: readonly string[]): string {
  const form = new URLSearchParams(fields);
  form.append('registration_id', regIds.join(','));
  return form.toString();
}
