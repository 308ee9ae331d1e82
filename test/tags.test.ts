import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../db/accounts.ts';
import type { CreatedApp } from '../db/apps.ts';
import { addTags, getTags, MAX_TAGS_PER_ACCOUNT } from '../db/tags.ts';
import { client, startTestStack, type TestStack } from './support/stack.ts';

let stack: TestStack;
let app: CreatedApp;
let api: ReturnType<typeof client>;
let otherApi: ReturnType<typeof client>;

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
  app = await stack.newApp();
  api = client(stack.url, app.apiKey);
  otherApi = client(stack.url, (await stack.newApp()).apiKey);
});
afterAll(() => stack?.stop());

type ErrorBody = { error: { code: string; message: string } };
type Tags = { id: string; tags: string[] };
type Batch = { succeeded: number; failed: { id: string; code: string; message: string }[] };

const importIds = (...ids: string[]) => api('POST', '/v1/accounts', { accounts: ids.map((id) => ({ id })) });
const tagsOf = async (id: string) =>
  (await api<Tags>('GET', `/v1/accounts/${encodeURIComponent(id)}/tags`)).body.tags;
const range = (n: number, prefix = 't') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('one account', () => {
  beforeAll(() => importIds('solo', 'full'));

  it('adds tags in order, each once, and returns them', async () => {
    const first = await api<Tags>('POST', '/v1/accounts/solo/tags', { tags: ['vip', 'beta', 'vip'] });
    expect(first).toMatchObject({ status: 200, body: { id: 'solo', tags: ['vip', 'beta'] } });
    const second = await api<Tags>('POST', '/v1/accounts/solo/tags', { tags: ['音乐', 'beta', "o'brien"] });
    expect(second.body.tags).toEqual(['vip', 'beta', '音乐', "o'brien"]);
    expect(await tagsOf('solo')).toEqual(['vip', 'beta', '音乐', "o'brien"]);
  });

  it('removes some tags, keeping the order of the rest, then all of them', async () => {
    const removed = await api<Tags>('POST', '/v1/accounts/solo/tags/remove', { tags: ['beta', 'never-had'] });
    expect(removed.body.tags).toEqual(['vip', '音乐', "o'brien"]);
    const cleared = await api<Tags>('DELETE', '/v1/accounts/solo/tags');
    expect(cleared).toMatchObject({ status: 200, body: { id: 'solo', tags: [] } });
    expect(await tagsOf('solo')).toEqual([]);
  });

  it(`allows ${MAX_TAGS_PER_ACCOUNT} tags and refuses an add that would pass it, adding none`, async () => {
    expect((await api('POST', '/v1/accounts/full/tags', { tags: range(99) })).status).toBe(200);
    const exceeded = await api<ErrorBody>('POST', '/v1/accounts/full/tags', { tags: ['a', 'b'] });
    expect(exceeded.status).toBe(409);
    expect(exceeded.body.error.code).toBe('tag_limit_exceeded');
    expect(exceeded.body.error.message).toContain('has 99 tags and would have 101');
    expect(await tagsOf('full')).toHaveLength(99);
    // Tags it already has do not count twice.
    expect((await api('POST', '/v1/accounts/full/tags', { tags: ['t0', 't1', 'last'] })).status).toBe(200);
    expect(await tagsOf('full')).toHaveLength(100);
    expect((await api('POST', '/v1/accounts/full/tags', { tags: ['t5'] })).status).toBe(200);
  });

  it('answers 404 for an account that does not exist', async () => {
    for (const [method, path, body] of [
      ['GET', '/v1/accounts/ghost/tags', undefined],
      ['POST', '/v1/accounts/ghost/tags', { tags: ['a'] }],
      ['POST', '/v1/accounts/ghost/tags/remove', { tags: ['a'] }],
      ['DELETE', '/v1/accounts/ghost/tags', undefined],
    ] as const) {
      const res = await api<ErrorBody>(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error).toEqual({
        code: 'not_found',
        message: 'account "ghost" does not exist in this app',
        requestId: expect.any(String),
      });
    }
  });

  it('never loses a tag to concurrent adds', async () => {
    await importIds('busy');
    const adds = range(30, 'c').map((tag) => api('POST', '/v1/accounts/busy/tags', { tags: [tag] }));
    expect((await Promise.all(adds)).map((r) => r.status)).toEqual(Array(30).fill(200));
    expect((await tagsOf('busy')).sort()).toEqual(range(30, 'c').sort());
  });
});

