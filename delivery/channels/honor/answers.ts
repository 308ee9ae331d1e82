import { type BatchAnswer, parseRetryAfter } from '../../batch-sender.ts';
import type { SendOutcome } from '../../channel.ts';
import type { HttpResponse } from '../../http1-pool.ts';

/**
 * Honor's answer to one sendMessage of a batch of tokens. Code 200: the tokens in `data.expireTokens` are
 * invalid (expired or uninstalled), those in `data.failTokens` failed, the rest were accepted. An
 * authentication code (80200001, 80200003) or 401 is retried once with a fresh access token; 429, 5xx and
 * 81000001 after a backoff (Retry-After when given); 80300007 makes every token invalid; anything else fails.
 */
export function readHonorAnswer(res: HttpResponse, tokens: string[], canReauthorize: boolean): BatchAnswer {
  const body = parseBody(res.body);
  const code = body.code;
  if (code === '200' && res.status === 200) {
    const expired = stringSet(body.data?.expireTokens);
    const failedTokens = stringSet(body.data?.failTokens);
    if (body.data?.sendResult === false && expired.size === 0 && failedTokens.size === 0)
      return done(tokens, () => ({ outcome: 'failed', reason: body.message ?? 'sendResult false' }));
    return done(tokens, (token) =>
      expired.has(token)
        ? { outcome: 'invalid', reason: 'expireToken' }
        : failedTokens.has(token)
          ? { outcome: 'failed', reason: 'failToken' }
          : { outcome: 'sent' },
    );
  }
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

function stringSet(list: unknown): Set<string> {
  return new Set(Array.isArray(list) ? list.filter((t): t is string => typeof t === 'string') : []);
}

interface HonorBody {
  code?: string;
  message?: string;
  data?: { sendResult?: unknown; failTokens?: unknown; expireTokens?: unknown };
}

function parseBody(text: string): HonorBody {
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const out: HonorBody = {};
    if (typeof parsed?.code === 'string' || typeof parsed?.code === 'number') out.code = String(parsed.code);
    if (typeof parsed?.message === 'string') out.message = parsed.message;
    if (typeof parsed?.data === 'object' && parsed.data !== null) out.data = parsed.data as HonorBody['data'];
    return out;
  } catch {
    return {};
  }
}
