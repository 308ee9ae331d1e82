import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import type { Condition } from '../db/conditions.ts';
import { type OracleAccount, oracleMatches } from './support/condition-oracle.ts';
import { prng } from './support/prng.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.stop());

type ErrorBody = { error: { code: string; message: string } };
type Preview = { count: number; sample: string[] };
type Page = { accounts: { id: string }[]; nextCursor: string | null };

const SEED = Number(process.env.AUDIENCE_SEED ?? 7_2026);

describe('preview', () => {
  let api: ReturnType<typeof client>;
  beforeAll(async () => {
    const app = await stack.newApp();
    api = client(stack.url, app.apiKey);
    await api('PATCH', '/v1/attributes', { names: { '0': 'city' } });
    const ids = Array.from({ length: 30 }, (_, i) => ({ id: `p${String(i).padStart(2, '0')}` }));
    await api('POST', '/v1/accounts', { accounts: ids });
    await api('POST', '/v1/tags/add', {
      accounts: [
        { id: 'p03', tags: ['vip'] },
        { id: 'p07', tags: ['vip', 'eu'] },
      ],
    });
    await api('POST', '/v1/attributes/set', { accounts: [{ id: 'p07', attributes: { city: 'SZ' } }] });
    // Not imported and never logged in: not in any audience. Logged in only: in.
    await stack.database.sql`
      insert into accounts (app_id, account_id, tags) values (${app.id}, 'ghost', '{vip}')`;
    await stack.database.sql`
      insert into accounts (app_id, account_id, tags, last_login_at) values (${app.id}, 'walk-in', '{vip}', now())`;
  });

  it('counts every eligible account for "all", with a sample of 20 in import order', async () => {
    const res = await api<Preview>('POST', '/v1/audience/preview', { audience: 'all' });
    expect(res.status).toBe(200);
    expect(res.body.count).toBe(31);
    expect(res.body.sample).toEqual(Array.from({ length: 20 }, (_, i) => `p${String(i).padStart(2, '0')}`));
    expect((await api<Preview>('POST', '/v1/audience/preview', {})).body.count).toBe(31);
    expect((await api<Preview>('POST', '/v1/audience/preview', { audience: {} })).body.count).toBe(31);
  });

  it('counts the eligible accounts a condition selects', async () => {
    const preview = async (audience: unknown) =>
      (await api<Preview>('POST', '/v1/audience/preview', { audience })).body;
    expect(await preview({ TagsOr: ['vip'] })).toEqual({ count: 3, sample: ['p03', 'p07', 'walk-in'] });
    expect(await preview({ TagsAnd: ['vip', 'eu'] })).toEqual({ count: 1, sample: ['p07'] });
    expect(await preview({ TagsOr: ['vip'], not: { AttrsAnd: { city: 'SZ' } } })).toEqual({
      count: 2,
      sample: ['p03', 'walk-in'],
    });
    expect(await preview({ TagsOr: ['nobody-has-it'] })).toEqual({ count: 0, sample: [] });
  });

  const cases: [string, unknown, string, string][] = [
    [
      'a string other than "all"',
      { audience: 'everyone' },
      'invalid_request',
      'audience: must be "all" or a condition',
    ],
    [
      'a list',
      { audience: [{ TagsOr: ['a'] }] },
      'invalid_request',
      'audience: must be "all" or a condition',
    ],
    ['an unknown key', { audience: { Tags: ['a'] } }, 'invalid_condition', 'audience: unknown key "Tags"'],
    [
      'tags as a string',
      { audience: { TagsOr: 'vip' } },
      'invalid_condition',
      'audience.TagsOr: must be an array of tags',
    ],
    [
      'a 51-byte tag',
      { audience: { any: [{ TagsAnd: ['x'.repeat(51)] }] } },
      'invalid_condition',
      'audience.any[0].TagsAnd[0]: tag must be 1-50 UTF-8 bytes, got 51',
    ],
    [
      'an unknown attribute',
      { audience: { AttrsOr: { city: 'SZ', height: '1' } } },
      'unknown_attribute',
      'audience.AttrsOr.height: unknown attribute "height"',
    ],
    [
      'a value too long',
      { audience: { AttrsAnd: { city: 'x'.repeat(51) } } },
      'invalid_condition',
      'audience.AttrsAnd.city',
    ],
    [
      'nine levels',
      { audience: { not: { not: { not: { not: { not: { not: { not: { not: {} } } } } } } } } },
      'condition_too_deep',
      'at most 8 levels',
    ],
    [
      '201 terms',
      {
        audience: {
          any: [0, 1, 2].map((n) => ({ TagsOr: Array.from({ length: 67 }, (_, i) => `t${n}-${i}`) })),
        },
      },
      'condition_too_large',
      '201 tags and attributes',
    ],
    ['an extra field', { audience: 'all', sample: 50 }, 'invalid_request', 'sample'],
  ];
  it.each(cases)('refuses %s', async (_, body, code, message) => {
    const res = await api<ErrorBody>('POST', '/v1/audience/preview', body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toContain(message);
  });

  it('refuses a body that is not JSON, or not sent as JSON', async () => {
    const broken = await api<ErrorBody>('POST', '/v1/audience/preview', '{"audience":');
    expect(broken.body.error.code).toBe('invalid_json');
    const form = await api<ErrorBody>('POST', '/v1/audience/preview', 'audience=all', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form.body.error.code).toBe('unsupported_content_type');
  });

  it('sees only the app’s own accounts', async () => {
    const other = client(stack.url, (await stack.newApp()).apiKey);
    expect((await other<Preview>('POST', '/v1/audience/preview', { audience: 'all' })).body).toEqual({
      count: 0,
      sample: [],
    });
  });
});

describe('conditions through the API, against the in-memory oracle', () => {
  const rng = prng(SEED);
  const TAGS = [
    'vip',
    'music',
    "o'brien",
    '音乐',
    'a"b',
    'x,y',
    '{brace}',
    'NULL',
    'sports',
    'news',
    'eu',
    'late night',
  ];
  // Slots are not in name order, and one name is renamed after the values are set.
  const ATTRIBUTES: Record<string, { slot: number; values: string[]; missing: number }> = {
    sex: { slot: 6, values: ['f', 'm'], missing: 0.1 },
    city: { slot: 0, values: ['SZ', 'BJ', 'SH', 'GZ'], missing: 0.3 },
    'vip tier': { slot: 3, values: ['gold', 'silver', ''], missing: 0.5 },
    语言: { slot: 9, values: ['zh', 'en'], missing: 0.2 },
  };
  const N = 400;
  const population: (OracleAccount & { id: string; eligible: boolean })[] = [];
  let app: CreatedApp;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    app = await stack.newApp();
    api = client(stack.url, app.apiKey);
    const names = Object.fromEntries(
      Object.entries(ATTRIBUTES).map(([name, a]) => [String(a.slot), name === '语言' ? 'lang' : name]),
    );
    expect((await api('PATCH', '/v1/attributes', { names })).status).toBe(200);
    for (let i = 0; i < N; i++) {
      const tags = TAGS.filter((_, rank) => rng.next() < 0.5 * 0.8 ** rank);
      const attrs: Record<string, string> = {};
      for (const [name, a] of Object.entries(ATTRIBUTES))
        if (rng.next() >= a.missing) attrs[name] = rng.pick(a.values);
      population.push({ id: `r${i}`, tags, attrs, eligible: rng.next() > 0.15 });
    }
    const eligible = population.filter((a) => a.eligible);
    const rest = population.filter((a) => !a.eligible).map((a) => a.id);
    expect(
      (await api('POST', '/v1/accounts', { accounts: eligible.map((a) => ({ id: a.id })) })).status,
    ).toBe(200);
    await stack.database.sql`
      insert into accounts (app_id, account_id)
      select ${app.id}, x from jsonb_array_elements_text(${JSON.stringify(rest)}::jsonb) x`;
    const tagged = await api('POST', '/v1/tags/add', {
      accounts: population.filter((a) => a.tags.length).map((a) => ({ id: a.id, tags: a.tags })),
    });
    expect(tagged.body).toMatchObject({ failed: [] });
    const valued = await api('POST', '/v1/attributes/set', {
      accounts: population.map((a) => ({
        id: a.id,
        attributes: Object.fromEntries(
          Object.entries(a.attrs).map(([n, v]) => [n === '语言' ? 'lang' : n, v]),
        ),
      })),
    });
    expect(valued.body).toMatchObject({ failed: [] });
    await api('PATCH', '/v1/attributes', { names: { '9': '语言' } });
  });

  const LEAF = ['TagsAnd', 'TagsOr', 'TagsNot', 'AttrsAnd', 'AttrsOr', 'AttrsNot'] as const;
  function randomCondition(depth: number): Condition {
    const cond: Condition = {};
    if (rng.next() < 0.04) return cond;
    const keys = depth < 4 ? [...LEAF, 'all', 'any', 'not'] : LEAF;
    for (const key of rng.some(keys, rng.next() < 0.7 ? 1 : 3)) {
      if (key === 'all' || key === 'any')
        cond[key] = Array.from({ length: 1 + rng.int(3) }, () => randomCondition(depth + 1));
      else if (key === 'not') cond.not = randomCondition(depth + 1);
      else if (key.startsWith('Tags'))
        cond[key as 'TagsAnd'] = [...rng.some(TAGS, 3), ...(rng.next() < 0.08 ? ['ghost'] : [])];
      else
        cond[key as 'AttrsAnd'] = Object.fromEntries(
          rng
            .some(Object.keys(ATTRIBUTES), 3)
            .map((n) => [n, rng.next() < 0.1 ? 'nowhere' : rng.pick(ATTRIBUTES[n]?.values ?? [])]),
        );
    }
    return cond;
  }

  it(`previews and searches exactly what the oracle selects (seed ${SEED})`, async () => {
    const order = (
      await stack.database.sql<{ account_id: string }[]>`
        select account_id from accounts where app_id = ${app.id} order by seq`
    ).map((r) => r.account_id);
    const byId = new Map(population.map((a) => [a.id, a]));
    let proper = 0;
    for (let i = 0; i < 150; i++) {
      const cond = randomCondition(1);
      const context = `seed ${SEED}, condition #${i}: ${JSON.stringify(cond)}`;
      const matching = order.filter((id) => oracleMatches(cond, byId.get(id) as OracleAccount));
      const audience = matching.filter((id) => byId.get(id)?.eligible);
      const preview = await api<Preview>('POST', '/v1/audience/preview', { audience: cond });
      expect(preview.body, context).toEqual({ count: audience.length, sample: audience.slice(0, 20) });
      if (i % 5 === 0) {
        const page = await api<Page>('POST', '/v1/accounts/search', { condition: cond, limit: 1000 });
        expect(
          page.body.accounts.map((a) => a.id),
          context,
        ).toEqual(matching);
      }
      if (audience.length > 0 && audience.length < population.length) proper++;
    }
    expect(proper).toBeGreaterThan(75);
  }, 60_000);
});

