import type { CommonNotification } from '../../channel.ts';
import { truncate } from '../batch-http.ts';
import type { OppoOptions } from './options.ts';

/** What the OPPO client sends: the common notification plus what only OPPO has. */
export interface OppoNotification extends CommonNotification {
  channelId?: string;
  category?: string;
  notifyLevel?: 1 | 2 | 16;
}

/** Title at most 50 characters, content (standard style) at most 200. */
export const OPPO_TITLE_MAX = 50;
export const OPPO_CONTENT_MAX = 200;
/** off_line_ttl: at least an hour, at most 10 days, in seconds. */
const MIN_TTL_S = 3600;
const MAX_TTL_S = 10 * 24 * 3600;

export function renderOppo(common: CommonNotification, options: OppoOptions | undefined): OppoNotification {
  const n: OppoNotification = { ...common };
  if (options?.channelId !== undefined) n.channelId = options.channelId;
  if (options?.category !== undefined) n.category = options.category;
  if (options?.notifyLevel !== undefined) n.notifyLevel = options.notifyLevel;
  return n;
}

/**
 * The `notification` of every message of a push. A notification needs a title: without one the body is the
 * title too. The app's launch activity opens on a tap (click_action_type 0) and gets `action_parameters`
 * (pushId, ext). `app_message_id` is the push id, so OPPO never shows one push twice on a device.
 */
export function oppoNotification(n: OppoNotification, now = Date.now()): Record<string, unknown> {
  const parameters: Record<string, string> = { ...n.data };
  if (n.ext !== undefined) parameters.ext = n.ext;
  parameters.pushId = n.pushId;
  const out: Record<string, unknown> = {
    app_message_id: n.pushId,
    style: 1,
    title: truncate(n.title ?? n.body, OPPO_TITLE_MAX),
    content: truncate(n.body, OPPO_CONTENT_MAX),
    click_action_type: 0,
    action_parameters: JSON.stringify(parameters),
  };
  if (n.expiresAt) {
    out.off_line = true;
    out.off_line_ttl = Math.min(
      MAX_TTL_S,
      Math.max(MIN_TTL_S, Math.floor((n.expiresAt.getTime() - now) / 1000)),
    );
  } else {
    // Retention 0: shown if the device is reachable now, never kept for later.
    out.off_line = false;
  }
  if (n.channelId !== undefined) out.channel_id = n.channelId;
  if (n.category !== undefined) out.category = n.category;
  if (n.notifyLevel !== undefined) out.notify_level = n.notifyLevel;
  return out;
}

/**
 * The `messages` form field of `unicast_batch`: one message per registration id, each the same notification
 * (its JSON built once and spliced in, the same bytes as stringifying each message).
 */
export function oppoMessages(notificationJson: string, regIds: readonly string[]): string {
  const suffix = `,"notification":${notificationJson}}`;
  let out = '[';
  for (let i = 0; i < regIds.length; i++) {
    if (i > 0) out += ',';
    out += `{"target_type":2,"target_value":${JSON.stringify(regIds[i])}${suffix}`;
  }
  return `${out}]`;
}
