/**
 * Errors as data. A HeraldError says what went wrong as a stable `code`, what kind of failure it is (`kind`,
 * which the REST API maps to an HTTP status and the v4 layer to Tencent's codes), WHERE in the caller's input as
 * a structured path (`['accounts', 3, 'tags', 0]`) and the problem in words; the message is derived from both
 * (`accounts[3].tags[0]: tag must be …`). A caller that exposes the input under other names (a single-account
 * route, the v4 layer) moves the path (`rerooted`), never the text.
 */

export type ErrorKind = 'invalid' | 'not_found' | 'conflict' | 'too_many' | 'unavailable';

export type PathKey = string | number;
export type FieldPath = readonly PathKey[];

/** Why a string was refused (tells Tencent's 90040 "empty" from 90020 "too long"). */
export type TextReason = 'not_string' | 'empty' | 'too_long' | 'bad_character';

/** What a caller may need beyond the message. */
export interface ErrorDetails {
  /** The place as the message reads it (`accounts[3].tags[0]`): filled in from the error's structured path. */
  path?: string | undefined;
  /** For a refused string: why. */
  reason?: TextReason | undefined;
  /** For unknown_attribute: the name. */
  name?: string | undefined;
  /** The limit that was passed (batch size, tags per request, quota). */
  limit?: number | undefined;
  /** When to try again (too_many): the REST API sends it as Retry-After. */
  retryAfterSeconds?: number | undefined;
}

/** How a path reads in a message. */
export interface PathStyle {
  /** Keys written bare after a dot; others as `["key"]`. Default: letters, digits, `_` and `-`. */
  bareKey?: RegExp;
  /** The first `dotted` keys read as request fields do in the API's validation messages (`steps.0.at`). */
  dotted?: number;
  /** What an empty path reads as (default: no place, the message is the problem alone). */
  root?: string;
  /** Between the place and the problem (default `: `). */
  separator?: string;
}

const BARE_KEY = /^[A-Za-z_][\w-]*$/;

/** `['accounts', 3, 'tags', 0]` → `accounts[3].tags[0]`; a key that is not a plain name → `names["5"]`. */
export function formatPath(path: FieldPath, style: PathStyle = {}): string {
  const bare = style.bareKey ?? BARE_KEY;
  const dotted = Math.min(style.dotted ?? 0, path.length);
  let out = path.slice(0, dotted).map(String).join('.');
  for (const key of path.slice(dotted)) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (bare.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out || (style.root ?? '');
}

export interface HeraldErrorInit {
  path?: FieldPath | undefined;
  details?: ErrorDetails | undefined;
  style?: PathStyle | undefined;
}

export class HeraldError extends Error {
  override name = 'HeraldError';
  readonly code: string;
  readonly kind: ErrorKind;
  /** The problem in words, without the place. */
  readonly problem: string;
  /** Where in the caller's input; empty when the whole request is meant. */
  readonly path: FieldPath;
  readonly details: ErrorDetails;
  readonly style: PathStyle;

  constructor(code: string, kind: ErrorKind, problem: string, init: HeraldErrorInit = {}) {
    super();
    this.code = code;
    this.kind = kind;
    this.problem = problem;
    this.path = init.path ?? [];
    this.style = init.style ?? {};
    this.details = placed(init.details ?? {}, this.path, this.style);
    this.message = describe(this.path, this.problem, this.style);
  }

  /** The place as the message reads it (`accounts[3].tags[0]`). */
  get where(): string {
    return formatPath(this.path, this.style);
  }

  /**
   * The same error at another place: `from` (a prefix of the path) becomes `to`. An error elsewhere is returned
   * as it is. `style` replaces the path style (e.g. more dotted request keys in front).
   */
  rerooted(from: FieldPath, to: FieldPath, style?: PathStyle): this {
    // An error about `from` itself keeps its place rather than lose it (`accounts[0]` → nothing).
    if (!startsWith(this.path, from) || (to.length === 0 && this.path.length === from.length)) return this;
    const path = [...to, ...this.path.slice(from.length)];
    const newStyle = style ?? this.style;
    const copy = Object.assign(Object.create(Object.getPrototypeOf(this)) as this, this, {
      path,
      style: newStyle,
      details: placed(this.details, path, newStyle),
    });
    copy.message = describe(path, copy.problem, copy.style);
    Error.captureStackTrace?.(copy);
    return copy;
  }

  /** The same error with more details. */
  with(details: ErrorDetails): this {
    return Object.assign(Object.create(Object.getPrototypeOf(this)) as this, this, {
      details: { ...this.details, ...details },
    });
  }
}

function placed(details: ErrorDetails, path: FieldPath, style: PathStyle): ErrorDetails {
  const { path: _old, ...rest } = details;
  const where = formatPath(path, style);
  return where ? { ...rest, path: where } : rest;
}

function describe(path: FieldPath, problem: string, style: PathStyle): string {
  const where = formatPath(path, style);
  return where ? `${where}${style.separator ?? ': '}${problem}` : problem;
}

/** Whether `path` begins with `prefix`, key for key. */
export function startsWith(path: FieldPath, prefix: FieldPath): boolean {
  return prefix.length <= path.length && prefix.every((k, i) => path[i] === k);
}

/** Runs `fn`, moving the path of any HeraldError it throws from `from` to `to`. */
export async function rerooting<T>(from: FieldPath, to: FieldPath, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof HeraldError ? err.rerooted(from, to) : err;
  }
}
