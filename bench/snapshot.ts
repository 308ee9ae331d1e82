/**
 * What language variants and the frequency cap cost the audience snapshot (run by hand):
 *   npx tsx bench/snapshot.ts [--accounts 100000] [--runs 3] [--keep] [--only plain,variants,cap]
 *
 * Seeds N accounts with bench/seed.ts (all eligible, no devices) into a scratch database of its own
 * (`herald_bench_snapshot`, dropped at the end unless --keep; DATABASE_URL to use another), gives 75% of them a
 * language (en-US, zh-CN, zh-Hant-TW, pt-BR, fr), and times the real snapshot (pushes/lifecycle.ts `snapshot`:
 * the INSERT … SELECT into a bare partition, its indexes, the attach, the analyze, the counts) of a push to
 * everyone, median of `--runs`, for:
 *   plain              no variants, no cap (the baseline)
 *   3 variants         localized zh-Hant / zh / en: the variant CASE per account and the per-language counts
 *   cap, < max pushes  max 2, one counting push: nobody can be at the cap, nothing is read
 *   cap, none at it    max 2, two counting pushes to one half of the accounts each: N rows counted, nobody at
 *                      the cap, everyone a recipient
 *   cap, all at it     max 3, three counting pushes to everyone: 3N rows counted, nobody a recipient
 * The scenarios run in rounds (one run of each per round), so load from elsewhere weighs on all alike; each
 * run's partition is dropped, and its push stops counting, before the next.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { connectDatabase, type Database } from '../db/client.ts';
import { runMigrations } from '../db/migrate.ts';
import { createRecipientPartition, dropRecipientPartition, recipientPartition } from '../db/recipients.ts';
import type { LocalizedVariant } from '../db/schema.ts';
import { snapshot } from '../pushes/lifecycle.ts';
import { dropBenchApp, seedBenchApp } from './seed.ts';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  const value = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
};
const ACCOUNTS = flag('accounts', 100_000);
const RUNS = flag('runs', 3);
const KEEP = args.includes('--keep');
/** Which scenarios run (by the first word of their label); all when absent. */
const ONLY = args.includes('--only') ? (args[args.indexOf('--only') + 1] ?? '').split(',') : undefined;
const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const SCRATCH = 'herald_bench_snapshot';
const log = (line = '') => process.stdout.write(`${line}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function admin(statement: string): Promise<void> {
  const a = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await a.unsafe(statement);
  } finally {
    await a.end({ timeout: 5 });
  }
}

const text = (t: string) => [{ type: 'text' as const, text: t }];
const VARIANTS: LocalizedVariant[] = [
  { language: 'zh-Hant', elements: text('繁體') },
  { language: 'zh', elements: text('简体') },
  { language: 'en', elements: text('English') },
];

interface Scenario {
  label: string;
  localized?: LocalizedVariant[];
  cap?: { max: number; windowHours: number };
  /** The pushes the cap counts when this scenario runs: for each, which accounts (by `seq % 2`) it reached. */
  counting?: ('all' | 0 | 1)[];
}

/** A push the cap counts (snapshotted an hour ago), with a recipient partition of the accounts `who` selects. */
async function countingPush(db: Database['db'], appId: string, who: 'all' | 0 | 1): Promise<string> {
  const pushId = randomUUID();
  await db.execute(sql`
    insert into pushes (app_id, id, message, offline, retention_seconds, workflow_id, status, snapshot_at, cap_until)
    values (${appId}, ${pushId}, '{}'::jsonb, '{}'::jsonb, 0, ${`bench-${pushId}`}, 'completed',
            now() - interval '1 hour', now() + interval '23 hours')`);
  await createRecipientPartition(db, pushId);
  await db.execute(sql`
    insert into ${sql.identifier(recipientPartition(pushId))} (push_id, account_seq, account_id)
    select ${pushId}, seq, account_id from accounts
    where app_id = ${appId} and ${who === 'all' ? sql`true` : sql`seq % 2 = ${who}`}`);
  await db.execute(sql.raw(`analyze "${recipientPartition(pushId)}"`));
  return pushId;
}

async function main() {
  const given = process.env.DATABASE_URL;
  if (!given) {
    await admin(`drop database if exists "${SCRATCH}" with (force)`);
    await admin(`create database "${SCRATCH}"`);
  }
  const url = given ?? `postgres://postgres@127.0.0.1:5432/${SCRATCH}`;
  const database = connectDatabase(url, 4);
  let appId: string | undefined;
  try {
    await runMigrations(database);
    const { db } = database;
    const [info] = await db.execute<{ v: string; sb: string; wm: string }>(
      sql`select version() as v, current_setting('shared_buffers') as sb, current_setting('work_mem') as wm`,
    );
    const { availableParallelism, cpus, loadavg } = await import('node:os');
    log(`# bench/snapshot — ${ACCOUNTS.toLocaleString('en')} accounts, median of ${RUNS} runs`);
    log(
      `machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), load ${loadavg()[0]?.toFixed(1)}`,
    );
    log(`postgres: ${String(info?.v).split(' on ')[0]}; shared_buffers ${info?.sb}, work_mem ${info?.wm}`);

    const seeded = await seedBenchApp(database, { accounts: ACCOUNTS, apnsPct: 0, fcmPct: 0 });
    appId = seeded.app.id;
    // A million rows outlast the pool's statement timeout on a busy machine.
    await db.transaction(async (tx) => {
      await tx.execute(sql`set local statement_timeout = 0`);
      await tx.execute(sql`
        update accounts set language = (array['en-US', 'en-US', 'zh-CN', 'zh-Hant-TW', 'pt-BR', 'fr'])[1 + seq % 8]
        where app_id = ${appId}`);
    });
    await db.execute(sql`vacuum (analyze) accounts`);
    log(`seed: ${seeded.seconds.toFixed(1)} s`);
    log();

    const id = appId;
    const cap = (max: number) => ({ max, windowHours: 24 });
    const every: Scenario[] = [
      { label: 'plain' },
      { label: '3 variants', localized: VARIANTS },
      { label: 'cap, < max pushes', cap: cap(2), counting: ['all'] },
      { label: 'cap, none at it', cap: cap(2), counting: [0, 1] },
      { label: 'cap, all at it', cap: cap(3), counting: ['all', 'all', 'all'] },
    ];
    const scenarios = every.filter(
      (s) => !ONLY || ONLY.some((word) => s.label.startsWith(word) || s.label.includes(` ${word}`)),
    );

    /** One timed snapshot of a push to everyone under scenario `s`; its counting pushes exist only meanwhile. */
    const once = async (s: Scenario) => {
      await db.execute(sql`update apps set frequency_cap = ${s.cap ? JSON.stringify(s.cap) : null}::jsonb
        where id = ${id}`);
      const counting: string[] = [];
      for (const who of s.counting ?? []) counting.push(await countingPush(db, id, who));
      const pushId = randomUUID();
      await db.execute(sql`
        insert into pushes (app_id, id, message, offline, retention_seconds, workflow_id, localized)
        values (${id}, ${pushId}, ${JSON.stringify({ elements: text('hi') })}::jsonb, '{"push":true}'::jsonb, 0,
                ${`bench-${pushId}`}, ${s.localized ? JSON.stringify(s.localized) : null}::jsonb)`);
      const t0 = performance.now();
      const result = await snapshot(db, { appId: id, pushId });
      const ms = performance.now() - t0;
      for (const p of [pushId, ...counting]) {
        await dropRecipientPartition(db, p);
        await db.execute(sql`update pushes set cap_until = null where app_id = ${id} and id = ${p}`);
      }
      return { ms, ...result };
    };
    // Round after round of every scenario, so that what else the machine runs weighs on all of them alike.
    const samples = new Map<Scenario, number[]>(scenarios.map((s) => [s, []]));
    const last = new Map<Scenario, { audience: number; capped: number }>();
    for (let i = 0; i < RUNS; i++) {
      for (const s of scenarios) {
        const r = await once(s);
        samples.get(s)?.push(r.ms);
        last.set(s, r);
      }
    }
    const rows = scenarios.map((s) => {
      const ms = median(samples.get(s) ?? []);
      log(`${s.label}: ${(samples.get(s) ?? []).map((x) => x.toFixed(0)).join(', ')} ms`);
      return [
        s.label,
        (last.get(s)?.audience ?? 0).toLocaleString('en'),
        (last.get(s)?.capped ?? 0).toLocaleString('en'),
        ms.toFixed(0),
        ((ms * 1000) / ACCOUNTS).toFixed(1),
      ];
    });
    log();
    log('| snapshot of everyone | audience | capped | ms | µs per account |');
    log('|---|--:|--:|--:|--:|');
    for (const r of rows) log(`| ${r.join(' | ')} |`);
  } finally {
    if (appId && !KEEP) await dropBenchApp(database, appId);
    await database.close();
    if (!given && !KEEP) await admin(`drop database if exists "${SCRATCH}" with (force)`);
  }
}

await main();
