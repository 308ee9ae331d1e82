import type { DeviceTarget, SendOutcome } from '../../channel.ts';
import {
  type ChunkAnswer,
  httpFailure,
  parseObject,
  type VendorResponse,
  withRetryAfter,
} from '../batch-http.ts';

/** 10000: the authToken is not valid (expired or revoked): retried once with a fresh one. */
const INVALID_AUTH_TOKEN = 10000;
/** 10302: the regId (or alias) of a single send is not valid. */
const INVALID_REG_ID = 10302;
/** 10072: too frequent. */
const RETRY_CODES = new Set([10072]);
/** 10070 daily total, 10252 list payloads of the day: vivo asks not to call again that day. */
const DAILY_QUOTAS = new Set([10070, 10252]);

/** invalidUsers' status: 1 unknown regId, 2 uninstalled or notifications off, 3 offline 90 days, 4 not a test user. */
const DEAD_STATUS: Record<number, string> = { 1: 'UnknownRegId', 2: 'Unsubscribed', 3: 'Inactive90Days' };

/** A vivo answer's business result, or the answer to give when it is not a success. */
export function vivoResult(
  response: VendorResponse,
):
  | { ok: true; body: Record<string, unknown> }
  | { ok: false; answer: ChunkAnswer; body?: Record<string, unknown> } {
  if (response.status !== 200) return { ok: false, answer: httpFailure(response) };
  const body = parseObject(response.body);
  if (!body || typeof body.result !== 'number')
    return { ok: false, answer: { outcome: 'retry', reason: 'UnreadableAnswer' } };
  if (body.result === 0) return { ok: true, body };
  const reason = `${body.result} ${String(body.desc ?? '')}`.trim();
  if (body.result === INVALID_AUTH_TOKEN)
    return { ok: false, body, answer: { outcome: 'reauthorize', reason } };
  if (RETRY_CODES.has(body.result))
    return {
      ok: false,
      body,
      answer: withRetryAfter({ outcome: 'retry', reason }, response.headers['retry-after']),
    };
  if (DAILY_QUOTAS.has(body.result))
    return { ok: false, body, answer: { outcome: 'failed', reason, quota: true } };
  // 10094 appId mismatch, argument errors…: not worth retrying.
  return { ok: false, body, answer: { outcome: 'failed', reason } };
}

/** `/message/send` to one regId: result 0 sent, 10302 invalid, otherwise as vivoResult. */
export function readVivoSingle(response: VendorResponse, target: DeviceTarget): ChunkAnswer {
  const r = vivoResult(response);
  if (r.ok) return { outcome: 'done', outcomes: [{ token: target.token, outcome: 'sent' }] };
  if (r.body?.result === INVALID_REG_ID) {
    const user = r.body.invalidUser as { status?: unknown } | undefined;
    const reason = DEAD_STATUS[Number(user?.status)] ?? 'InvalidRegId';
    return { outcome: 'done', outcomes: [{ token: target.token, outcome: 'invalid', reason }] };
  }
  return r.answer;
}

/** `/message/pushToList`: result 0, with `invalidUsers` naming the regIds that did not take it and why. */
export function readVivoList(response: VendorResponse, targets: readonly DeviceTarget[]): ChunkAnswer {
  const r = vivoResult(response);
  if (!r.ok) return r.answer;
  const invalid = new Map<string, number>();
  for (const u of Array.isArray(r.body.invalidUsers)
    ? (r.body.invalidUsers as Record<string, unknown>[])
    : []) {
    if (u && u.userid !== undefined) invalid.set(String(u.userid), Number(u.status));
  }
  return {
    outcome: 'done',
    outcomes: targets.map((t): SendOutcome => {
      const status = invalid.get(t.token);
      if (status === undefined) return { token: t.token, outcome: 'sent' };
      const dead = DEAD_STATUS[status];
      return dead
        ? { token: t.token, outcome: 'invalid', reason: dead }
        : { token: t.token, outcome: 'failed', reason: status === 4 ? 'NotATestUser' : `status ${status}` };
    }),
  };
}
