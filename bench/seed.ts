/**
 * Bulk seeding of a bench app, all inside PostgreSQL (generate_series, chunks of 50,000 so that a progress
 * bar can move): N accounts, all imported (so all eligible), with
 *   - tags: 0–8 of 50, Zipf-like (t1 on about half the accounts, t50 on about 1%), as bench/audience.ts;
 *   - attributes through attribute_names slots: city (slot 0, 300 values Zipf-like, 10% without),
 *     level (slot 1, 4 values), lang (slot 2, 20 values Zipf-like, 5% without);
 *   - devices: apnsPct % of accounts an APNs token (64 hex digits; 30% of them sandbox), fcmPct % an FCM
 *     token shaped `<instance id>:APA91b…` (what the FCM fake accepts), hmsPct % a Huawei and honorPct % a
 *     Honor token, xiaomiPct / oppoPct / vivoPct % a Xiaomi (base64), OPPO (`CN_` + 32 hex) or vivo (23 digits)
 *     registration id, the rest none.
 * Then VACUUM (ANALYZE), what autovacuum would do to freshly loaded tables.
 */
import { sql } from 'drizzle-orm';
import { generateEncryptionKey, makeKeyring, parseEncryptionKey, useKeyring } from '../core/secrets.ts';
import { type CreatedApp, createApp } from '../db/apps.ts';
import type { Database } from '../db/client.ts';

/** The bench's herald processes get this key (HERALD_ENCRYPTION_KEY); the seeding here seals with it too. */
export const BENCH_ENCRYPTION_KEY = process.env.HERALD_ENCRYPTION_KEY || generateEncryptionKey();
useKeyring(makeKeyring(parseEncryptionKey(BENCH_ENCRYPTION_KEY) ?? Buffer.alloc(0)));

