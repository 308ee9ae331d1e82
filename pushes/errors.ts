/** The push and campaign services' refusals, as data (core/errors.ts): the API and the v4 layer map them. */
import { type ErrorKind, type FieldPath, HeraldError, type HeraldErrorInit } from '../core/errors.ts';

export type PushErrorCode =
  | 'time_in_past'
  | 'time_too_far'
  | 'idempotency_key_reused'
  | 'not_found'
  | 'recall_window_passed'
  | 'too_frequent'
  | 'quota_exceeded'
  | 'campaign_not_active'
  /** A campaign update its workflow refused; the workflow's own reason code when it gave one. */
  | 'campaign_update_refused'
  | (string & {});

export class PushError extends HeraldError {
  override readonly name = 'PushError';
  constructor(code: PushErrorCode, kind: ErrorKind, problem: string, init: HeraldErrorInit = {}) {
    super(code, kind, problem, init);
  }
}

/**
 * A refused time at a request field, read as the API's validation paths are (`steps.0.at`) and as a sentence:
 * `sendAt must be in the future`.
 */
export class TimeError extends PushError {
  constructor(code: 'time_in_past' | 'time_too_far', path: FieldPath, problem: string) {
    super(code, 'invalid', problem, { path, style: { dotted: path.length, separator: ' ' } });
  }
}
