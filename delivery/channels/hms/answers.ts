import { type BatchAnswer, parseRetryAfter } from '../../batch-sender.ts';
import type { SendOutcome } from '../../channel.ts';
import type { HttpResponse } from '../../http1-pool.ts';

/** Reasons of v3-style `illegalTokens` that say the token itself is unusable (the others are the app's). */
const DEAD_TOKEN_REASONS = new Set(['tokenFormatError']);

/**
 * Huawei's answer to one messages:send of a batch of tokens, by its business `code` (HTTP status second):
 * 80000000 all sent; 80100000 partly sent, the failed tokens listed in `msg` (a JSON string:
 * `illegal_tokens`, or v3's `illegalTokens` by reason) are invalid, the rest sent; 80300007 every token
 * invalid; 80200001 / 80200003 (or 401) retried once with a fresh access token; HTTP 503 (flow control),
 * 5xx, 429 and 81000001 retried after a backoff (Retry-After when given); anything else failed.
 */
export function readHmsAnswer(res: HttpResponse, tokens: string[], canReauthorize: boolean): BatchAnswer {
  const { code, msg } = parseBody(res.body);
  if (code === '80000000') return done(tokens, () => ({ outcome: 'sent' }));
  if (code === '80100000') return partial(tokens, msg);
  if (code === '80300007') return done(tokens, () => ({ outcome: 'invalid', reason: '80300007' }));
  const reason = code ?? `HTTP ${res.status}`;
  if (code === '80200001' || code === '80200003' || res.status === 401)
    return canReauthorize
      ? { outcome: 'failed', reason, retry: 'reauthorize' }
      : { outcome: 'failed', reason };
  if (res.status === 429 || res.status >= 500 || code === '81000001') {
    const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
    return retryAfterMs === undefined
      ? { outcome: 'failed', reason, retry: 'backoff' }
      : { outcome: 'failed', reason, retry: 'backoff', retryAfterMs };
  }
  return { outcome: 'failed', reason };
}

type Result = { outcome: 'sent' } | { outcome: 'invalid' | 'failed'; reason: string };

function done(tokens: string[], each: (token: string) => Result): BatchAnswer {
  return { outcome: 'done', outcomes: tokens.map((token) => ({ token, ...each(token) }) as SendOutcome) };
}

/** 80100000: the listed tokens failed, the others were accepted. */
function partial(tokens: string[], msg: unknown): BatchAnswer {
  const failedTokens = illegalTokens(msg);
  // Unlisted failures cannot be told from successes; a retry would send the accepted ones twice.
  if (!failedTokens) return done(tokens, () => ({ outcome: 'failed', reason: '80100000' }));
  return done(tokens, (token) => {
    const why = failedTokens.get(token);
    if (why === undefined) return { outcome: 'sent' };
    return DEAD_TOKEN_REASONS.has(why) || why === 'illegal_token'
      ? { outcome: 'invalid', reason: why }
      : { outcome: 'failed', reason: why };
  });
}

/** token → reason, from `{"success":1,"failure":1,"illegal_tokens":[…]}` or `{"illegalTokens":{reason:[…]}}`. */
function illegalTokens(msg: unknown): Map<string, string> | undefined {
  if (typeof msg !== 'string') return undefined;
  let detail: { illegal_tokens?: unknown; illegalTokens?: unknown };
  try {
    detail = JSON.parse(msg) as typeof detail;
  } catch {
    return undefined;
  }
  const out = new Map<string, string>();
  if (Array.isArray(detail?.illegal_tokens)) {
    for (const t of detail.illegal_tokens) if (typeof t === 'string') out.set(t, 'illegal_token');
    return out;
  }
  const byReason = detail?.illegalTokens;
  if (typeof byReason !== 'object' || byReason === null) return undefined;
  for (const [reason, list] of Object.entries(byReason))
    if (Array.isArray(list)) for (const t of list) if (typeof t === 'string') out.set(t, reason);
  return out;
}

function parseBody(body: string): { code?: string; msg?: unknown } {
  try {
    const parsed = JSON.parse(body) as { code?: unknown; msg?: unknown };
    const code =
      typeof parsed?.code === 'string' || typeof parsed?.code === 'number' ? String(parsed.code) : undefined;
    return code === undefined ? { msg: parsed?.msg } : { code, msg: parsed.msg };
  } catch {
    return {};
  }
}
