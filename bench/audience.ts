/**
 * Audience conditions at scale (run by hand):
 *   npx tsx bench/audience.ts [--accounts 1000000] [--runs 5] [--keep]
 *
 * Seeds N accounts into a scratch app of the database at DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/test; migrations are applied first) with one INSERT … SELECT from
 * generate_series: 50 tags of Zipf-like popularity, 0–8 per account; attributes city (300 values, Zipf-like,
 * 10% missing), level (4 values), lang (20 values, Zipf-like, 5% missing); 97% imported, 60% logged in.
 * Then VACUUM (ANALYZE), and for each condition the median of `--runs` runs of
 *   count     select count(*) … — the audience count, with the predicate the push snapshot compiles
 *   preview   previewAudience(): the count and the first 20 ids, as POST /v1/audience/preview
 *   page      listAccounts(): the first page of 100, as POST /v1/accounts/search
 *   snapshot  the push snapshot's own INSERT … SELECT into a real recipient partition (activities/audience.ts)
 * and EXPLAIN (ANALYZE, BUFFERS) of each count. The scratch app and its accounts are deleted at the end
 * (unless --keep), and VACUUM gives the table its space back.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { type SQL, sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { eligibleAccount, listAccounts, previewAudience } from '../db/accounts.ts';
import { attributeSlots } from '../db/attribute-slots.ts';
import { connectDatabase } from '../db/client.ts';
import { type Condition, compileCondition, validateCondition } from '../db/conditions.ts';
import { runMigrations } from '../db/migrate.ts';
import { createRecipientPartition, dropRecipientPartition, recipientPartition } from '../db/recipients.ts';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  const value = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
};
const ACCOUNTS = flag('accounts', 1_000_000);
const RUNS = flag('runs', 5);
const KEEP = args.includes('--keep');
const URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const CONDITIONS: [string, Condition | null][] = [
  ['all', null],
  ['TagsOr of 3', { TagsOr: ['t2', 't7', 't15'] }],
  ['TagsAnd of 2', { TagsAnd: ['t1', 't3'] }],
  ['AttrsAnd of 2', { AttrsAnd: { city: 'c5', level: '2' } }],
  [
    'nested with NOT',
    {
      any: [{ TagsAnd: ['t2'] }, { AttrsAnd: { lang: 'l1' } }],
      not: { TagsOr: ['t4', 't9'] },
      AttrsNot: { level: '4' },
    },
  ],
  ['rare: TagsAnd of 2 unpopular', { TagsAnd: ['t40', 't45'] }],
];

const dialect = new PgDialect();
const database = connectDatabase(URL, 4);
const conn = await database.sql.reserve();
const run = (query: SQL) => {
  const { sql: text, params } = dialect.sqlToQuery(query);
  return conn.unsafe(text, params as never[]);
};
const ms = (t0: number) => performance.now() - t0;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const log = (line = '') => process.stdout.write(`${line}\n`);

const appId = `bench-audience-${randomBytes(4).toString('hex')}`;
const pushId = randomUUID();

async function timeIt(times: number, fn: () => Promise<unknown>): Promise<number> {
  await fn(); // warm-up: caches, plan
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(ms(t0));
  }
  return median(samples);
}

async function seed(): Promise<number> {
  await run(sql`
    insert into apps (id, name, sdk_app_id, api_key_hash, secret_key)
    values (${appId}, 'bench audience', ${2_000_000_000 + Math.floor(Math.random() * 1e8)},
            ${randomBytes(32).toString('hex')}, ${randomBytes(32).toString('hex')})`);
  await run(sql`
    insert into attribute_names (app_id, slot, name)
    values (${appId}, 0, 'city'), (${appId}, 1, 'level'), (${appId}, 2, 'lang')`);
  const t0 = performance.now();
  // floor(K ^ u) for uniform u is 1..K-1 with P(r) = log_K((r+1)/r) ≈ 1/r: Zipf-like, cheap to draw.
  await run(sql`
    insert into accounts (app_id, account_id, tags, attrs, imported_at, last_login_at)
    select ${appId}, 'u' || g,
      array(select distinct 't' || floor(power(51, random()))::int from generate_series(1, k)),
      jsonb_strip_nulls(jsonb_build_object(
        '0', case when u_city < 0.9 then 'c' || floor(power(301, random()))::int end,
        '1', (1 + floor(random() * 4)::int)::text,
        '2', case when u_lang < 0.95 then 'l' || floor(power(21, random()))::int end)),
      case when u_imp < 0.97 then now() end,
      case when u_login < 0.6 then now() - random() * interval '30 days' end
    from (
      select g, floor(random() * 9)::int as k, random() as u_city, random() as u_lang,
             random() as u_imp, random() as u_login
      from generate_series(1, ${ACCOUNTS}) g
    ) s`);
  const seeded = ms(t0);
  return seeded;
}

async function main() {
  await runMigrations(database);
  const [info] = await run(
    sql`select version() as v, current_setting('shared_buffers') as sb, current_setting('work_mem') as wm,
               current_setting('max_parallel_workers_per_gather') as pw, current_setting('jit') as jit`,
  );
  const { availableParallelism, cpus, totalmem } = await import('node:os');
  log(`# bench/audience — ${ACCOUNTS.toLocaleString('en')} accounts, median of ${RUNS} runs`);
  log(
    `machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB`,
  );
  log(
    `postgres: ${String(info?.v).split(' on ')[0]}; shared_buffers ${info?.sb}, work_mem ${info?.wm}, max_parallel_workers_per_gather ${info?.pw}, jit ${info?.jit}`,
  );
  log();

  const seededMs = await seed();
  log(
    `seed: ${ACCOUNTS.toLocaleString('en')} accounts in ${(seededMs / 1000).toFixed(1)} s (one INSERT … SELECT)`,
  );
  // What autovacuum does to a freshly loaded table soon after: statistics, hint bits, the visibility map.
  let t0 = performance.now();
  await run(sql`vacuum (analyze) accounts`);
  log(`vacuum (analyze): ${(ms(t0) / 1000).toFixed(1)} s`);
  const [sizes] = await run(sql`
    select pg_size_pretty(pg_table_size('accounts')) as heap,
           pg_size_pretty(pg_relation_size('accounts_tags_gin')) as tags_gin,
           pg_size_pretty(pg_relation_size('accounts_attrs_gin')) as attrs_gin`);
  const [shape] = await run(sql`
    select avg(cardinality(tags))::numeric(4,2) as tags, max(cardinality(tags)) as max_tags,
           count(*) filter (where imported_at is not null or last_login_at is not null) as eligible
    from accounts where app_id = ${appId}`);
  log(
    `accounts table ${sizes?.heap} (tags GIN ${sizes?.tags_gin}, attrs GIN ${sizes?.attrs_gin}); ` +
      `${shape?.tags} tags per account on average (max ${shape?.max_tags}); ${Number(shape?.eligible).toLocaleString('en')} eligible`,
  );
  log();

  await run(sql`
    insert into pushes (app_id, id, message, offline, retention_seconds, workflow_id)
    values (${appId}, ${pushId}, '{}', '{}', 0, ${`bench-${pushId}`})`);
  await createRecipientPartition(database.db, pushId);
  const partition = sql.identifier(recipientPartition(pushId));

  const slots = await attributeSlots(database.db, appId);
  const rows: string[][] = [];
  const plans: string[] = [];
  for (const [label, condition] of CONDITIONS) {
    if (condition) validateCondition(condition);
    const predicate = compileCondition(condition, (n) => slots.get(n), 'a');
    const where = sql`a.app_id = ${appId} and ${eligibleAccount('a')} and ${predicate}`;
    const countQuery = sql`select count(*) as n from accounts a where ${where}`;
    const [counted] = await run(countQuery);
    const count = await timeIt(RUNS, () => run(countQuery));
    const preview = await timeIt(RUNS, () => previewAudience(database.db, appId, condition));
    const page = await timeIt(RUNS, () => listAccounts(database.db, appId, { condition, limit: 100 }));
    const snapshotSamples: number[] = [];
    for (let i = 0; i < Math.min(RUNS, 3); i++) {
      await run(sql`truncate ${partition}`);
      t0 = performance.now();
      await run(sql`
        insert into push_recipients (push_id, account_seq, account_id)
        select ${pushId}, a.seq, a.account_id from accounts a
        where ${where}
        on conflict do nothing`);
      snapshotSamples.push(ms(t0));
    }
    await run(sql`truncate ${partition}`);
    const plan = await run(sql`explain (analyze, buffers) ${countQuery}`);
    const text = plan.map((r) => r['QUERY PLAN'] as string).join('\n');
    const indexes = [...new Set(text.match(/accounts_(tags|attrs)_gin|accounts_app_seq|Seq Scan/g))].join(
      ' + ',
    );
    rows.push([
      label,
      Number(counted?.n).toLocaleString('en'),
      fmt(count),
      fmt(preview),
      fmt(page),
      fmt(median(snapshotSamples)),
      indexes,
    ]);
    plans.push(`## ${label}: ${condition ? JSON.stringify(condition) : '"all"'}\n${text}`);
  }

  const header = ['condition', 'audience', 'count ms', 'preview ms', 'page ms', 'snapshot ms', 'plan uses'];
  log(`| ${header.join(' | ')} |`);
  log(`|${header.map((_, i) => (i === 0 || i === 6 ? '---' : '--:')).join('|')}|`);
  for (const r of rows) log(`| ${r.join(' | ')} |`);
  log();
  for (const p of plans) log(`${p}\n`);
}

async function cleanup() {
  if (KEEP) {
    log(`kept app ${appId}`);
    return;
  }
  const t0 = performance.now();
  await dropRecipientPartition(database.db, pushId).catch(() => {});
  await run(sql`delete from accounts where app_id = ${appId}`);
  await run(sql`delete from apps where id = ${appId}`);
  // Give the space back (the scratch rows are the table's tail), so the next run starts from a compact table.
  await run(sql`vacuum accounts`);
  log(`cleanup: deleted app ${appId} and its accounts in ${(ms(t0) / 1000).toFixed(1)} s`);
}

try {
  await main();
} finally {
  await cleanup();
  conn.release();
  await database.close();
}