describe('batches', () => {
  beforeAll(() => importIds('b1', 'b2', 'b3', 'crowded'));

  it('adds different tags to each account, and lists the accounts that failed and why', async () => {
    await api('POST', '/v1/accounts/crowded/tags', { tags: range(98) });
    const res = await api<Batch>('POST', '/v1/tags/add', {
      accounts: [
        { id: 'b1', tags: ['red'] },
        { id: 'crowded', tags: ['x', 'y', 'z'] },
        { id: 'b2', tags: ['red', 'blue'] },
        { id: 'missing', tags: ['red'] },
        { id: 'b1', tags: ['green'] },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.succeeded).toBe(2);
    expect(res.body.failed).toEqual([
      {
        id: 'crowded',
        code: 'tag_limit_exceeded',
        message: expect.stringContaining('has 98 tags and would have 101'),
      },
      { id: 'missing', code: 'not_found', message: expect.stringContaining('"missing" does not exist') },
    ]);
    expect(await tagsOf('b1')).toEqual(['red', 'green']);
    expect(await tagsOf('b2')).toEqual(['red', 'blue']);
    expect(await tagsOf('crowded')).toHaveLength(98);
  });

  it('gets tags of many accounts in the order asked', async () => {
    const res = await api('POST', '/v1/tags/get', { accounts: ['b2', 'nobody', 'b1', 'b3'] });
    expect(res.body).toEqual({
      accounts: [
        { id: 'b2', tags: ['red', 'blue'] },
        { id: 'b1', tags: ['red', 'green'] },
        { id: 'b3', tags: [] },
      ],
      notFound: ['nobody'],
    });
  });

  it('removes tags and all tags', async () => {
    const removed = await api<Batch>('POST', '/v1/tags/remove', {
      accounts: [
        { id: 'b1', tags: ['red'] },
        { id: 'b2', tags: ['blue', 'nope'] },
        { id: 'b3', tags: ['red'] },
        { id: 'nobody', tags: ['red'] },
      ],
    });
    expect(removed.body).toEqual({
      succeeded: 3,
      failed: [{ id: 'nobody', code: 'not_found', message: expect.any(String) }],
    });
    expect(await tagsOf('b1')).toEqual(['green']);
    expect(await tagsOf('b2')).toEqual(['red']);
    const cleared = await api<Batch>('POST', '/v1/tags/remove-all', { accounts: ['b1', 'b2', 'nobody'] });
    expect(cleared.body).toMatchObject({ succeeded: 2, failed: [{ id: 'nobody', code: 'not_found' }] });
    expect(await tagsOf('b1')).toEqual([]);
    expect(await tagsOf('b2')).toEqual([]);
  });

  it('tags 1,000 accounts in one call, and refuses 1,001', async () => {
    const ids = range(1000, 'many-');
    await api('POST', '/v1/accounts', { accounts: ids.map((id) => ({ id })) });
    const res = await api<Batch>('POST', '/v1/tags/add', {
      accounts: ids.map((id, i) => ({ id, tags: ['bulk', `n${i % 7}`] })),
    });
    expect(res.body).toEqual({ succeeded: 1000, failed: [] });
    const [row] = await stack.database.sql<{ n: string }[]>`
      select count(*) as n from accounts where app_id = ${app.id} and tags @> array['bulk', 'n3']`;
    expect(Number(row?.n)).toBe(143);
    const tooMany = await api<ErrorBody>('POST', '/v1/tags/add', {
      accounts: [...ids, 'one-more'].map((id) => ({ id, tags: ['x'] })),
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toEqual({
      code: 'batch_too_large',
      message: 'accounts: at most 1000 accounts per call, got 1001',
      requestId: expect.any(String),
    });
    for (const path of ['/v1/tags/get', '/v1/tags/remove-all']) {
      const r = await api<ErrorBody>('POST', path, { accounts: [...ids, 'one-more'] });
      expect(r.body.error.code, path).toBe('batch_too_large');
    }
  });

  it('checks the whole batch before changing any account', async () => {
    const res = await api<ErrorBody>('POST', '/v1/tags/add', {
      accounts: [
        { id: 'b3', tags: ['fine'] },
        { id: 'b1', tags: ['fine', 'x'.repeat(51)] },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({
      code: 'invalid_tag',
      message: 'accounts[1].tags[1]: tag must be 1-50 UTF-8 bytes, got 51',
      requestId: expect.any(String),
    });
    expect(await tagsOf('b3')).toEqual([]);
  });

  it('keeps apps apart', async () => {
    const res = await otherApi<Batch>('POST', '/v1/tags/add', { accounts: [{ id: 'b3', tags: ['theirs'] }] });
    expect(res.body.failed).toMatchObject([{ id: 'b3', code: 'not_found' }]);
    expect((await otherApi('GET', '/v1/accounts/b3/tags')).status).toBe(404);
    expect((await otherApi<Batch>('POST', '/v1/tags/remove-all', { accounts: ['b1'] })).body.succeeded).toBe(
      0,
    );
    expect(await tagsOf('b3')).toEqual([]);
  });
});

describe('limits a caller passes (the v4 layer: 100 accounts, 10 tags per request)', () => {
  const v4 = { maxAccounts: 100, maxTagsPerRequest: 10 };
  const failure = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      if (err instanceof DomainError) return err;
      throw err;
    }
    throw new Error('expected a DomainError');
  };

  it('refuses 101 accounts and 11 tags, and tells an empty tag from a long one', async () => {
    const { db } = stack.database;
    const many = await failure(() =>
      addTags(
        db,
        app.id,
        range(101, 'v').map((id) => ({ id, tags: ['a'] })),
        v4,
      ),
    );
    expect(many).toMatchObject({ code: 'batch_too_large', details: { limit: 100 } });
    const tags = await failure(() => addTags(db, app.id, [{ id: 'b3', tags: range(11) }], v4));
    expect(tags).toMatchObject({ code: 'too_many_tags', details: { path: 'accounts[0].tags', limit: 10 } });
    const empty = await failure(() => addTags(db, app.id, [{ id: 'b3', tags: ['ok', ''] }], v4));
    expect(empty).toMatchObject({
      code: 'invalid_tag',
      details: { path: 'accounts[0].tags[1]', reason: 'empty' },
    });
    const long = await failure(() => addTags(db, app.id, [{ id: 'b3', tags: ['x'.repeat(51)] }], v4));
    expect(long).toMatchObject({ code: 'invalid_tag', details: { reason: 'too_long' } });
    expect(await addTags(db, app.id, [{ id: 'b3', tags: range(10, 'v4-') }], v4)).toEqual({
      succeeded: 1,
      failed: [],
    });
    expect((await getTags(db, app.id, ['b3'])).accounts[0]?.tags).toHaveLength(10);
    await failure(() => getTags(db, app.id, range(101), v4));
  });
});

describe('bad input', () => {
  const cases: [string, string, string, unknown, string, string][] = [
    ['tags not a list', 'POST', '/v1/accounts/solo/tags', { tags: 'vip' }, 'invalid_request', 'tags: '],
    ['a tag that is a number', 'POST', '/v1/accounts/solo/tags', { tags: [1] }, 'invalid_request', 'tags.0'],
    [
      'no tags',
      'POST',
      '/v1/accounts/solo/tags',
      { tags: [] },
      'invalid_request',
      'tags: list at least one tag',
    ],
    [
      'an empty tag',
      'POST',
      '/v1/accounts/solo/tags',
      { tags: [''] },
      'invalid_tag',
      'tags[0]: tag must be 1-50 UTF-8 bytes, got 0',
    ],
    ['a 51-byte tag', 'POST', '/v1/accounts/solo/tags', { tags: ['x'.repeat(51)] }, 'invalid_tag', 'got 51'],
    [
      'a 17-character, 51-byte tag',
      'POST',
      '/v1/accounts/solo/tags/remove',
      { tags: ['音'.repeat(17)] },
      'invalid_tag',
      'got 51',
    ],
    ['a NUL in a tag', 'POST', '/v1/accounts/solo/tags', { tags: ['a\u0000b'] }, 'invalid_tag', 'NUL'],
    [
      '101 tags in one request',
      'POST',
      '/v1/accounts/solo/tags',
      { tags: range(101) },
      'too_many_tags',
      'tags: at most 100 tags for one account in one request, got 101',
    ],
    [
      'an unknown field',
      'POST',
      '/v1/accounts/solo/tags',
      { tags: ['a'], force: true },
      'invalid_request',
      'force',
    ],
    [
      'a 33-byte id in the path',
      'POST',
      `/v1/accounts/${'x'.repeat(33)}/tags`,
      { tags: ['a'] },
      'invalid_account_id',
      'id: account id must be 1-32 UTF-8 bytes',
    ],
    ['a batch that is not a list', 'POST', '/v1/tags/add', { accounts: {} }, 'invalid_request', 'accounts'],
    [
      'an empty batch',
      'POST',
      '/v1/tags/add',
      { accounts: [] },
      'invalid_request',
      'accounts: list at least one account',
    ],
    [
      'a batch item without tags',
      'POST',
      '/v1/tags/remove',
      { accounts: [{ id: 'a' }] },
      'invalid_request',
      'accounts.0.tags',
    ],
    [
      'a batch with a bad id',
      'POST',
      '/v1/tags/add',
      { accounts: [{ id: '', tags: ['a'] }] },
      'invalid_account_id',
      'accounts[0].id',
    ],
    [
      'get with ids that are objects',
      'POST',
      '/v1/tags/get',
      { accounts: [{ id: 'a' }] },
      'invalid_request',
      'accounts.0',
    ],
    [
      'get with a bad id',
      'POST',
      '/v1/tags/get',
      { accounts: ['ok', 'x'.repeat(40)] },
      'invalid_account_id',
      'accounts[1]: account id',
    ],
    [
      'remove-all with no ids',
      'POST',
      '/v1/tags/remove-all',
      { accounts: [] },
      'invalid_request',
      'list at least one account',
    ],
    ['a body that is not JSON', 'POST', '/v1/tags/add', '{"accounts":', 'invalid_json', 'not valid JSON'],
  ];
  it.each(cases)('%s', async (_, method, path, body, code, message) => {
    const res = await api<ErrorBody>(method, path, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toContain(message);
  });

  it('refuses a body that is not JSON by its content type', async () => {
    const res = await api<ErrorBody>('POST', '/v1/tags/add', 'vip', { 'content-type': 'text/plain' });
    expect(res.body.error.code).toBe('unsupported_content_type');
  });
});
