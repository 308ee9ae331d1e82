import type { Answer } from '../../channel.ts';

/**
 * Google's answer to one messages:send: 200 sent; 401 retried once with a fresh access token; UNREGISTERED, a
 * malformed registration token or another sender's token invalid; 429 and 5xx retried (after Retry-After when
 * given); anything else failed. `canReauthorize`: this message has not had its fresh token yet.
 */
export function readFcmAnswer(
  status: number,
  retryAfter: string | undefined,
  body: string,
  canReauthorize: boolean,
): Answer {
  if (status === 200) return { outcome: 'sent' };
  const error = parseGoogleError(body);
  const reason = error.code ?? error.status ?? `HTTP ${status}`;
  // An access token can be revoked or expire early; one fresh token per message is enough to tell.
  if (status === 401 && canReauthorize) return { outcome: 'failed', reason, retry: 'reauthorize' };
  if (isDeadToken(status, error)) return { outcome: 'invalid', reason: error.code ?? 'UNREGISTERED' };
  if (status !== 429 && status < 500) return { outcome: 'failed', reason };
  const retryAfterMs = parseRetryAfter(retryAfter);
  return retryAfterMs === undefined
    ? { outcome: 'failed', reason, retry: 'backoff' }
    : { outcome: 'failed', reason, retry: 'backoff', retryAfterMs };
}

interface GoogleError {
  code?: string;
  status?: string;
  message?: string;
  /** Fields named in google.rpc.BadRequest details. */
  fields: string[];
}

/** Reads `{ error: { status, message, details: [FcmError | BadRequest] } }`. */
function parseGoogleError(body: string): GoogleError {
  const out: GoogleError = { fields: [] };
  let error: Record<string, unknown> | undefined;
  try {
    error = (JSON.parse(body) as { error?: Record<string, unknown> }).error;
  } catch {
    return out;
  }
  if (typeof error !== 'object' || error === null) return out;
  if (typeof error.status === 'string') out.status = error.status;
  if (typeof error.message === 'string') out.message = error.message;
  for (const detail of Array.isArray(error.details) ? (error.details as Record<string, unknown>[]) : []) {
    if (typeof detail?.errorCode === 'string') out.code = detail.errorCode;
    if (Array.isArray(detail?.fieldViolations)) {
      for (const v of detail.fieldViolations as { field?: unknown }[]) {
        if (typeof v?.field === 'string') out.fields.push(v.field);
      }
    }
  }
  out.code ??= out.status;
  return out;
}

/** UNREGISTERED, a malformed registration token, or a token that belongs to another sender. */
function isDeadToken(status: number, error: GoogleError): boolean {
  if (error.code === 'UNREGISTERED' || error.code === 'SENDER_ID_MISMATCH') return true;
  if (status !== 400 || error.code !== 'INVALID_ARGUMENT') return false;
  return error.fields.includes('message.token') || /registration token/i.test(error.message ?? '');
}

/** Retry-After is either delta-seconds or an HTTP date. */
function parseRetryAfter(value: string | undefined): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
