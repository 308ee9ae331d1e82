import type { DeviceTarget, SendOutcome } from '../../channel.ts';
import {
  type ChunkAnswer,
  httpFailure,
  parseObject,
  type VendorResponse,
  withRetryAfter,
} from '../batch-http.ts';

/** Codes that mean "busy, try again": 10001 system error, 10002/10003 busy, 10027 too frequent, 10037. */
const RETRY_CODES = new Set([10001, 10002, 10003, 10027, 10037]);
/** Authentication failed (a wrong or revoked AppSecret): no token to refresh, so no retry. */
const AUTH_CODES = new Set([21301, 21302]);
/** "No valid targets": every registration id of the request is dead. */
const NO_VALID_TARGETS = 20301;
/** The day's quota of messages is spent. */
const DAILY_QUOTA = 10034;

/**
 * MiPush's answer to one `/v3/message/regid` request: `code` 0 sent, except the ids in `data.bad_regids`
 * (invalid); 20301 all invalid; busy and too-frequent codes (and HTTP 429 / 5xx) retried after a backoff or the
 * Retry-After; everything else (daily quota 10034, content too long 65009, auth 21301…) failed.
 */
export function readXiaomiAnswer(response: VendorResponse, targets: readonly DeviceTarget[]): ChunkAnswer {
  if (response.status !== 200) return httpFailure(response);
  const body = parseObject(response.body);
  const code = typeof body?.code === 'number' ? body.code : Number(body?.code ?? Number.NaN);
  if (!body || Number.isNaN(code)) return { outcome: 'retry', reason: 'UnreadableAnswer' };
  if (code === 0) {
    const data = (typeof body.data === 'object' && body.data !== null ? body.data : {}) as Record<
      string,
      unknown
    >;
    const bad = new Set(
      String(data.bad_regids ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
    return {
      outcome: 'done',
      outcomes: targets.map(
        (t): SendOutcome =>
          bad.has(t.token)
            ? { token: t.token, outcome: 'invalid', reason: 'BadRegId' }
            : { token: t.token, outcome: 'sent' },
      ),
    };
  }
  const reason = `${code} ${String(body.reason ?? body.description ?? '')}`.trim();
  if (code === NO_VALID_TARGETS)
    return {
      outcome: 'done',
      outcomes: targets.map((t) => ({ token: t.token, outcome: 'invalid', reason: 'BadRegId' })),
    };
  if (RETRY_CODES.has(code))
    return withRetryAfter({ outcome: 'retry', reason }, response.headers['retry-after']);
  if (AUTH_CODES.has(code)) return { outcome: 'failed', reason: `AuthenticationFailed ${code}` };
  if (code === DAILY_QUOTA) return { outcome: 'failed', reason, quota: true };
  return { outcome: 'failed', reason };
}
