/**
 * Tencent's answers: every v4 response is HTTP 200 with `ActionStatus`, `ErrorCode` and `ErrorInfo`, and every
 * failure — a native domain error (core/errors.ts: accounts, tags, attributes, conditions, pushes), a UserSig
 * check, or one of this layer's own checks of Tencent's request format — becomes one of Tencent's error codes
 * through ERROR_TABLE, the only place where codes are chosen, by its code and its structured field path.
 * docs/tencent.md prints the same table.
 */
import { randomUUID } from 'node:crypto';
import { type FieldPath, HeraldError, type PathKey, type TextReason } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { ApiError } from '../errors.ts';

/**
 * The service families answer some failures with different codes: `push` is all_member_push and timpush
 * (90xxx), `account` is im_open_login_svc and openim (70xxx). Codes of the common range (60000–79999) are shared.
 */
export type Family = 'push' | 'account';

/** A failure in Herald's words: a native code or one of this layer's, the request field, why. */
export interface Failure {
  code: string;
  message: string;
  /** Where in the Tencent request, in Tencent's field names (`['Condition', 'TagsOr', 0]`). */
  path: FieldPath;
  /** For a refused string: empty, too long, … (tells 90040 from 90020). */
  reason?: TextReason | undefined;
}

/** A failure found by this layer, or a native one restated in Tencent's field names. */
export class TencentFailure extends HeraldError {
  override readonly name = 'TencentFailure';
  constructor(code: string, path: FieldPath, problem: string, reason?: TextReason) {
    super(code, 'invalid', problem, { path, details: { reason } });
  }
}

/** A path segment pattern: that key, or any of these keys. */
type KeyPattern = PathKey | readonly PathKey[];

interface Row {
  /** Native codes (DomainError, ConditionError, ApiError, UserSig check) and this layer's own codes. */
  codes: readonly string[];
  /** Only when the failure's path starts with these keys. */
  at?: readonly KeyPattern[];
  /** Only for strings refused for one of these reasons. */
  reasons?: readonly TextReason[];
  /** Tencent's ErrorCode for all_member_push and timpush. */
  push: number;
  /** Tencent's ErrorCode for im_open_login_svc. */
  account: number;
}

/** For codes that cannot occur in im_open_login_svc: its generic "bad parameters". */
export const BAD_PARAMETERS = 70402;
/** Tencent's "the account does not exist" (account_delete's ResultItem, query_online_status's ErrorList). */
export const ACCOUNT_NOT_FOUND = 70107;
/** The ResultInfo Tencent's account_delete sample gives with 70107. */
export const ACCOUNT_NOT_FOUND_INFO = 'Err_TLS_PT_Open_Login_Account_Not_Exist';

/**
 * Native / layer code → Tencent ErrorCode. The first row that matches wins; anything not listed is an internal
 * error (91000 / 70169). Keep docs/tencent.md's table in step (a test checks every code is documented).
 */
export const ERROR_TABLE: readonly Row[] = [
  // — the query string: sdkappid, identifier, usersig, contenttype (api/v4/auth.ts, core/usersig.ts) —
  { codes: ['sdkappid_missing'], push: 60012, account: 60012 },
  { codes: ['contenttype_not_json'], push: 60002, account: 60002 },
  { codes: ['unknown_sdkappid'], push: 70020, account: 70020 },
  { codes: ['malformed'], push: 70003, account: 70003 },
  { codes: ['sdkappid_mismatch'], push: 70014, account: 70014 },
  { codes: ['bad_signature'], push: 70009, account: 70009 },
  { codes: ['identifier_mismatch'], push: 70013, account: 70013 },
  { codes: ['expired'], push: 70001, account: 70001 },
  { codes: ['admin_required'], push: 90009, account: 70403 },
  { codes: ['unknown_command'], push: 60009, account: 60009 },
  // — the body —
  { codes: ['payload_too_large'], push: 60008, account: 60008 },
  { codes: ['invalid_json'], push: 90001, account: 60003 },
  // — im_push —
  { codes: ['msg_random_invalid', 'idempotency_key_reused'], push: 90005, account: BAD_PARAMETERS },
  { codes: ['msg_body_not_array'], push: 90007, account: BAD_PARAMETERS },
  { codes: ['msg_body_invalid'], push: 90002, account: BAD_PARAMETERS },
  { codes: ['invalid_request'], at: ['MsgBody'], push: 90002, account: BAD_PARAMETERS },
  { codes: ['invalid_request'], at: ['MsgLifeTime'], push: 90026, account: BAD_PARAMETERS },
  { codes: ['too_frequent'], push: 90024, account: BAD_PARAMETERS },
  { codes: ['quota_exceeded'], push: 90047, account: BAD_PARAMETERS },
  // — conditions and tags —
  { codes: ['tags_and_attrs_mixed'], push: 90039, account: BAD_PARAMETERS },
  { codes: ['duplicate_condition_tag'], push: 90022, account: BAD_PARAMETERS },
  { codes: ['too_many_tags'], push: 90032, account: BAD_PARAMETERS },
  { codes: ['invalid_tag', 'invalid_condition'], reasons: ['empty'], push: 90040, account: BAD_PARAMETERS },
  {
    codes: ['invalid_tag', 'invalid_condition'],
    reasons: ['too_long'],
    push: 90020,
    account: BAD_PARAMETERS,
  },
  // — attributes (a bad name or value in a condition is an invalid attribute too) —
  {
    codes: ['invalid_condition'],
    at: ['Condition', ['AttrsAnd', 'AttrsOr', 'AttrsNot']],
    push: 90033,
    account: BAD_PARAMETERS,
  },
  {
    codes: [
      'unknown_attribute',
      'invalid_attribute_name',
      'invalid_attribute_value',
      'attribute_slot_out_of_range',
      'duplicate_attribute_name',
      'attribute_name_taken',
    ],
    push: 90033,
    account: BAD_PARAMETERS,
  },
  // — accounts (kick) —
  { codes: ['account_not_found'], push: 90010, account: ACCOUNT_NOT_FOUND },
  // — batches —
  { codes: ['batch_too_large'], push: 90018, account: BAD_PARAMETERS },
  // — reports and recall —
  { codes: ['not_found'], at: ['TaskId'], push: 90049, account: BAD_PARAMETERS },
  { codes: ['already_recalled'], push: 90050, account: BAD_PARAMETERS },
  { codes: ['recall_window_passed'], push: 90052, account: BAD_PARAMETERS },
  // — everything else the caller can fix —
  {
    codes: [
      'invalid_request',
      'invalid_account_id',
      'invalid_tag',
      'invalid_condition',
      'condition_too_deep',
      'condition_too_large',
    ],
    push: 90010,
    account: BAD_PARAMETERS,
  },
];

