/**
 * Text PostgreSQL cannot store (NUL, a lone surrogate) in a request body, refused once for every route right
 * after parsing (core/text.ts) — except on the audience-data routes, whose own rules already refuse such text
 * field by field with their documented codes (`invalid_tag`, `invalid_attribute_value`, `invalid_account_id`,
 * …; docs/audience.md). There the place is only remembered, and should any other field still reach the
 * database, the error handler answers the same 400 instead of a 500.
 */
import type { Context } from 'hono';
import { type FieldPath, HeraldError } from '../core/errors.ts';
import { UNSTORABLE_PROBLEM } from '../core/text.ts';

/** The audience-data routes (their domain functions check every string themselves). */
export const DOMAIN_CHECKED_TEXT = /^\/v1\/(accounts|tags|attributes|audience)(\/|$)/;

const remembered = new WeakMap<object, FieldPath>();

/** The 400 of unstorable text at `path`, as zod's messages name fields (`message.elements.0.text`). */
export function unstorableTextError(path: FieldPath): HeraldError {
  return new HeraldError('invalid_request', 'invalid', UNSTORABLE_PROBLEM, {
    path: path.map(String),
    style: { dotted: path.length, root: 'body' },
  });
}

export function rememberUnstorableText(c: Context, path: FieldPath): void {
  remembered.set(c.req, path);
}

/** Where the request's body held unstorable text that was left to the route's own checks, if it did. */
export function rememberedUnstorableText(c: Context): FieldPath | undefined {
  return remembered.get(c.req);
}
