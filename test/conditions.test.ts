import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '../db/client.ts';
import {
  type Condition,
  ConditionError,
  compileCondition,
  conditionAttributeNames,
  conditionUsesTagsAndAttrs,
  MAX_CONDITION_DEPTH,
  validateCondition,
} from '../db/conditions.ts';
import { runMigrations } from '../db/migrate.ts';
import { accounts, apps } from '../db/schema.ts';
import { type OracleAccount, oracleMatches } from './support/condition-oracle.ts';
import { prng } from './support/prng.ts';

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const SEED = Number(process.env.CONDITIONS_SEED ?? 20240611);

/** `{not: {not: ... {}}}` with `levels` condition objects in all. */
function nested(levels: number): Condition {
  let cond: Condition = {};
  for (let i = 1; i < levels; i++) cond = { not: cond };
  return cond;
}
const tags = (n: number, prefix = 't') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

function errorOf(fn: () => unknown): ConditionError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConditionError) return error;
    throw error;
  }
  throw new Error('expected a ConditionError');
}

describe('validateCondition', () => {
  const notObject = 'condition: a condition must be an object ({} means everyone)';
  const cases: [string, unknown, string, string][] = [
    ['null', null, 'invalid_condition', notObject],
    ['an array', [{ TagsOr: ['a'] }], 'invalid_condition', notObject],
    [
      'an unknown key',
      { TagsOr: ['a'], tagsAnd: ['b'] },
      'invalid_condition',
      'condition: unknown key "tagsAnd"; a condition may have TagsAnd, TagsOr, TagsNot, AttrsAnd, AttrsOr, AttrsNot, all, any, not',
    ],
    ['tags as a string', { TagsOr: 'vip' }, 'invalid_condition', 'TagsOr: must be an array of tags'],
    ['a number tag', { TagsAnd: ['a', 7] }, 'invalid_condition', 'TagsAnd[1]: tag must be a string'],
    [
      'an empty tag list',
      { TagsOr: [] },
      'invalid_condition',
      'TagsOr: must list at least one tag (leave the key out instead)',
    ],
    [
      'an empty tag',
      { TagsNot: [''] },
      'invalid_condition',
      'TagsNot[0]: tag must be 1-50 UTF-8 bytes, got 0',
    ],
    [
      'a tag too long, deep down',
      { all: [{}, {}, { TagsOr: ['x'.repeat(51)] }] },
      'invalid_condition',
      'all[2].TagsOr[0]: tag must be 1-50 UTF-8 bytes, got 51',
    ],
    [
      'a tag of 17 characters but 51 bytes',
      { TagsAnd: ['音'.repeat(17)] },
      'invalid_condition',
      'TagsAnd[0]: tag must be 1-50 UTF-8 bytes, got 51',
    ],
    [
      'a NUL in a tag',
      { TagsAnd: ['a\u0000b'] },
      'invalid_condition',
      'TagsAnd[0]: tag must not contain NUL or unpaired surrogate characters',
    ],
    [
      'attributes as an array',
      { AttrsAnd: ['sex'] },
      'invalid_condition',
      'AttrsAnd: must be an object of {"attribute name": "value"}',
    ],
    [
      'no attributes',
      { AttrsOr: {} },
      'invalid_condition',
      'AttrsOr: must list at least one attribute (leave the key out instead)',
    ],
    [
      'a number attribute value',
      { any: [{ AttrsOr: { age: 18 } }] },
      'invalid_condition',
      'any[0].AttrsOr.age: attribute value must be a string',
    ],
    [
      'an empty attribute name',
      { AttrsNot: { '': 'x' } },
      'invalid_condition',
      'AttrsNot[""]: attribute name must be 1-50 UTF-8 bytes, got 0',
    ],
    [
      'an attribute value too long',
      { AttrsAnd: { city: 'x'.repeat(51) } },
      'invalid_condition',
      'AttrsAnd.city: attribute value must be 0-50 UTF-8 bytes, got 51',
    ],
    [
      'a __proto__ attribute',
      JSON.parse('{"AttrsAnd":{"__proto__":"x","city":"SZ"}}'),
      'invalid_condition',
      'AttrsAnd.__proto__: attribute name "__proto__" is not allowed',
    ],
    [
      'an empty any',
      { any: [] },
      'invalid_condition',
      'any: must list at least one condition (use {} for everyone, or leave "any" out)',
    ],
    ['all as an object', { all: {} }, 'invalid_condition', 'all: must be an array of conditions'],
    ['not as null', { not: null }, 'invalid_condition', `not: ${notObject.slice('condition: '.length)}`],
    [
      'two problems',
      { TagsOr: [], AttrsOr: {} },
      'invalid_condition',
      'TagsOr: must list at least one tag (leave the key out instead) (and 1 more problem)',
    ],
    [
      'nine levels',
      nested(9),
      'condition_too_deep',
      `${Array(8).fill('not').join('.')}: conditions may nest at most 8 levels deep`,
    ],
    [
      'nine levels through all/any',
      { all: [{}, { any: [nested(8)] }] },
      'condition_too_deep',
      `all[1].any[0].${Array(6).fill('not').join('.')}: conditions may nest at most 8 levels deep`,
    ],
    [
      '100000 levels',
      nested(100_000),
      'condition_too_deep',
      expect.stringMatching(/^not\.not.*levels deep$/),
    ],
    [
      '101 tags in a list',
      { TagsOr: tags(101) },
      'condition_too_large',
      'TagsOr: at most 100 tags in one list',
    ],
    [
      '101 attributes in a map',
      { AttrsAnd: Object.fromEntries(tags(101, 'a').map((n) => [n, 'v'])) },
      'condition_too_large',
      'AttrsAnd: at most 100 attributes in one list',
    ],
    [
      '101 conditions in a list',
      { any: Array.from({ length: 101 }, () => ({})) },
      'condition_too_large',
      'any: at most 100 conditions in one list',
    ],
    [
      '210 terms in all',
      { all: [{ TagsOr: tags(70) }, { TagsAnd: tags(70) }, { TagsNot: tags(70) }] },
      'condition_too_large',
      'condition: the condition has 210 tags and attributes in all; at most 200 are allowed',
    ],
    [
      '123 condition objects',
      {
        any: [
          { any: Array.from({ length: 60 }, () => ({})) },
          { any: Array.from({ length: 60 }, () => ({})) },
        ],
      },
      'condition_too_large',
      'condition: the condition has 123 condition objects in all; at most 100 are allowed',
    ],
  ];

  it.each(cases)('rejects %s', (_label, input, code, message) => {
    const error = errorOf(() => validateCondition(input));
    expect({ code: error.code, message: error.message }).toEqual({ code, message });
  });

  it('accepts the limits themselves and returns the condition', () => {
    const ok: Condition[] = [
      {},
      nested(MAX_CONDITION_DEPTH),
      { all: [{ TagsOr: tags(100) }, { TagsAnd: tags(50) }, { AttrsOr: { a: '' }, TagsNot: tags(49) }] },
      {
        TagsAnd: ['音'.repeat(16)],
        AttrsAnd: { 城市: 'x'.repeat(50) },
        TagsOr: ['x'],
        AttrsNot: { sex: 'm' },
      },
    ];
    for (const cond of ok) expect(validateCondition(cond)).toEqual(cond);
  });
});