/** Anything else: Herald failed, the caller should retry. */
export const INTERNAL = { push: 91000, account: 70169 } as const;

const startsLike = (path: FieldPath, at: readonly KeyPattern[]) =>
  at.length <= path.length &&
  at.every((k, i) =>
    Array.isArray(k) ? (k as readonly PathKey[]).includes(path[i] as PathKey) : path[i] === k,
  );

/** The Tencent ErrorCode of a failure, or undefined when the table has no row for it (an internal error). */
export function tencentCode(f: Failure, family: Family): number | undefined {
  const row = ERROR_TABLE.find(
    (r) =>
      r.codes.includes(f.code) &&
      (!r.at || startsLike(f.path, r.at)) &&
      (!r.reasons || (f.reason !== undefined && r.reasons.includes(f.reason))),
  );
  return row?.[family];
}

/** A native or layer error as a Failure; undefined for anything else (an internal error). */
export function asFailure(err: unknown): Failure | undefined {
  if (err instanceof HeraldError)
    return { code: err.code, message: err.message, path: err.path, reason: err.details.reason };
  if (err instanceof ApiError) return { code: err.code, message: err.message, path: [] };
  return undefined;
}

export interface TencentBody {
  ActionStatus: 'OK' | 'FAIL';
  ErrorInfo: string;
  ErrorCode: number;
  [field: string]: unknown;
}

export const ok = (fields: Record<string, unknown> = {}): TencentBody => ({
  ActionStatus: 'OK',
  ErrorInfo: '',
  ErrorCode: 0,
  ...fields,
});

/** The FAIL body of any error; internal ones are logged with an id that ErrorInfo quotes. */
export function failBody(err: unknown, family: Family, log: Logger): TencentBody {
  const failure = asFailure(err);
  const code = failure && tencentCode(failure, family);
  if (failure && code !== undefined)
    return { ActionStatus: 'FAIL', ErrorInfo: failure.message, ErrorCode: code };
  const id = randomUUID();
  log.error({ err, errorId: id }, 'v4 command failed');
  return {
    ActionStatus: 'FAIL',
    ErrorInfo: `internal error, retry; quote id ${id} when reporting it`,
    ErrorCode: INTERNAL[family],
  };
}

/** Maps a native field path (`['accounts', 3, 'tags']`) to Tencent's (`['UserTags', 3, 'Tags']`). */
export type PathRename = (path: FieldPath) => FieldPath;

/** The first key `from` becomes `to`: `names["5"]` → `AttrNames["5"]`, `accounts[2]` → `To_Account[2]`. */
export const renameFirst =
  (from: string, to: FieldPath): PathRename =>
  (path) =>
    path[0] === from ? [...to, ...path.slice(1)] : path;

/** For a batch: `accounts[3].tags` → `UserTags[3].Tags` (the fields listed), `accounts` → `UserTags`. */
export const batchPaths =
  (list: string, fields: Record<string, string>): PathRename =>
  (path) => {
    if (path[0] !== 'accounts') return path;
    const [, index, field, ...rest] = path;
    if (typeof index !== 'number') return [list, ...path.slice(1)];
    if (field === undefined) return [list, index];
    const renamed = typeof field === 'string' ? (fields[field] ?? field) : field;
    return [list, index, renamed, ...rest];
  };

/**
 * Restates a native failure at its field in Tencent's names (`accounts[3].tags[0]: …` → `UserTags[3].Tags[0]: …`),
 * so ErrorInfo names the field the caller sent.
 */
export function renamed(err: unknown, rename: PathRename): unknown {
  if (err instanceof TencentFailure || !(err instanceof HeraldError)) return err;
  const path = rename(err.path);
  if (path.length === err.path.length && path.every((k, i) => k === err.path[i])) return err;
  return new TencentFailure(err.code, path, err.problem, err.details.reason);
}

/** Runs a native call, restating its failures in Tencent's field names. */
export async function named<T>(rename: PathRename, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw renamed(err, rename);
  }
}
