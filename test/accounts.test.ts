import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import { createRecipientPartition } from '../db/recipients.ts';
import { client, startTestStack, type TestStack } from './support/stack.ts';

let stack: TestStack;
let app: CreatedApp;
let other: CreatedApp;
let api: ReturnType<typeof client>;
let otherApi: ReturnType<typeof client>;

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
  app = await stack.newApp();
  other = await stack.newApp();
  api = client(stack.url, app.apiKey);
  otherApi = client(stack.url, other.apiKey);
});
afterAll(() => stack?.stop());

type Account = {
  id: string;
  nick: string | null;
  tags: string[];
  attributes: Record<string, string>;
  eligible: boolean;
  importedAt: string | null;
  lastLoginAt: string | null;
  devices?: { platform: string; token: string; disabledAt: string | null }[];
};
type Page = { accounts: Account[]; nextCursor: string | null };
type ErrorBody = { error: { code: string; message: string } };

const ids = (page: Page) => page.accounts.map((a) => a.id);
const enc = encodeURIComponent;

describe('import', () => {
  it('creates accounts, and re-importing is a no-op that may update nick', async () => {
    const first = await api('POST', '/v1/accounts', {
      accounts: [{ id: 'imp-a', nick: 'A' }, { id: 'imp-b' }],
    });
    expect(first).toMatchObject({ status: 200, body: { imported: 2, created: 2 } });
    const again = await api('POST', '/v1/accounts', {
      accounts: [{ id: 'imp-a' }, { id: 'imp-b', nick: 'Bee' }, { id: 'imp-c' }],
    });
    expect(again).toMatchObject({ status: 200, body: { imported: 3, created: 1 } });
    const a = await api<Account>('GET', '/v1/accounts/imp-a');
    const b = await api<Account>('GET', '/v1/accounts/imp-b');
    expect(a.body).toMatchObject({ id: 'imp-a', nick: 'A', eligible: true });
    expect(b.body.nick).toBe('Bee');
  });

  it('counts an id listed twice once, and takes its last nick', async () => {
    const res = await api('POST', '/v1/accounts', {
      accounts: [
        { id: 'twice', nick: 'one' },
        { id: 'twice', nick: 'two' },
      ],
    });
    expect(res).toMatchObject({ status: 200, body: { imported: 1, created: 1 } });
    expect((await api<Account>('GET', '/v1/accounts/twice')).body.nick).toBe('two');
  });

  it('takes 1,000 accounts in one call and refuses 1,001', async () => {
    const accounts = Array.from({ length: 1000 }, (_, i) => ({ id: `bulk-${i}` }));
    expect(await api('POST', '/v1/accounts', { accounts })).toMatchObject({
      status: 200,
      body: { imported: 1000, created: 1000 },
    });
    const tooMany = await api<ErrorBody>('POST', '/v1/accounts', {
      accounts: [...accounts, { id: 'bulk-1000' }],
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toEqual({
      requestId: expect.any(String),
      code: 'batch_too_large',
      message: 'accounts: at most 1000 accounts per call, got 1001',
    });
  });

  it('accepts ids of exactly 32 bytes, multi-byte ones included', async () => {
    const res = await api('POST', '/v1/accounts', {
      accounts: [{ id: 'x'.repeat(32) }, { id: `${'音'.repeat(10)}xy` }],
    });
    expect(res.status).toBe(200);
  });

  it('checks the whole batch before writing anything', async () => {
    const res = await api<ErrorBody>('POST', '/v1/accounts', {
      accounts: [{ id: 'never-1' }, { id: 'never-2' }, { id: 'x'.repeat(33) }],
    });
    expect(res.body.error).toEqual({
      requestId: expect.any(String),
      code: 'invalid_account_id',
      message: 'accounts[2].id: account id must be 1-32 UTF-8 bytes, got 33',
    });
    expect((await api('GET', '/v1/accounts/never-1')).status).toBe(404);
  });
});

describe('one account', () => {
  beforeAll(async () => {
    await api('POST', '/v1/accounts', { accounts: [{ id: 'full', nick: 'Full' }, { id: 'a/b c' }] });
    await api('PATCH', '/v1/attributes', { names: { '0': 'city', '4': 'level' } });
    await api('POST', '/v1/accounts/full/tags', { tags: ['vip', 'beta'] });
    await api('POST', '/v1/accounts/full/attributes', { attributes: { city: 'SZ', level: '3' } });
    await stack.database.sql`
      insert into devices (app_id, platform, token, account_id, environment)
      values (${app.id}, 'apns', 'aa11', 'full', 'sandbox'), (${app.id}, 'fcm', 'fcm-full', 'full', 'production')`;
    await stack.database.sql`
      update accounts set last_login_at = '2030-01-02T03:04:05Z' where app_id = ${app.id} and account_id = 'full'`;
    // Logged in through the gateway without being imported: eligible too.
    await stack.database.sql`
      insert into accounts (app_id, account_id, last_login_at) values (${app.id}, 'logged-in', now())`;
    await stack.database.sql`insert into accounts (app_id, account_id) values (${app.id}, 'never-seen')`;
  });

  it('shows tags, attributes by name, devices, eligibility and last login', async () => {
    const res = await api<Account>('GET', '/v1/accounts/full');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: 'full',
      nick: 'Full',
      tags: ['vip', 'beta'],
      attributes: { city: 'SZ', level: '3' },
      eligible: true,
      lastLoginAt: '2030-01-02T03:04:05.000Z',
      importedAt: expect.any(String),
    });
    expect(res.body.devices?.map((d) => [d.platform, d.token]).sort()).toEqual([
      ['apns', 'aa11'],
      ['fcm', 'fcm-full'],
    ]);
  });

  it('says whether an account is eligible', async () => {
    expect((await api<Account>('GET', '/v1/accounts/logged-in')).body).toMatchObject({
      eligible: true,
      importedAt: null,
    });
    expect((await api<Account>('GET', '/v1/accounts/never-seen')).body).toMatchObject({
      eligible: false,
      importedAt: null,
      lastLoginAt: null,
    });
  });

  it('takes ids with slashes and spaces percent-encoded', async () => {
    const res = await api<Account>('GET', `/v1/accounts/${enc('a/b c')}`);
    expect(res).toMatchObject({ status: 200, body: { id: 'a/b c' } });
  });

  it('answers 404 for an unknown account and 400 for an impossible id', async () => {
    const missing = await api<ErrorBody>('GET', '/v1/accounts/nobody');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toEqual({
      requestId: expect.any(String),
      code: 'not_found',
      message: 'account "nobody" does not exist in this app',
    });
    const long = await api<ErrorBody>('GET', `/v1/accounts/${'x'.repeat(33)}`);
    expect(long.status).toBe(400);
    expect(long.body.error).toEqual({
      requestId: expect.any(String),
      code: 'invalid_account_id',
      message: 'id: account id must be 1-32 UTF-8 bytes, got 33',
    });
  });
});