describe('compileCondition', () => {
  const slots: Record<string, number> = { sex: 0, city: 3 };
  const slotOf = (name: string) => slots[name];
  const render = (cond: Condition | null, alias?: string) =>
    new PgDialect().sqlToQuery(compileCondition(cond, slotOf, alias));

  it('binds every value and references the alias', () => {
    const cond: Condition = {
      TagsAnd: ["x'); drop table accounts; --"],
      AttrsOr: { sex: 'f', city: 'SZ' },
      any: [{ TagsOr: ['a', 'b'] }, { not: { AttrsAnd: { sex: 'm', city: 'BJ' } } }],
    };
    expect(render(cond, 'a')).toMatchObject({
      sql:
        '("a"."tags" @> array[$1]::text[] and ("a"."attrs" @> $2::jsonb or "a"."attrs" @> $3::jsonb)' +
        ' and ("a"."tags" && array[$4, $5]::text[] or not ("a"."attrs" @> $6::jsonb)))',
      params: ["x'); drop table accounts; --", '{"0":"f"}', '{"3":"SZ"}', 'a', 'b', '{"0":"m","3":"BJ"}'],
    });
    expect(render({ TagsNot: ['c', 'd'] }).sql).toBe('not ("accounts"."tags" @> array[$1, $2]::text[])');
  });

  it('compiles nothing and {} to true', () => {
    expect(render(null).sql).toBe('true');
    expect(render({}).sql).toBe('true');
  });

  it('names an unknown attribute', () => {
    const error = errorOf(() => render({ any: [{ TagsOr: ['a'] }, { AttrsOr: { sex: 'f', planet: 'x' } }] }));
    expect({ code: error.code, message: error.message }).toEqual({
      code: 'unknown_attribute',
      message: 'any[1].AttrsOr.planet: unknown attribute "planet"; set its name first',
    });
  });

  it('lists attribute names and what kinds of terms are used', () => {
    const cond: Condition = {
      AttrsAnd: { sex: 'f' },
      any: [{ not: { AttrsNot: { city: 'SZ', sex: 'm' } } }],
    };
    expect(conditionAttributeNames(cond)).toEqual(['sex', 'city']);
    expect(conditionUsesTagsAndAttrs(cond)).toEqual({ tags: false, attrs: true });
    expect(conditionUsesTagsAndAttrs({ all: [{ not: { TagsNot: ['a'] } }, cond] })).toEqual({
      tags: true,
      attrs: true,
    });
    expect(conditionUsesTagsAndAttrs(null)).toEqual({ tags: false, attrs: false });
    expect(conditionAttributeNames({})).toEqual([]);
  });
});

