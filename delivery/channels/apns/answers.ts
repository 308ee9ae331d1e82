import type { Answer } from '../../channel.ts';

/** Reasons that mean the device token itself is dead, not the request. */
const INVALID_TOKEN_REASONS = new Set(['BadDeviceToken', 'DeviceTokenNotForTopic', 'Unregistered']);

/**
 * Apple's answer to one request: 200 sent; 410 or a dead-token reason invalid; 429 and 5xx retried after a
 * backoff; ExpiredProviderToken retried with a new provider token; anything else failed.
 */
export function readApnsAnswer(status: number, body: string): Answer {
  if (status === 200) return { outcome: 'sent' };
  const reason = parseReason(body);
  if (status === 410 || (status === 400 && INVALID_TOKEN_REASONS.has(reason ?? ''))) {
    return { outcome: 'invalid', reason: reason ?? 'Unregistered' };
  }
  const failed = reason ?? `HTTP ${status}`;
  if (status === 403 && reason === 'ExpiredProviderToken') {
    return { outcome: 'failed', reason: failed, retry: 'reauthorize' };
  }
  if (status === 429 || status >= 500) return { outcome: 'failed', reason: failed, retry: 'backoff' };
  return { outcome: 'failed', reason: failed };
}

function parseReason(body: string): string | undefined {
  if (!body) return undefined;
  try {
    const reason: unknown = (JSON.parse(body) as { reason?: unknown }).reason;
    return typeof reason === 'string' ? reason : undefined;
  } catch {
    return undefined;
  }
}
