import type { Answer } from '../../channel.ts';

/** Status names used as reasons: the same whichever push service answered (their bodies differ). */
const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  410: 'Gone',
  413: 'PayloadTooLarge',
  429: 'TooManyRequests',
};

/**
 * A push service's answer to one message (RFC 8030 §5, §8.4): 201 (any 2xx) sent; 404 and 410 the subscription
 * is gone (the user unsubscribed, revoked permission, or the browser dropped it): invalid; 429 and 5xx retried
 * after Retry-After when given, else a backoff; anything else (400, 401/403 VAPID refused, 413) failed.
 */
export function readWebPushAnswer(status: number, retryAfter: string | undefined): Answer {
  if (status >= 200 && status < 300) return { outcome: 'sent' };
  const reason = REASONS[status] ?? `HTTP ${status}`;
  if (status === 404 || status === 410) return { outcome: 'invalid', reason };
  if (status !== 429 && status < 500) return { outcome: 'failed', reason };
  const retryAfterMs = parseRetryAfter(retryAfter);
  return retryAfterMs === undefined
    ? { outcome: 'failed', reason, retry: 'backoff' }
    : { outcome: 'failed', reason, retry: 'backoff', retryAfterMs };
}

/** Retry-After is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