describe('the preview predicts the push', () => {
  it('counts what the push snapshot then reaches', async () => {
    const app = await stack.newApp();
    const api = client(stack.url, app.apiKey);
    await api('PATCH', '/v1/attributes', { names: { '1': 'level' } });
    await api('POST', '/v1/accounts', { accounts: Array.from({ length: 50 }, (_, i) => ({ id: `s${i}` })) });
    await api('POST', '/v1/tags/add', {
      accounts: Array.from({ length: 50 }, (_, i) => ({
        id: `s${i}`,
        tags: i % 3 ? ['odd'] : ['even', 'vip'],
      })),
    });
    await api('POST', '/v1/attributes/set', {
      accounts: Array.from({ length: 50 }, (_, i) => ({ id: `s${i}`, attributes: { level: String(i % 4) } })),
    });
    const audience = { any: [{ TagsAnd: ['vip'] }, { AttrsAnd: { level: '3' } }], TagsNot: ['odd'] };
    const preview = await api<Preview>('POST', '/v1/audience/preview', { audience });
    expect(preview.body.count).toBe(17);
    const push = await api<{ id: string }>('POST', '/v1/pushes', {
      audience,
      message: { elements: [{ type: 'text', text: 'hi' }] },
    });
    expect(push.status).toBe(201);
    const done = await waitFor(
      () => api<{ status: string; counters: { audience: number } }>('GET', `/v1/pushes/${push.body.id}`),
      (r) => r.body.status === 'completed',
      30_000,
      'push completed',
    );
    expect(done.body.counters.audience).toBe(preview.body.count);
  });
});