export interface SeedOptions {
  accounts: number;
  apnsPct: number;
  fcmPct: number;
  hmsPct?: number;
  honorPct?: number;
  /**
   * Spread the accounts evenly over this many zones of whole-hour offsets, one offset each (`Etc/GMT…`, from
   * +12:00 westwards), for local-time pushes; 0: no zone.
   */
  zones?: number;
  xiaomiPct?: number;
  oppoPct?: number;
  vivoPct?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

/** Zone k (0-based) of `--local-time`: UTC+12:00 for k = 0, one hour further west for each k. */
export const benchZone = (k: number): string => {
  const offset = 12 - k;
  return offset > 0 ? `Etc/GMT-${offset}` : offset < 0 ? `Etc/GMT+${-offset}` : 'Etc/GMT';
};

export interface Seeded {
  app: CreatedApp;
  accounts: number;
  apnsDevices: number;
  fcmDevices: number;
  hmsDevices: number;
  honorDevices: number;
  /** Xiaomi, OPPO and vivo devices together. */
  vendorDevices: number;
  seconds: number;
}

const CHUNK = 50_000;

export async function seedBenchApp(database: Database, opts: SeedOptions): Promise<Seeded> {
  const t0 = performance.now();
  const { db } = database;
  const app = await createApp(db, {
    name: `bench ${new Date().toISOString()}`,
    dailyPushQuota: 1_000_000,
    minPushIntervalMs: 0,
  });
  await db.execute(sql`
    insert into attribute_names (app_id, slot, name)
    values (${app.id}, 0, 'city'), (${app.id}, 1, 'level'), (${app.id}, 2, 'lang')`);
  const n = opts.accounts;
  const zones = opts.zones ?? 0;
  const zoneList = Array.from({ length: zones }, (_, k) => benchZone(k));
  const apns = opts.apnsPct / 100;
  const fcm = opts.fcmPct / 100;
  const hms = (opts.hmsPct ?? 0) / 100;
  const honor = (opts.honorPct ?? 0) / 100;
  // Cumulative thresholds of r for the phone makers' platforms after Honor's.
  const toHonor = apns + fcm + hms + honor;
  const toXiaomi = toHonor + (opts.xiaomiPct ?? 0) / 100;
  const toOppo = toXiaomi + (opts.oppoPct ?? 0) / 100;
  const toVivo = toOppo + (opts.vivoPct ?? 0) / 100;
  const steps = Math.ceil(n / CHUNK) * 2;
  let step = 0;
  for (let lo = 1; lo <= n; lo += CHUNK) {
    const hi = Math.min(n, lo + CHUNK - 1);
    // floor(K ^ u) for uniform u is 1..K-1 with P(r) = log_K((r+1)/r) ≈ 1/r: Zipf-like, cheap to draw.
    await db.execute(sql`
      insert into accounts (app_id, account_id, tags, attrs, timezone, imported_at)
      select ${app.id}, 'u' || g,
        array(select distinct 't' || floor(power(51, random()))::int from generate_series(1, k)),
        jsonb_strip_nulls(jsonb_build_object(
          '0', case when u_city < 0.9 then 'c' || floor(power(301, random()))::int end,
          '1', (1 + floor(random() * 4)::int)::text,
          '2', case when u_lang < 0.95 then 'l' || floor(power(21, random()))::int end)),
        case when ${zones} > 0 then (${JSON.stringify(zoneList)}::jsonb) ->> (g % ${Math.max(zones, 1)}) end,
        now()
      from (
        select g, floor(random() * 9)::int as k, random() as u_city, random() as u_lang
        from generate_series(${lo}::int, ${hi}::int) g
      ) s`);
    opts.onProgress?.(++step, steps, 'seeding accounts');
  }
  for (let lo = 1; lo <= n; lo += CHUNK) {
    const hi = Math.min(n, lo + CHUNK - 1);
    await db.execute(sql`
      insert into devices (app_id, platform, token, account_id, environment)
      select ${app.id},
        case when r < ${apns} then 'apns' when r < ${apns + fcm} then 'fcm'
             when r < ${apns + fcm + hms} then 'hms' when r < ${toHonor} then 'honor'
             when r < ${toXiaomi} then 'xiaomi' when r < ${toOppo} then 'oppo' else 'vivo' end,
        case when r < ${apns} then md5('a' || g) || md5('b' || g)
             when r < ${apns + fcm} then
               'f' || g || '-' || substr(md5('c' || g), 1, 16) || ':APA91b' || md5('d' || g) || md5('e' || g)
             when r < ${apns + fcm + hms} then 'IQAAAACy0' || md5('h' || g) || md5('i' || g) || md5('j' || g)
             when r < ${toHonor} then md5('k' || g) || md5('l' || g) || upper(substr(md5('m' || g), 1, 16))
             when r < ${toXiaomi} then encode(decode(md5('x' || g) || md5('y' || g), 'hex'), 'base64')
             when r < ${toOppo} then 'CN_' || md5('o' || g)
             else '1' || lpad(g::text, 22, '0') end,
        'u' || g,
        case when r < ${apns} and r2 < 0.3 then 'sandbox' else 'production' end
      from (select g, random() as r, random() as r2 from generate_series(${lo}::int, ${hi}::int) g) s
      where r < ${toVivo}`);
    opts.onProgress?.(++step, steps, 'seeding devices');
  }
  await db.execute(sql`vacuum (analyze) accounts`);
  await db.execute(sql`vacuum (analyze) devices`);
  const [counts] = await db.execute<{
    apns: number;
    fcm: number;
    hms: number;
    honor: number;
    vendors: number;
  }>(sql`
    select count(*) filter (where platform = 'apns')::int as apns, count(*) filter (where platform = 'fcm')::int as fcm,
      count(*) filter (where platform = 'hms')::int as hms, count(*) filter (where platform = 'honor')::int as honor,
      count(*) filter (where platform in ('xiaomi', 'oppo', 'vivo'))::int as vendors
    from devices where app_id = ${app.id}`);
  return {
    app,
    accounts: n,
    apnsDevices: counts?.apns ?? 0,
    fcmDevices: counts?.fcm ?? 0,
    hmsDevices: counts?.hms ?? 0,
    honorDevices: counts?.honor ?? 0,
    vendorDevices: counts?.vendors ?? 0,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** K accounts spread evenly over the N (every floor(N/K)-th), so they fall on every offline page. */
export function onlineAccounts(accounts: number, online: number): string[] {
  const step = Math.max(1, Math.floor(accounts / Math.max(online, 1)));
  return Array.from({ length: online }, (_, i) => `u${(i + 1) * step}`);
}

/** Deletes a bench app and everything it owns (used when the database was given, not our scratch one). */
export async function dropBenchApp(database: Database, appId: string): Promise<void> {
  const { db } = database;
  const parts = await db.execute<{ id: string }>(sql`select id from pushes where app_id = ${appId}`);
  for (const p of parts) {
    await db.execute(sql.raw(`drop table if exists "push_recipients_${p.id.replaceAll('-', '')}"`));
  }
  await db.execute(sql`delete from presence where app_id = ${appId}`);
  await db.execute(sql`delete from apps where id = ${appId}`);
}
