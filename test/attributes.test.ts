import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import { client, startTestStack, type TestStack } from './support/stack.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
});
afterAll(() => stack?.stop());

type ErrorBody = { error: { code: string; message: string } };
type Names = { slots: number; names: { slot: number; name: string }[] };
type Values = { id: string; attributes: Record<string, string> };
type Batch = { succeeded: number; failed: { id: string; code: string; message: string }[] };

async function freshApp() {
  const app: CreatedApp = await stack.newApp();
  const api = client(stack.url, app.apiKey);
  const valuesOf = async (id: string) =>
    (await api<Values>('GET', `/v1/accounts/${id}/attributes`)).body.attributes;
  const stored = async (id: string) => {
    const [row] = await stack.database.sql<{ attrs: Record<string, string> }[]>`
      select attrs from accounts where app_id = ${app.id} and account_id = ${id}`;
    return row?.attrs;
  };
  return { app, api, valuesOf, stored };
}

describe('attribute names', () => {
  it('starts with 10 empty slots, and sets names of some slots', async () => {
    const { api } = await freshApp();
    expect((await api('GET', '/v1/attributes')).body).toEqual({ slots: 10, names: [] });
    const set = await api<Names>('PATCH', '/v1/attributes', { names: { '3': 'city', '0': 'sex' } });
    expect(set).toMatchObject({
      status: 200,
      body: {
        slots: 10,
        names: [
          { slot: 0, name: 'sex' },
          { slot: 3, name: 'city' },
        ],
      },
    });
    await api('PATCH', '/v1/attributes', { names: { '9': '语言' } });
    expect((await api<Names>('GET', '/v1/attributes')).body.names.map((n) => n.name)).toEqual([
      'sex',
      'city',
      '语言',
    ]);
  });

  it('renames a slot and keeps its values', async () => {
    const { api, valuesOf, stored } = await freshApp();
    await api('PATCH', '/v1/attributes', { names: { '1': 'city' } });
    await api('POST', '/v1/accounts', { accounts: [{ id: 'u1' }] });
    await api('POST', '/v1/accounts/u1/attributes', { attributes: { city: 'SZ' } });
    expect(await stored('u1')).toEqual({ '1': 'SZ' });
    await api('PATCH', '/v1/attributes', { names: { '1': 'town' } });
    expect(await valuesOf('u1')).toEqual({ town: 'SZ' });
    const old = await api<ErrorBody>('POST', '/v1/audience/preview', {
      audience: { AttrsAnd: { city: 'SZ' } },
    });
    expect(old.body.error.code).toBe('unknown_attribute');
    const renamed = await api('POST', '/v1/audience/preview', { audience: { AttrsAnd: { town: 'SZ' } } });
    expect(renamed.body).toEqual({ count: 1, sample: ['u1'] });
  });

  it('swaps two names in one call, and refuses a name another slot holds', async () => {
    const { api, valuesOf } = await freshApp();
    await api('PATCH', '/v1/attributes', { names: { '0': 'a', '1': 'b' } });
    await api('POST', '/v1/accounts', { accounts: [{ id: 'u1' }] });
    await api('POST', '/v1/accounts/u1/attributes', { attributes: { a: 'zero', b: 'one' } });
    const swapped = await api<Names>('PATCH', '/v1/attributes', { names: { '0': 'b', '1': 'a' } });
    expect(swapped.status).toBe(200);
    expect(await valuesOf('u1')).toEqual({ b: 'zero', a: 'one' });
    const taken = await api<ErrorBody>('PATCH', '/v1/attributes', { names: { '5': 'a' } });
    expect(taken.status).toBe(409);
    expect(taken.body.error).toEqual({
      requestId: expect.any(String),
      code: 'attribute_name_taken',
      message: 'names["5"]: the name "a" is held by slot 1; rename or remove that slot first',
    });
    // Setting a slot to the name it has is a no-op.
    expect((await api('PATCH', '/v1/attributes', { names: { '1': 'a' } })).status).toBe(200);
  });

  it('removes a name and its values from every account, and no other app’s', async () => {
    const { app, api, stored } = await freshApp();
    const other = await freshApp();
    for (const x of [{ api }, other]) {
      await x.api('PATCH', '/v1/attributes', { names: { '2': 'lang', '4': 'level' } });
      await x.api('POST', '/v1/accounts', { accounts: [{ id: 'u1' }, { id: 'u2' }, { id: 'u3' }] });
      await x.api('POST', '/v1/attributes/set', {
        accounts: [
          { id: 'u1', attributes: { lang: 'en', level: '1' } },
          { id: 'u2', attributes: { lang: 'zh' } },
          { id: 'u3', attributes: { level: '2' } },
        ],
      });
    }
    const removed = await api('DELETE', '/v1/attributes/lang');
    expect(removed).toMatchObject({ status: 200, body: { slot: 2, name: 'lang', accountsCleared: 2 } });
    expect(await stored('u1')).toEqual({ '4': '1' });
    expect(await stored('u2')).toEqual({});
    expect(await other.stored('u2')).toEqual({ '2': 'zh' });
    expect((await api<Names>('GET', '/v1/attributes')).body.names).toEqual([{ slot: 4, name: 'level' }]);
    // A new name in the freed slot starts with no values.
    await api('PATCH', '/v1/attributes', { names: { '2': 'plan' } });
    const [row] = await stack.database.sql<{ n: string }[]>`
      select count(*) as n from accounts where app_id = ${app.id} and attrs ? '2'`;
    expect(Number(row?.n)).toBe(0);
    const again = await api<ErrorBody>('DELETE', '/v1/attributes/lang');
    expect(again.status).toBe(404);
    expect(again.body.error).toEqual({
      requestId: expect.any(String),
      code: 'unknown_attribute',
      message: 'name: unknown attribute "lang"; no slot of this app has that name',
    });
  });

  it('has only the app’s number of slots', async () => {
    const { app, api } = await freshApp();
    await stack.database.sql`update apps set attr_slots = 3 where id = ${app.id}`;
    expect((await api<Names>('GET', '/v1/attributes')).body.slots).toBe(3);
    const res = await api<ErrorBody>('PATCH', '/v1/attributes', { names: { '3': 'x' } });
    expect(res.body.error).toEqual({
      requestId: expect.any(String),
      code: 'attribute_slot_out_of_range',
      message: 'names["3"]: slots are numbered 0 to 2 in this app, got "3"',
    });
  });

  it('says what is wrong with names', async () => {
    const { api } = await freshApp();
    await api('PATCH', '/v1/attributes', { names: { '0': 'city' } });
    const cases: [unknown, string, string][] = [
      [{ names: { '10': 'x' } }, 'attribute_slot_out_of_range', 'names["10"]: slots are numbered 0 to 9'],
      [{ names: { '-1': 'x' } }, 'attribute_slot_out_of_range', 'got "-1"'],
      [{ names: { '01': 'x' } }, 'attribute_slot_out_of_range', 'got "01"'],
      [{ names: { sex: 'x' } }, 'attribute_slot_out_of_range', 'got "sex"'],
      [
        { names: { '1': '' } },
        'invalid_attribute_name',
        'names["1"]: attribute name must be 1-50 UTF-8 bytes',
      ],
      [{ names: { '1': 'n'.repeat(51) } }, 'invalid_attribute_name', 'got 51'],
      [
        { names: { '1': 'x', '2': 'x' } },
        'duplicate_attribute_name',
        'names["2"]: the name "x" is also given to slot 1',
      ],
      [{ names: {} }, 'invalid_request', 'names: give at least one'],
      [{ names: { '1': 5 } }, 'invalid_request', 'names.1'],
      [{ names: ['city'] }, 'invalid_request', 'names'],
      [{}, 'invalid_request', 'names'],
    ];
    for (const [body, code, message] of cases) {
      const res = await api<ErrorBody>('PATCH', '/v1/attributes', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code, JSON.stringify(body)).toBe(code);
      expect(res.body.error.message, JSON.stringify(body)).toContain(message);
    }
    expect((await api<Names>('GET', '/v1/attributes')).body.names).toEqual([{ slot: 0, name: 'city' }]);
  });
});