describe('the OpenAPI document', () => {
  it('has every audience route, with its key and its error responses', async () => {
    const doc = await client(stack.url)<{
      paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>;
    }>('GET', '/openapi.json');
    const routes = [
      'post /v1/accounts',
      'get /v1/accounts',
      'post /v1/accounts/search',
      'post /v1/accounts/delete',
      'get /v1/accounts/{id}',
      'delete /v1/accounts/{id}',
      'get /v1/accounts/{id}/tags',
      'post /v1/accounts/{id}/tags',
      'post /v1/accounts/{id}/tags/remove',
      'delete /v1/accounts/{id}/tags',
      'post /v1/tags/add',
      'post /v1/tags/remove',
      'post /v1/tags/remove-all',
      'post /v1/tags/get',
      'get /v1/attributes',
      'patch /v1/attributes',
      'delete /v1/attributes/{name}',
      'get /v1/accounts/{id}/attributes',
      'post /v1/accounts/{id}/attributes',
      'post /v1/accounts/{id}/attributes/remove',
      'post /v1/attributes/set',
      'post /v1/attributes/remove',
      'post /v1/attributes/get',
      'post /v1/audience/preview',
    ];
    for (const route of routes) {
      const [method, path] = route.split(' ') as [string, string];
      const op = doc.body.paths[path]?.[method];
      expect(op, route).toBeDefined();
      expect(op?.security, route).toEqual([{ appKey: [] }]);
      expect(Object.keys(op?.responses ?? {}), route).toEqual(expect.arrayContaining(['400', '401', '500']));
    }
  });
});
