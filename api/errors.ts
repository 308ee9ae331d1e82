import { randomUUID } from 'node:crypto';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import { type ErrorKind, HeraldError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { requestIdOf } from './request-log.ts';
import { rememberedUnstorableText, unstorableTextError } from './text-check.ts';

/** A failure the caller can fix: a stable machine code and a message that says what to do. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const notFound = (what: string) =>
  new ApiError(404, 'not_found', `${what} does not exist in this app`);

export function errorBody(code: string, message: string, extra?: Record<string, unknown>) {
  return { error: { code, message, ...extra } };
}

/** The first zod issue, as `path: message`, which tells the caller exactly which field to fix. */
export function describeZodError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid request';
  const where = issue.path.length ? issue.path.map(String).join('.') : 'body';
  return `${where}: ${issue.message}`;
}

/** The HTTP status of each kind of domain error. */
export const STATUS_OF_KIND: Record<ErrorKind, ContentfulStatusCode> = {
  invalid: 400,
  not_found: 404,
  conflict: 409,
  too_many: 429,
  unavailable: 503,
};

/**
 * Maps every thrown error to the JSON error body: a domain error (core/errors.ts) by its kind, with
 * Retry-After when it says when to retry; unknown ones become a 500 with an id in the log.
 */
export function errorHandler(log: Logger) {
  return (err: Error, c: Context) => answerError(log, err, c);
}

function answerError(log: Logger, err: Error, c: Context): Response {
  // Every error body carries the request's id (api/request-log.ts), so a caller can quote it.
  const requestId = requestIdOf(c);
  const body = (code: string, message: string, extra?: Record<string, unknown>) =>
    errorBody(code, message, { ...extra, requestId });
  if (err instanceof HeraldError) {
    const retryAfterSeconds = err.details.retryAfterSeconds;
    if (retryAfterSeconds === undefined) return c.json(body(err.code, err.message), STATUS_OF_KIND[err.kind]);
    c.header('retry-after', String(retryAfterSeconds));
    return c.json(body(err.code, err.message, { retryAfterSeconds }), STATUS_OF_KIND[err.kind]);
  }
  if (err instanceof ApiError) {
    for (const [k, v] of Object.entries(err.headers ?? {})) c.header(k, v);
    return c.json(body(err.code, err.message, err.details), err.status);
  }
  // The JSON validator's own parse failure: only an empty body gets that far (jsonBody parses the rest).
  if (err instanceof HTTPException && err.status === 400 && /JSON/.test(err.message))
    return c.json(body('invalid_json', 'The request body is not valid JSON (it is empty)'), 400);
  if (err instanceof HTTPException && err.status < 500) {
    const code =
      err.status === 401 ? 'unauthorized' : err.status === 413 ? 'payload_too_large' : 'bad_request';
    return c.json(body(code, err.message || 'bad request'), err.status);
  }
  // A database failure on a body whose unstorable text was left to the route's own checks: that text.
  const unstorable = rememberedUnstorableText(c);
  if (unstorable) {
    const refused = unstorableTextError(unstorable);
    return c.json(body(refused.code, refused.message), STATUS_OF_KIND[refused.kind]);
  }
  const id = randomUUID();
  // `err` goes through core/log.ts's loggableError: a database error's bound parameters are not logged.
  log.error({ err, errorId: id, requestId, method: c.req.method, path: c.req.path }, 'unhandled error');
  return c.json(body('internal', `Internal error; quote id ${id} when reporting it`, { id }), 500);
}