describe('attribute values', () => {
  let x: Awaited<ReturnType<typeof freshApp>>;
  beforeAll(async () => {
    x = await freshApp();
    await x.api('PATCH', '/v1/attributes', { names: { '0': 'sex', '3': 'city', '7': 'vip tier' } });
    await x.api('POST', '/v1/accounts', { accounts: ['v1', 'v2', 'v3', 'v4'].map((id) => ({ id })) });
  });

  it('sets, reads and removes the values of one account by name', async () => {
    const set = await x.api<Values>('POST', '/v1/accounts/v1/attributes', {
      attributes: { city: '深圳', 'vip tier': '' },
    });
    expect(set).toMatchObject({
      status: 200,
      body: { id: 'v1', attributes: { city: '深圳', 'vip tier': '' } },
    });
    expect(await x.stored('v1')).toEqual({ '3': '深圳', '7': '' });
    await x.api('POST', '/v1/accounts/v1/attributes', { attributes: { sex: 'f', city: 'BJ' } });
    expect(await x.valuesOf('v1')).toEqual({ sex: 'f', city: 'BJ', 'vip tier': '' });
    const removed = await x.api<Values>('POST', '/v1/accounts/v1/attributes/remove', {
      names: ['city', 'sex'],
    });
    expect(removed.body).toEqual({ id: 'v1', attributes: { 'vip tier': '' } });
  });

  it('takes values of exactly 50 bytes', async () => {
    const value = `${'音'.repeat(16)}xy`;
    expect((await x.api('POST', '/v1/accounts/v2/attributes', { attributes: { city: value } })).status).toBe(
      200,
    );
    expect(await x.valuesOf('v2')).toEqual({ city: value });
  });

  it('refuses an unknown attribute, naming it, and writes nothing', async () => {
    const res = await x.api<ErrorBody>('POST', '/v1/accounts/v3/attributes', {
      attributes: { city: 'SZ', age: '30' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({
      requestId: expect.any(String),
      code: 'unknown_attribute',
      message:
        'attributes.age: unknown attribute "age"; set its name first (this app has "sex", "city", "vip tier")',
    });
    expect(await x.valuesOf('v3')).toEqual({});
    const remove = await x.api<ErrorBody>('POST', '/v1/accounts/v3/attributes/remove', { names: ['age'] });
    expect(remove.body.error).toMatchObject({
      code: 'unknown_attribute',
      message: expect.stringContaining('names[0]'),
    });
  });

  it('answers 404 for an account that does not exist', async () => {
    for (const [method, path, body] of [
      ['GET', '/v1/accounts/ghost/attributes', undefined],
      ['POST', '/v1/accounts/ghost/attributes', { attributes: { city: 'SZ' } }],
      ['POST', '/v1/accounts/ghost/attributes/remove', { names: ['city'] }],
    ] as const) {
      const res = await x.api<ErrorBody>(method, path, body);
      expect(res.status, path).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
  });

  it('sets, gets and removes values in batches', async () => {
    const set = await x.api<Batch>('POST', '/v1/attributes/set', {
      accounts: [
        { id: 'v3', attributes: { sex: 'm', city: 'SH' } },
        { id: 'v4', attributes: { city: 'GZ' } },
        { id: 'nobody', attributes: { city: 'GZ' } },
        { id: 'v4', attributes: { sex: 'f' } },
      ],
    });
    expect(set.body).toEqual({
      succeeded: 2,
      failed: [{ id: 'nobody', code: 'not_found', message: expect.stringContaining('"nobody"') }],
    });
    const got = await x.api('POST', '/v1/attributes/get', { accounts: ['v4', 'nobody', 'v3'] });
    expect(got.body).toEqual({
      accounts: [
        { id: 'v4', attributes: { city: 'GZ', sex: 'f' } },
        { id: 'v3', attributes: { sex: 'm', city: 'SH' } },
      ],
      notFound: ['nobody'],
    });
    const removed = await x.api<Batch>('POST', '/v1/attributes/remove', {
      accounts: [
        { id: 'v3', names: ['sex'] },
        { id: 'v4', names: ['city', 'vip tier'] },
      ],
    });
    expect(removed.body).toEqual({ succeeded: 2, failed: [] });
    expect(await x.valuesOf('v3')).toEqual({ city: 'SH' });
    expect(await x.valuesOf('v4')).toEqual({ sex: 'f' });
  });

  it('checks the whole batch before changing any account', async () => {
    const res = await x.api<ErrorBody>('POST', '/v1/attributes/set', {
      accounts: [
        { id: 'v3', attributes: { city: 'changed' } },
        { id: 'v4', attributes: { city: 'fine' } },
        { id: 'v4', attributes: { height: '180' } },
      ],
    });
    expect(res.body.error).toEqual({
      requestId: expect.any(String),
      code: 'unknown_attribute',
      message: expect.stringMatching(/^accounts\[2\]\.attributes\.height: unknown attribute "height"/),
    });
    const long = await x.api<ErrorBody>('POST', '/v1/attributes/set', {
      accounts: [
        { id: 'v3', attributes: { city: 'changed' } },
        { id: 'v4', attributes: { city: 'x'.repeat(51) } },
      ],
    });
    expect(long.body.error).toEqual({
      requestId: expect.any(String),
      code: 'invalid_attribute_value',
      message: 'accounts[1].attributes.city: attribute value must be 0-50 UTF-8 bytes, got 51',
    });
    expect(await x.valuesOf('v3')).toEqual({ city: 'SH' });
  });

  it('takes 1,000 accounts in a batch and refuses 1,001', async () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `many-${i}`);
    await x.api('POST', '/v1/accounts', { accounts: ids.map((id) => ({ id })) });
    const set = await x.api<Batch>('POST', '/v1/attributes/set', {
      accounts: ids.map((id, i) => ({ id, attributes: { city: `c${i % 10}` } })),
    });
    expect(set.body).toEqual({ succeeded: 1000, failed: [] });
    const count = await x.api('POST', '/v1/audience/preview', { audience: { AttrsAnd: { city: 'c7' } } });
    expect(count.body).toMatchObject({ count: 100 });
    for (const [path, body] of [
      ['/v1/attributes/set', { accounts: [...ids, 'x'].map((id) => ({ id, attributes: { city: 'c' } })) }],
      ['/v1/attributes/remove', { accounts: [...ids, 'x'].map((id) => ({ id, names: ['city'] })) }],
      ['/v1/attributes/get', { accounts: [...ids, 'x'] }],
    ] as const) {
      const res = await x.api<ErrorBody>('POST', path, body);
      expect(res.body.error, path).toEqual({
        requestId: expect.any(String),
        code: 'batch_too_large',
        message: 'accounts: at most 1000 accounts per call, got 1001',
      });
    }
  });

  it('keeps apps apart', async () => {
    const other = await freshApp();
    await other.api('PATCH', '/v1/attributes', { names: { '3': 'city' } });
    const res = await other.api<Batch>('POST', '/v1/attributes/set', {
      accounts: [{ id: 'v3', attributes: { city: 'theirs' } }],
    });
    expect(res.body.failed).toMatchObject([{ id: 'v3', code: 'not_found' }]);
    expect(await x.valuesOf('v3')).toEqual({ city: 'SH' });
    expect((await other.api('POST', '/v1/attributes/get', { accounts: ['v3'] })).body).toEqual({
      accounts: [],
      notFound: ['v3'],
    });
  });

  it('says what is wrong with values', async () => {
    const cases: [string, unknown, string, string][] = [
      ['/v1/accounts/v1/attributes', { attributes: { city: 5 } }, 'invalid_request', 'attributes.city'],
      ['/v1/accounts/v1/attributes', { attributes: ['city'] }, 'invalid_request', 'attributes'],
      [
        '/v1/accounts/v1/attributes',
        { attributes: { city: 'x'.repeat(51) } },
        'invalid_attribute_value',
        'attributes.city: attribute value must be 0-50 UTF-8 bytes, got 51',
      ],
      ['/v1/accounts/v1/attributes', { attributes: { city: 'a\u0000' } }, 'invalid_attribute_value', 'NUL'],
      [
        '/v1/accounts/v1/attributes',
        { attributes: { '': 'x' } },
        'invalid_attribute_name',
        'attributes[""]: attribute name must be 1-50 UTF-8 bytes',
      ],
      ['/v1/accounts/v1/attributes/remove', { names: [] }, 'invalid_request', 'names: list at least one'],
      ['/v1/accounts/v1/attributes/remove', { names: 'city' }, 'invalid_request', 'names'],
      ['/v1/attributes/set', { accounts: [{ id: 'v1' }] }, 'invalid_request', 'accounts.0.attributes'],
      ['/v1/attributes/set', { accounts: [] }, 'invalid_request', 'accounts: list at least one account'],
      [
        '/v1/attributes/set',
        { accounts: [{ id: 'x'.repeat(33), attributes: {} }] },
        'invalid_account_id',
        'accounts[0].id',
      ],
      [
        '/v1/attributes/remove',
        { accounts: [{ id: 'v1', names: ['nope'] }] },
        'unknown_attribute',
        'accounts[0].names[0]: unknown attribute "nope"',
      ],
      ['/v1/attributes/get', { accounts: 'v1' }, 'invalid_request', 'accounts'],
      ['/v1/attributes/get', '[1,', 'invalid_json', 'not valid JSON'],
    ];
    for (const [path, body, code, message] of cases) {
      const res = await x.api<ErrorBody>('POST', path, body);
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(res.body.error.code, `${path} ${JSON.stringify(body)}`).toBe(code);
      expect(res.body.error.message, `${path} ${JSON.stringify(body)}`).toContain(message);
    }
    const wrongType = await x.api<ErrorBody>('POST', '/v1/attributes/set', 'city=SZ', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(wrongType.body.error.code).toBe('unsupported_content_type');
  });
});