describe('list and search', () => {
  let listApp: CreatedApp;
  let list: ReturnType<typeof client>;
  beforeAll(async () => {
    listApp = await stack.newApp();
    list = client(stack.url, listApp.apiKey);
    await list('POST', '/v1/accounts', {
      accounts: ['l1', 'l2', 'l3', 'l4', 'l5', 'l6', 'l7'].map((id) => ({ id })),
    });
    await list('PATCH', '/v1/attributes', { names: { '2': 'lang' } });
    await list('POST', '/v1/tags/add', {
      accounts: [
        { id: 'l1', tags: ['vip'] },
        { id: 'l3', tags: ['vip', 'eu'] },
        { id: 'l6', tags: ['eu'] },
      ],
    });
    await list('POST', '/v1/attributes/set', {
      accounts: [
        { id: 'l2', attributes: { lang: 'en' } },
        { id: 'l3', attributes: { lang: 'en' } },
      ],
    });
    await stack.database.sql`insert into accounts (app_id, account_id) values (${listApp.id}, 'l8-new')`;
  });

  it('pages through every account in import order with a keyset cursor', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const path: string = `/v1/accounts?limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await list<Page>('GET', path);
      expect(res.status).toBe(200);
      seen.push(...ids(res.body));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(['l1', 'l2', 'l3', 'l4', 'l5', 'l6', 'l7', 'l8-new']);
    expect(pages).toBe(3);
  });

  it('filters by a condition given as JSON in the query', async () => {
    const cond = enc(JSON.stringify({ TagsOr: ['vip'], AttrsNot: { lang: 'en' } }));
    const res = await list<Page>('GET', `/v1/accounts?condition=${cond}`);
    expect(ids(res.body)).toEqual(['l1']);
    expect(res.body.accounts[0]).toMatchObject({ tags: ['vip'], attributes: {}, eligible: true });
    const any = enc(JSON.stringify({ any: [{ TagsAnd: ['eu'] }, { AttrsAnd: { lang: 'en' } }] }));
    expect(ids((await list<Page>('GET', `/v1/accounts?condition=${any}`)).body)).toEqual(['l2', 'l3', 'l6']);
  });

  it('filters by eligibility', async () => {
    expect(ids((await list<Page>('GET', '/v1/accounts?eligible=false')).body)).toEqual(['l8-new']);
    expect((await list<Page>('GET', '/v1/accounts?eligible=true')).body.accounts).toHaveLength(7);
  });

  it('searches with the condition in the body, paging the same way', async () => {
    const first = await list<Page>('POST', '/v1/accounts/search', {
      condition: { TagsOr: ['vip', 'eu'] },
      limit: 2,
    });
    expect(ids(first.body)).toEqual(['l1', 'l3']);
    const second = await list<Page>('POST', '/v1/accounts/search', {
      condition: { TagsOr: ['vip', 'eu'] },
      limit: 2,
      cursor: first.body.nextCursor,
    });
    expect(ids(second.body)).toEqual(['l6']);
    expect(second.body.nextCursor).toBeNull();
    const all = await list<Page>('POST', '/v1/accounts/search', { condition: 'all', eligible: false });
    expect(ids(all.body)).toEqual(['l8-new']);
  });

  it('says what is wrong with a condition, a cursor or a limit', async () => {
    const cases: [string, unknown, string, string][] = [
      ['GET', '/v1/accounts?condition=%7B', 'invalid_condition', 'condition: is not valid JSON'],
      [
        'GET',
        `/v1/accounts?condition=${enc('{"TagsOr":"vip"}')}`,
        'invalid_condition',
        'condition.TagsOr: must be an array of tags',
      ],
      [
        'GET',
        `/v1/accounts?condition=${enc('{"AttrsAnd":{"city":"SZ"}}')}`,
        'unknown_attribute',
        'condition.AttrsAnd.city: unknown attribute "city"; set its name first',
      ],
      ['GET', '/v1/accounts?cursor=abc', 'invalid_cursor', 'cursor: pass the nextCursor'],
      ['GET', '/v1/accounts?limit=0', 'invalid_request', 'limit'],
      ['GET', '/v1/accounts?limit=1001', 'invalid_request', 'limit'],
      ['GET', '/v1/accounts?eligible=yes', 'invalid_request', 'eligible'],
      [
        'POST',
        { condition: { not: { not: { not: { not: { not: { not: { not: { not: {} } } } } } } } } },
        'condition_too_deep',
        'condition.not.not.not.not.not.not.not.not: conditions may nest at most 8 levels deep',
      ],
      ['POST', { condition: { TagsOr: ['a'] }, limit: 'ten' }, 'invalid_request', 'limit'],
      ['POST', { condition: { TagsOr: ['a'] }, extra: 1 }, 'invalid_request', 'extra'],
    ];
    for (const [method, what, code, message] of cases) {
      const res =
        method === 'GET'
          ? await list<ErrorBody>('GET', what as string)
          : await list<ErrorBody>('POST', '/v1/accounts/search', what);
      expect(res.status, JSON.stringify(what)).toBe(400);
      expect(res.body.error.code, JSON.stringify(what)).toBe(code);
      expect(res.body.error.message, JSON.stringify(what)).toContain(message);
    }
  });

  it('lists only the app’s own accounts', async () => {
    const page = await otherApi<Page>('GET', '/v1/accounts?limit=1000');
    expect(ids(page.body).filter((id) => id.startsWith('l'))).toEqual([]);
  });
});

describe('delete', () => {
  const push = '00000000-0000-7000-8000-00000000d001';
  const otherPush = '00000000-0000-7000-8000-00000000d002';

  beforeAll(async () => {
    const { sql } = stack.database;
    for (const [a, id] of [
      [app, push],
      [other, otherPush],
    ] as const) {
      await (a === app
        ? api('POST', '/v1/accounts', { accounts: [{ id: 'gone' }, { id: 'stays' }] })
        : otherApi('POST', '/v1/accounts', { accounts: [{ id: 'gone' }] }));
      await sql`
        insert into pushes (app_id, id, message, offline, retention_seconds, workflow_id, status)
        values (${a.id}, ${id}, '{}', '{}', 60, ${`push-test-${id}`}, 'running')`;
      await createRecipientPartition(stack.database.db, id);
      await sql`
        insert into devices (app_id, platform, token, account_id)
        values (${a.id}, 'fcm', ${`tok-${id}`}, 'gone')`;
    }
    // In app's push: 'gone' has a pending copy; in the other app's push, its own 'gone' has a stored one.
    await sql`insert into push_recipients (push_id, account_seq, account_id, state)
      values (${push}, 1, 'gone', 0), (${push}, 2, 'stays', 0), (${otherPush}, 1, 'gone', 2)`;
    await api('POST', '/v1/accounts/gone/tags', { tags: ['t'] });
  });

  it('removes the account, its devices and its waiting copies, and nothing of another app', async () => {
    const res = await api('DELETE', '/v1/accounts/gone');
    expect(res.status).toBe(204);
    expect((await api('GET', '/v1/accounts/gone')).status).toBe(404);
    const { sql } = stack.database;
    expect(await sql`select app_id from devices where account_id = 'gone'`).toEqual([{ app_id: other.id }]);
    const left = await sql`select push_id, account_id from push_recipients order by push_id, account_seq`;
    expect(left.filter((r) => r.push_id === push || r.push_id === otherPush)).toEqual([
      { push_id: push, account_id: 'stays' },
      { push_id: otherPush, account_id: 'gone' },
    ]);
    expect((await otherApi<Account>('GET', '/v1/accounts/gone')).body.id).toBe('gone');
    // A recreated account starts with no tags.
    await api('POST', '/v1/accounts', { accounts: [{ id: 'gone' }] });
    expect((await api<Account>('GET', '/v1/accounts/gone')).body.tags).toEqual([]);
  });

  it('keeps delivered and acked copies for the push reports', async () => {
    const { sql } = stack.database;
    await api('POST', '/v1/accounts', { accounts: [{ id: 'reader' }] });
    await sql`insert into push_recipients (push_id, account_seq, account_id, state)
      values (${push}, 10, 'reader', 4)`;
    expect((await api('DELETE', '/v1/accounts/reader')).status).toBe(204);
    expect(
      await sql`select state from push_recipients where push_id = ${push} and account_id = 'reader'`,
    ).toEqual([{ state: 4 }]);
  });

  it('answers 404 for an account that does not exist, or belongs to another app', async () => {
    await otherApi('POST', '/v1/accounts', { accounts: [{ id: 'theirs' }] });
    const res = await api<ErrorBody>('DELETE', '/v1/accounts/theirs');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
    expect((await otherApi('GET', '/v1/accounts/theirs')).status).toBe(200);
  });

  it('deletes in batches and lists the ids it did not find', async () => {
    await api('POST', '/v1/accounts', { accounts: [{ id: 'd1' }, { id: 'd2' }] });
    const res = await api('POST', '/v1/accounts/delete', { accounts: ['d1', 'd2', 'd1', 'nope'] });
    expect(res).toMatchObject({ status: 200, body: { deleted: 2, notFound: ['nope'] } });
    const tooMany = await api<ErrorBody>('POST', '/v1/accounts/delete', {
      accounts: Array.from({ length: 1001 }, (_, i) => `d${i}`),
    });
    expect(tooMany.body.error.code).toBe('batch_too_large');
  });
});

describe('bad input', () => {
  const long = 'x'.repeat(33);
  const cases: [string, string, string, unknown, string, string][] = [
    ['a body that is not JSON', 'POST', '/v1/accounts', '{"accounts": [', 'invalid_json', 'not valid JSON'],
    [
      'no accounts',
      'POST',
      '/v1/accounts',
      { accounts: [] },
      'invalid_request',
      'accounts: list at least one',
    ],
    ['accounts not a list', 'POST', '/v1/accounts', { accounts: 'alice' }, 'invalid_request', 'accounts'],
    [
      'an id that is a number',
      'POST',
      '/v1/accounts',
      { accounts: [{ id: 7 }] },
      'invalid_request',
      'accounts.0.id',
    ],
    [
      'a missing id',
      'POST',
      '/v1/accounts',
      { accounts: [{ nick: 'x' }] },
      'invalid_request',
      'accounts.0.id',
    ],
    [
      'an unknown field',
      'POST',
      '/v1/accounts',
      { accounts: [{ id: 'a', age: 3 }] },
      'invalid_request',
      'age',
    ],
    [
      'an empty id',
      'POST',
      '/v1/accounts',
      { accounts: [{ id: '' }] },
      'invalid_account_id',
      'accounts[0].id: account id must be 1-32 UTF-8 bytes, got 0',
    ],
    ['a 33-byte id', 'POST', '/v1/accounts', { accounts: [{ id: long }] }, 'invalid_account_id', 'got 33'],
    [
      'an id of 11 three-byte characters',
      'POST',
      '/v1/accounts',
      { accounts: [{ id: '音'.repeat(11) }] },
      'invalid_account_id',
      'got 33',
    ],
    [
      'a control character',
      'POST',
      '/v1/accounts',
      { accounts: [{ id: 'a\nb' }] },
      'invalid_account_id',
      'control characters',
    ],
    [
      'a nick too long',
      'POST',
      '/v1/accounts',
      { accounts: [{ id: 'a', nick: 'n'.repeat(101) }] },
      'invalid_request',
      'accounts[0].nick',
    ],
    [
      'delete ids not strings',
      'POST',
      '/v1/accounts/delete',
      { accounts: [1] },
      'invalid_request',
      'accounts.0',
    ],
    [
      'delete a 33-byte id',
      'POST',
      '/v1/accounts/delete',
      { accounts: [long] },
      'invalid_account_id',
      'accounts[0]: account id',
    ],
    [
      'search with a condition that is a list',
      'POST',
      '/v1/accounts/search',
      { condition: [] },
      'invalid_request',
      'condition',
    ],
  ];
  it.each(cases)('%s', async (_, method, path, body, code, message) => {
    const res = await api<ErrorBody>(method, path, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toContain(message);
  });

  it('refuses a body that is not JSON by its content type', async () => {
    const res = await api<ErrorBody>('POST', '/v1/accounts', 'id=alice', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('unsupported_content_type');
  });

  it('refuses a missing or wrong key', async () => {
    expect((await client(stack.url)('GET', '/v1/accounts')).status).toBe(401);
    expect((await client(stack.url, 'hk_wrong')('POST', '/v1/accounts/search', {})).status).toBe(401);
  });
});