describe('compiled conditions against PostgreSQL', () => {
  // Popularity falls off geometrically; tags with SQL/array-literal metacharacters on purpose.
  const TAG_POOL = [
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
    'beta',
    'ios',
    'android',
    'eu',
    'late night',
  ];
  const ATTRIBUTES: Record<string, { slot: number; values: string[]; missing: number }> = {
    sex: { slot: 0, values: ['f', 'm'], missing: 0.1 },
    city: { slot: 3, values: ['SZ', 'BJ', 'SH', 'GZ'], missing: 0.3 },
    'vip tier': { slot: 5, values: ['gold', 'silver', ''], missing: 0.5 },
    语言: { slot: 9, values: ['zh', 'en'], missing: 0.2 },
  };
  const ACCOUNTS = 3000;
  const CONDITIONS = 400;
  const APP = 'cond-test';
  const slotOf = (name: string) => ATTRIBUTES[name]?.slot;
  const rng = prng(SEED);
  const population: (OracleAccount & { id: string })[] = [];

  let admin: postgres.Sql;
  let database: Database;
  const dbName = `herald_cond_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${dbName}`);
    const url = new URL(ADMIN_URL);
    url.pathname = `/${dbName}`;
    database = connectDatabase(url.toString(), 2);
    await runMigrations(database);
    await database.db
      .insert(apps)
      .values({ id: APP, name: 'conditions', sdkAppId: 1, apiKeyHash: 'h', secretKey: 's' });

    for (let i = 0; i < ACCOUNTS; i++) {
      const accountTags = TAG_POOL.filter((_, rank) => rng.next() < 0.55 * 0.78 ** rank).slice(0, 6);
      const attrs: Record<string, string> = {};
      for (const [name, a] of Object.entries(ATTRIBUTES))
        if (rng.next() >= a.missing) attrs[name] = rng.pick(a.values);
      population.push({ id: `u${i}`, tags: accountTags, attrs });
    }
    const rows = population.map((a) => ({
      appId: APP,
      accountId: a.id,
      tags: [...a.tags],
      attrs: Object.fromEntries(Object.entries(a.attrs).map(([name, v]) => [String(slotOf(name)), v])),
    }));
    await database.db.insert(accounts).values(rows);
    await database.db.execute(sql`analyze accounts`);
    // The seeding itself must round-trip, or a mismatch below would blame the compiler for it.
    const stored = await database.db
      .select({ accountId: accounts.accountId, tags: accounts.tags, attrs: accounts.attrs })
      .from(accounts);
    expect(stored.sort((x, y) => Number(x.accountId.slice(1)) - Number(y.accountId.slice(1)))).toEqual(
      rows.map(({ appId, ...r }) => r),
    );
  }, 60_000);

  afterAll(async () => {
    await database?.close();
    await admin?.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin?.end();
  });

  const LEAF_KEYS = ['TagsAnd', 'TagsOr', 'TagsNot', 'AttrsAnd', 'AttrsOr', 'AttrsNot'] as const;
  const NESTED_KEYS = ['all', 'any', 'not'] as const;

  function randomCondition(depth: number): Condition {
    const cond: Condition = {};
    if (rng.next() < 0.04) return cond;
    const keys = depth < 4 ? [...LEAF_KEYS, ...NESTED_KEYS] : LEAF_KEYS;
    const tagList = () => [...rng.some(TAG_POOL, 3), ...(rng.next() < 0.08 ? ['ghost'] : [])];
    const attrMap = () =>
      Object.fromEntries(
        rng
          .some(Object.keys(ATTRIBUTES), 3)
          .map((n) => [n, rng.next() < 0.1 ? 'nowhere' : rng.pick(ATTRIBUTES[n]?.values ?? [])]),
      );
    for (const key of rng.some(keys, rng.next() < 0.7 ? 1 : 3)) {
      if (key === 'all' || key === 'any')
        cond[key] = Array.from({ length: 1 + rng.int(3) }, () => randomCondition(depth + 1));
      else if (key === 'not') cond.not = randomCondition(depth + 1);
      else if (key.startsWith('Tags')) cond[key as 'TagsAnd'] = tagList();
      else cond[key as 'AttrsAnd'] = attrMap();
    }
    return cond;
  }

  it(`selects exactly what the oracle selects (seed ${SEED})`, async () => {
    let proper = 0;
    for (let i = 0; i < CONDITIONS; i++) {
      const cond = randomCondition(1);
      const context = `seed ${SEED}, condition #${i}: ${JSON.stringify(cond)}`;
      expect(validateCondition(cond), context).toEqual(cond);
      const rows = await database.db.execute<{ account_id: string }>(
        sql`select a.account_id from accounts a where a.app_id = ${APP} and ${compileCondition(cond, slotOf, 'a')}`,
      );
      const got = new Set(rows.map((r) => r.account_id));
      const want = new Set(population.filter((a) => oracleMatches(cond, a)).map((a) => a.id));
      const missing = [...want].filter((id) => !got.has(id)).slice(0, 5);
      const extra = [...got].filter((id) => !want.has(id)).slice(0, 5);
      expect({ missing, extra, rows: rows.length }, context).toEqual({
        missing: [],
        extra: [],
        rows: want.size,
      });
      if (want.size > 0 && want.size < ACCOUNTS) proper++;
    }
    // Guard against a generator that only produces everything-or-nothing conditions.
    expect(proper).toBeGreaterThan(CONDITIONS * 0.5);
  }, 60_000);

  it('works with the default alias in the query builder', async () => {
    const cond: Condition = {
      any: [{ TagsAnd: ['vip', 'music'] }, { AttrsOr: { city: 'SZ', 'vip tier': '' } }],
    };
    const rows = await database.db
      .select({ id: accounts.accountId })
      .from(accounts)
      .where(compileCondition(cond, slotOf));
    const want = population.filter((a) => oracleMatches(cond, a)).map((a) => a.id);
    expect(rows.map((r) => r.id).sort()).toEqual(want.sort());
  });

  it('lets the GIN indexes serve the positive terms', async () => {
    const plan = (cond: Condition) =>
      database.db.transaction(async (tx) => {
        await tx.execute(sql`set local enable_seqscan = off`);
        const rows = await tx.execute<{ 'QUERY PLAN': string }>(
          sql`explain (costs off) select a.account_id from accounts a where ${compileCondition(cond, slotOf, 'a')}`,
        );
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      });
    const gin = /accounts_tags_gin|accounts_attrs_gin/g;
    const uses = async (cond: Condition) => [...new Set((await plan(cond)).match(gin))].sort();
    expect(await uses({ TagsAnd: ['vip', 'music'] })).toEqual(['accounts_tags_gin']);
    expect(await uses({ TagsOr: ['eu', 'ios'], TagsNot: ['beta'] })).toEqual(['accounts_tags_gin']);
    expect(await uses({ AttrsAnd: { sex: 'f', city: 'SZ' } })).toEqual(['accounts_attrs_gin']);
    expect(await uses({ AttrsOr: { sex: 'f', city: 'SZ' } })).toEqual(['accounts_attrs_gin']);
    expect(
      await uses({ any: [{ TagsAnd: ['news'] }, { AttrsAnd: { 语言: 'en' } }], not: { TagsOr: ['eu'] } }),
    ).toEqual(['accounts_attrs_gin', 'accounts_tags_gin']);
    expect(await plan({ any: [{ TagsAnd: ['news'] }, { AttrsAnd: { 语言: 'en' } }] })).toMatch(/BitmapOr/);
  });
});
