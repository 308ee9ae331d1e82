import { describe, expect, it } from 'vitest';
import { TencentFailure, tencentCode } from '../api/v4/errors.ts';
import { formatPath, HeraldError } from '../core/errors.ts';
import { DomainError } from '../db/accounts.ts';
import { ConditionError, validateCondition } from '../db/conditions.ts';
import { PushError, TimeError } from '../pushes/errors.ts';

const conditionError = (input: unknown): ConditionError => {
  try {
    validateCondition(input);
  } catch (err) {
    if (err instanceof ConditionError) return err;
    throw err;
  }
  throw new Error('expected a ConditionError');
};

describe('errors as data', () => {
  it('derives the message from the structured path and the problem', () => {
    expect(formatPath(['accounts', 3, 'tags', 0])).toBe('accounts[3].tags[0]');
    expect(formatPath(['names', '5'])).toBe('names["5"]');
    const err = new DomainError('invalid_tag', ['accounts', 3, 'tags', 0], 'tag must be a string');
    expect(err).toBeInstanceOf(HeraldError);
    expect(err.message).toBe('accounts[3].tags[0]: tag must be a string');
    expect(err.details.path).toBe('accounts[3].tags[0]');
    expect(new DomainError('not_found', [], 'app x does not exist', 'not_found').message).toBe(
      'app x does not exist',
    );
  });

  it('re-roots a path, not the text: accounts[0].tags[1] → tags[1], accounts[0] → id', () => {
    const err = new DomainError('invalid_tag', ['accounts', 0, 'tags', 1], 'tag must be a string');
    const one = err.rerooted(['accounts', 0], []);
    expect(one).toBeInstanceOf(DomainError);
    expect(one).toMatchObject({
      message: 'tags[1]: tag must be a string',
      path: ['tags', 1],
      code: 'invalid_tag',
    });
    const id = new DomainError('invalid_account_id', ['accounts', 0], 'account id must be …');
    expect(id.rerooted(['accounts', 0], ['id']).message).toBe('id: account id must be …');
    // An error about the prefix itself keeps its place rather than lose it.
    expect(id.rerooted(['accounts', 0], []).message).toBe('accounts[0]: account id must be …');
  });

  it('roots a condition error at the request field that held it, as the API has always written it', () => {
    const err = conditionError({ TagsOr: [''] });
    expect(err.message).toBe('TagsOr[0]: tag must be 1-50 UTF-8 bytes, got 0');
    expect(err.at(['audience']).message).toBe('audience.TagsOr[0]: tag must be 1-50 UTF-8 bytes, got 0');
    expect(err.at(['steps', 2, 'audience']).message).toBe(
      'steps.2.audience.TagsOr[0]: tag must be 1-50 UTF-8 bytes, got 0',
    );
    expect(err.at(['steps', 2, 'audience']).path).toEqual(['steps', 2, 'audience', 'TagsOr', 0]);
    const whole = conditionError([]);
    expect(whole.message.startsWith('condition: ')).toBe(true);
    expect(whole.at(['audience']).message.startsWith('audience: ')).toBe(true);
  });

  it('reads push refusals as before', () => {
    expect(new TimeError('time_in_past', ['sendAt'], 'must be in the future').message).toBe(
      'sendAt must be in the future',
    );
    expect(new TimeError('time_too_far', ['steps', 0, 'at'], 'must be within one year').message).toBe(
      'steps.0.at must be within one year',
    );
    const quota = new PushError('too_frequent', 'too_many', 'wait', { details: { retryAfterSeconds: 3 } });
    expect(quota).toMatchObject({ kind: 'too_many', details: { retryAfterSeconds: 3 } });
  });

  it('chooses Tencent codes by path segments', () => {
    const at = (code: string, path: (string | number)[]) =>
      tencentCode(new TencentFailure(code, path, 'x'), 'push');
    expect(at('invalid_request', ['MsgBody', 1, 'MsgContent', 'Text'])).toBe(90002);
    expect(at('invalid_request', ['MsgLifeTime'])).toBe(90026);
    expect(at('invalid_request', ['MsgRandomish'])).toBe(90010);
    expect(at('invalid_condition', ['Condition', 'AttrsOr', 'city'])).toBe(90033);
    expect(at('invalid_condition', ['Condition', 'TagsOr', 0])).toBe(90010);
    expect(at('not_found', ['TaskId'])).toBe(90049);
  });
});
