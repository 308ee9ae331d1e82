import type { DeviceTarget, SendOutcome } from '../../channel.ts';
import {
  type ChunkAnswer,
  httpFailure,
  parseObject,
  type VendorResponse,
  withRetryAfter,
} from '../batch-http.ts';

/** -2 flow control, -1 unavailable, 13 call limit, 55 frequency limit: try again later. */
const RETRY_CODES = new Set([-2, -1, 13, 55]);
const INVALID_AUTH_TOKEN = 11;
const INVALID_REGISTRATION_ID = 10000;
/** 33: the number of messages exceeds the daily limit. */
const DAILY_QUOTA = 33;

/**
 * OPPO's answer to one `unicast_batch`: `code` 0 with one `data` entry per message (`errorCode` 10000 = invalid
 * registration id, another errorCode = failed, none = sent); 11 (invalid auth_token) retried once with a fresh
 * token; flow control and call limits (and HTTP 429 / 5xx) retried; the daily quota (33) and the rest failed.
 */
export function readOppoAnswer(response: VendorResponse, targets: readonly DeviceTarget[]): ChunkAnswer {
  if (response.status !== 200) return httpFailure(response);
  const body = parseObject(response.body);
  if (!body || typeof body.code !== 'number') return { outcome: 'retry', reason: 'UnreadableAnswer' };
  const code = body.code;
  const reason = `${code} ${String(body.message ?? '')}`.trim();
  if (code === 0) {
    const results = new Map<string, { errorCode?: unknown; errorMessage?: unknown }>();
    for (const item of Array.isArray(body.data) ? (body.data as Record<string, unknown>[]) : []) {
      if (typeof item?.registrationId === 'string') results.set(item.registrationId, item);
    }
    return {
      outcome: 'done',
      outcomes: targets.map((t): SendOutcome => {
        const r = results.get(t.token);
        if (!r) return { token: t.token, outcome: 'failed', reason: 'NoResult' };
        if (r.errorCode === undefined || r.errorCode === null) return { token: t.token, outcome: 'sent' };
        if (Number(r.errorCode) === INVALID_REGISTRATION_ID)
          return { token: t.token, outcome: 'invalid', reason: 'InvalidRegistrationId' };
        return {
          token: t.token,
          outcome: 'failed',
          reason: `${String(r.errorCode)} ${String(r.errorMessage ?? '')}`.trim(),
        };
      }),
    };
  }
  if (code === INVALID_REGISTRATION_ID)
    return {
      outcome: 'done',
      outcomes: targets.map((t) => ({ token: t.token, outcome: 'invalid', reason: 'InvalidRegistrationId' })),
    };
  if (code === INVALID_AUTH_TOKEN) return { outcome: 'reauthorize', reason };
  if (RETRY_CODES.has(code))
    return withRetryAfter({ outcome: 'retry', reason }, response.headers['retry-after']);
  if (code === DAILY_QUOTA) return { outcome: 'failed', reason, quota: true };
  return { outcome: 'failed', reason };
}
