import type { CommonNotification } from '../../channel.ts';
import { truncate } from '../batch-http.ts';
import type { VivoOptions } from './options.ts';

/** What the vivo client sends: the common notification plus what only vivo has. */
export interface VivoNotification extends CommonNotification {
  classification?: 0 | 1;
  category?: string;
  notifyType?: 1 | 2 | 3 | 4;
}

/** Title at most 40, content at most 100, where a Chinese character counts 2 and an emoji 1. */
export const VIVO_TITLE_MAX = 40;
export const VIVO_CONTENT_MAX = 100;
/** clientCustomMap: at most 10 entries and 1,024 characters of keys and values together. */
export const VIVO_CUSTOM_MAX_CHARS = 1024;
/** timeToLive in seconds: at least 60, at most 7 days. */
const MIN_TTL_S = 60;
const MAX_TTL_S = 7 * 24 * 3600;

const EMOJI = /\p{Extended_Pictographic}/u;
/** vivo's width of a character: 1 for ASCII and emoji, 2 for others (a Chinese character "equals two English"). */
export const vivoWidth = (ch: string): number => ((ch.codePointAt(0) ?? 0) < 0x80 || EMOJI.test(ch) ? 1 : 2);

export function renderVivo(common: CommonNotification, options: VivoOptions | undefined): VivoNotification {
  const n: VivoNotification = { ...common };
  if (options?.classification !== undefined) n.classification = options.classification;
  if (options?.category !== undefined) n.category = options.category;
  if (options?.notifyType !== undefined) n.notifyType = options.notifyType;
  return n;
}

/** pushId and ext (and custom data) for the app, in `clientCustomMap`. */
export function vivoCustomMap(n: VivoNotification): Record<string, string> {
  const map: Record<string, string> = { ...n.data };
  if (n.ext !== undefined) map.ext = n.ext;
  map.pushId = n.pushId;
  return map;
}

/** Why the custom map cannot be sent (vivo would refuse the whole request), or undefined. */
export function vivoCustomMapProblem(map: Record<string, string>): string | undefined {
  const entries = Object.entries(map);
  const chars = entries.reduce((sum, [k, v]) => sum + [...k].length + [...v].length, 0);
  return entries.length > 10 || chars > VIVO_CUSTOM_MAX_CHARS ? 'PayloadTooLarge' : undefined;
}

/**
 * The message fields shared by `/message/send` (plus regId) and `/message/saveListPayload`, without
 * `requestId`. A notification needs a title: without one the body is the title too. A tap opens the app.
 */
export function vivoMessage(n: VivoNotification, appId: string, now = Date.now()): Record<string, unknown> {
  // Retention 0 still gets vivo's shortest lifetime: vivo has no "now or never".
  const ttl = n.expiresAt ? Math.floor((n.expiresAt.getTime() - now) / 1000) : 0;
  const message: Record<string, unknown> = {
    appId: Number(appId),
    notifyType: n.notifyType ?? 4,
    title: truncate(n.title ?? n.body, VIVO_TITLE_MAX, vivoWidth),
    content: truncate(n.body, VIVO_CONTENT_MAX, vivoWidth),
    timeToLive: Math.min(MAX_TTL_S, Math.max(MIN_TTL_S, ttl)),
    skipType: 1,
    clientCustomMap: vivoCustomMap(n),
  };
  if (n.classification !== undefined) message.classification = n.classification;
  if (n.category !== undefined) message.category = n.category;
  return message;
}
