/**
 * Scale-out and cost figures for bench/main.ts: which worker ran which activities of a push (from its Temporal
 * history), how many ran at once, the rows their page ranges covered; the WAL PostgreSQL wrote; the cost model
 * (CPU µs and WAL bytes per recipient, by role); and the invariants every push must keep, whatever the number of
 * workers.
 */
import type { Sql } from '../db/client.ts';
import type { ActivitySpan, RunHistory } from './measure.ts';

/** The activity that walks a push's offline recipients, page by page (one range of them per activity). */
export const PAGE_ACTIVITY = 'deliverOfflinePages';

const round = (x: number, digits = 0) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

/** The pid a default Temporal worker identity (`<pid>@<host>`) names. */
const pidOfIdentity = (identity: string | undefined): number | undefined => {
  const m = identity?.match(/^(\d+)@/);
  return m ? Number(m[1]) : undefined;
};

/** The most spans open at one moment (started → closed), and when that first happened. */
export function maxOverlap(spans: ActivitySpan[]): number {
  const edges: [number, number][] = [];
  for (const s of spans) {
    if (s.started === undefined || s.closed === undefined) continue;
    edges.push([s.started, 1], [s.closed, -1]);
  }
  // Closes before opens at the same instant: back-to-back activities are not overlapping.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let best = 0;
  for (const [, d] of edges) {
    open += d;
    best = Math.max(best, open);
  }
  return best;
}

/**
 * What a page activity covered: a range of numbered rows `{ first, last }` (input `range`, when pages run as
 * parallel ranges: dense row numbers, so last − first + 1 rows), or a keyset span of account_seq (from, to] from
 * its input's `cursor` to its result's `cursor`, whose rows the partition is asked for. Undefined when the
 * activity's shape says neither: it is then counted, not measured.
 */
export type PageSpan = { rows: number } | { from: number; to: number };

export function pageRange(span: ActivitySpan): PageSpan | undefined {
  const input = (span.input ?? {}) as Record<string, unknown>;
  const result = (span.result ?? {}) as Record<string, unknown>;
  const range = (input.range ?? null) as Record<string, unknown> | null;
  if (range && Number.isFinite(Number(range.first)) && Number.isFinite(Number(range.last)))
    return { rows: Number(range.last) - Number(range.first) + 1 };
  const from = Number(input.cursor);
  const to = Number(result.cursor);
  return Number.isFinite(from) && Number.isFinite(to) && to >= from ? { from, to } : undefined;
}

/** Rows each page activity covered; keyset spans are counted in the push's partition (an index range each). */
export async function rowsInRanges(
  sql: Sql,
  pushId: string,
  ranges: (PageSpan | undefined)[],
): Promise<(number | undefined)[]> {
  const out: (number | undefined)[] = [];
  for (const r of ranges) {
    if (!r || 'rows' in r) {
      out.push(r?.rows);
      continue;
    }
    const [row] = await sql<{ n: string }[]>`
      select count(*) as n from push_recipients
      where push_id = ${pushId} and account_seq > ${r.from} and account_seq <= ${r.to}`;
    out.push(Number(row?.n ?? 0));
  }
  return out;
}

export interface WorkerFigures {
  name: string;
  pid: number;
  cpuSeconds: number | null;
  peakRssMB: number | null;
  /** Activities of this push it ran, by type. */
  activities: Record<string, number>;
  pageActivities: number;
  /** Recipients in the ranges its page activities covered, and those in pages (÷ page size, rounded up). */
  pageRows: number | null;
  pages: number | null;
  /** Sum of its page activities' start → close, ms. */
  pageBusyMs: number;
  workflowTasks: number;
}

/** Per worker process: what of the push it ran, from the history's identities. */
export function perWorker(
  spans: ActivitySpan[],
  rows: (number | undefined)[],
  history: RunHistory[],
  workers: { name: string; pid: number; cpuSeconds: number; peakRss: number }[],
  pageSize: number,
): { workers: WorkerFigures[]; unattributed: number } {
  const byPid = new Map(workers.map((w) => [w.pid, w]));
  const out = new Map<number, WorkerFigures>(
    workers.map((w) => [
      w.pid,
      {
        name: w.name,
        pid: w.pid,
        cpuSeconds: round(w.cpuSeconds, 2),
        peakRssMB: round(w.peakRss / 2 ** 20, 0),
        activities: {},
        pageActivities: 0,
        pageRows: 0,
        pages: 0,
        pageBusyMs: 0,
        workflowTasks: 0,
      },
    ]),
  );
  let unattributed = 0;
  spans.forEach((s, i) => {
    const pid = pidOfIdentity(s.identity);
    const w = pid !== undefined && byPid.has(pid) ? out.get(pid) : undefined;
    if (!w) {
      unattributed++;
      return;
    }
    w.activities[s.name] = (w.activities[s.name] ?? 0) + 1;
    if (s.name !== PAGE_ACTIVITY) return;
    w.pageActivities++;
    const n = rows[i];
    if (n === undefined || w.pageRows === null || w.pages === null) {
      w.pageRows = null;
      w.pages = null;
    } else {
      w.pageRows += n;
      w.pages += Math.ceil(n / pageSize);
    }
    if (s.started !== undefined && s.closed !== undefined) w.pageBusyMs += Math.round(s.closed - s.started);
  });
  for (const run of history)
    for (const [identity, n] of Object.entries(run.workflowTasksByIdentity)) {
      const pid = pidOfIdentity(identity);
      const w = pid !== undefined ? out.get(pid) : undefined;
      if (w) w.workflowTasks += n;
    }
  return { workers: [...out.values()], unattributed };
}

/** A point of PostgreSQL's WAL: the insert position and, where the server has them, pg_stat_wal's counters. */
export interface WalPoint {
  /** pg_current_wal_lsn() in bytes from 0/0. */
  lsn: number;
  records: number | null;
  fpi: number | null;
  bytes: number | null;
  checkpoints: number | null;
}

/** pg_stat_wal exists from PostgreSQL 14; checkpoint counts moved to pg_stat_checkpointer in 17. */
export async function walPoint(sql: Sql): Promise<WalPoint> {
  const [have] = await sql<{ wal: boolean; checkpointer: boolean }[]>`
    select to_regclass('pg_catalog.pg_stat_wal') is not null as wal,
      to_regclass('pg_catalog.pg_stat_checkpointer') is not null as checkpointer`;
  const [lsn] = await sql<{ lsn: number }[]>`select (pg_current_wal_lsn() - '0/0'::pg_lsn)::float8 as lsn`;
  const point: WalPoint = {
    lsn: lsn?.lsn ?? Number.NaN,
    records: null,
    fpi: null,
    bytes: null,
    checkpoints: null,
  };
  if (have?.wal) {
    const [w] = await sql<{ records: string; fpi: string; bytes: string }[]>`
      select wal_records as records, wal_fpi as fpi, wal_bytes as bytes from pg_stat_wal`;
    if (w) Object.assign(point, { records: Number(w.records), fpi: Number(w.fpi), bytes: Number(w.bytes) });
  }
  const [c] = have?.checkpointer
    ? await sql<{ n: string }[]>`select num_timed + num_requested as n from pg_stat_checkpointer`
    : await sql<{ n: string }[]>`select checkpoints_timed + checkpoints_req as n from pg_stat_bgwriter`;
  point.checkpoints = c ? Number(c.n) : null;
  return point;
}

export function walDelta(a: WalPoint, b: WalPoint) {
  const d = (x: number | null, y: number | null) => (x === null || y === null ? null : y - x);
  return {
    lsnBytes: b.lsn - a.lsn,
    records: d(a.records, b.records),
    fpi: d(a.fpi, b.fpi),
    bytes: d(a.bytes, b.bytes),
    checkpoints: d(a.checkpoints, b.checkpoints),
  };
}
export type WalDelta = ReturnType<typeof walDelta>;

/**
 * WAL written between two moments, from the LSN samples of the 50 ms poll: the last sample at or before
 * `from` to the first at or after `to`. Null when no sample lies within `slackMs` of either end (a stalled
 * poll would credit the window with whatever came after it).
 */
export function walBetween(
  samples: { t: number; lsn: number }[],
  from: number,
  to: number,
  slackMs = 500,
): number | null {
  const before = samples.filter((s) => s.t <= from).at(-1);
  const after = samples.find((s) => s.t >= to);
  if (!before || !after || from - before.t > slackMs || after.t - to > slackMs) return null;
  return after.lsn - before.lsn;
}

/**
 * WAL of the snapshot's statements per pg_stat_statements (--private-pg: reset before each push): the bare
 * partition's load, its primary key and index, the attach and the analyze (db/recipients.ts).
 */
export async function snapshotWalFromStatements(sql: Sql): Promise<number | null> {
  const [row] = await sql<{ bytes: string | null }[]>`
    select sum(wal_bytes) as bytes from pg_stat_statements
    where dbid = (select oid from pg_database where datname = current_database())
      and query ~* '^[[:space:]]*(insert into|alter table|create index on|analyze|create table)[[:space:]]+"?push_recipients'`;
  return row?.bytes === null || row?.bytes === undefined ? null : Number(row.bytes);
}

/** Bytes of the push's partition: heap, indexes (and TOAST), per the catalog. */
export async function partitionBytes(
  sql: Sql,
  pushId: string,
): Promise<{ table: number; total: number } | null> {
  const [row] = await sql<{ table: string; total: string }[]>`
    select pg_table_size(c.oid) as table, pg_total_relation_size(c.oid) as total
    from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'push_recipients'::regclass
      and pg_get_expr(c.relpartbound, c.oid) like '%' || ${`'${pushId}'`} || '%'`;
  return row ? { table: Number(row.table), total: Number(row.total) } : null;
}

export interface CostInputs {
  recipients: number;
  notifications: number;
  cpu: Record<string, number>;
  workers: number;
  apis: number;
  /** How the PostgreSQL and Temporal CPU were read, so the table can say what they include. */
  postgres: 'private' | 'shared' | 'unknown';
  temporalPid: 'started' | 'port' | 'unknown';
  wal: WalDelta;
  walSettled: WalDelta;
  walSnapshot: number | null;
  /**
   * Over the idle seconds before the POST: WAL bytes / s, PostgreSQL cluster CPU / s, and every role's CPU / s
   * (sockets kept alive, presence, polls): the part of a push's figures that grows with its duration.
   */
  background: {
    walPerSecond: number;
    pgCpuPerSecond: number | null;
    cpuPerSecond: Record<string, number>;
    seconds: number;
  };
  seconds: number;
  partition: { table: number; total: number } | null;
  history: RunHistory[];
  activityTasks: number;
  pageActivities: number;
}

/** The cost model of one push: per recipient, by role; the Temporal work; and how each figure was read. */
export function costModel(c: CostInputs) {
  const per = (x: number | null | undefined) =>
    x === null || x === undefined || c.recipients <= 0 ? null : x / c.recipients;
  const us = (cpuS: number | undefined) => round((per(cpuS) ?? Number.NaN) * 1e6, 2);
  const bytes = (x: number | null | undefined) => round(per(x) ?? Number.NaN, 1);
  const pg = c.cpu.postgresCluster;
  const herald = ['api', 'worker', 'postgresCluster', 'temporal'].map((k) => c.cpu[k]);
  const events = c.history.reduce((s, r) => s + r.events, 0);
  const historyBytes = c.history.every((r) => r.bytes !== undefined)
    ? c.history.reduce((s, r) => s + (r.bytes ?? 0), 0)
    : null;
  const workflowTasks = c.history.reduce((s, r) => s + r.workflowTasks, 0);
  return {
    recipients: c.recipients,
    notifications: c.notifications,
    cpuUsPerRecipient: {
      api: us(c.cpu.api),
      worker: us(c.cpu.worker),
      postgres: us(pg),
      temporal: us(c.cpu.temporal),
      heraldTotal: herald.every((x) => x !== undefined)
        ? us(herald.reduce((s: number, x) => s + (x ?? 0), 0))
        : null,
      fakes: us(c.cpu.fakes),
      clients: us(c.cpu.clients),
      workerPerNotification:
        c.notifications > 0 ? round(((c.cpu.worker ?? 0) / c.notifications) * 1e6, 1) : null,
    },
    walBytesPerRecipient: {
      push: bytes(c.wal.lsnBytes),
      pushAndSettle: bytes(c.walSettled.lsnBytes),
      snapshot: bytes(c.walSnapshot),
      statWalBytes: bytes(c.wal.bytes),
      records: round(per(c.wal.records) ?? Number.NaN, 3),
      fullPageImages: round(per(c.wal.fpi) ?? Number.NaN, 4),
    },
    wal: { push: c.wal, pushAndSettle: c.walSettled, snapshotBytes: c.walSnapshot },
    checkpointsDuringPush: c.wal.checkpoints,
    background: {
      ...c.background,
      walPerSecond: round(c.background.walPerSecond, 0),
      pgCpuPerSecond: round(c.background.pgCpuPerSecond ?? Number.NaN, 3),
      /** What the background would have added over the push: subtract it on a shared server. */
      walBytesPerRecipientOverPush: bytes(c.background.walPerSecond * c.seconds),
      pgCpuUsPerRecipientOverPush:
        c.background.pgCpuPerSecond === null ? null : us(c.background.pgCpuPerSecond * c.seconds),
      cpuPerSecond: Object.fromEntries(
        Object.entries(c.background.cpuPerSecond).map(([k, x]) => [k, round(x, 3)]),
      ),
      /** Each role's idle CPU rate × the push's seconds, per recipient: what a slower push adds by lasting. */
      idleCpuUsPerRecipientOverPush: Object.fromEntries(
        ['api', 'worker', 'postgresCluster', 'temporal'].map((k) => [
          k,
          c.background.cpuPerSecond[k] === undefined
            ? null
            : us((c.background.cpuPerSecond[k] ?? 0) * c.seconds),
        ]),
      ),
    },
    partitionBytesPerRecipient: c.partition
      ? { table: bytes(c.partition.table), withIndexes: bytes(c.partition.total) }
      : null,
    temporal: {
      runs: c.history.length,
      historyEvents: events,
      historyBytes,
      workflowTasks,
      activityTasks: c.activityTasks,
      pageActivities: c.pageActivities,
      eventsPerPageActivity: c.pageActivities ? round(events / c.pageActivities, 1) : null,
      tasksPerSecond: c.seconds > 0 ? round((workflowTasks + c.activityTasks) / c.seconds, 2) : null,
    },
    seconds: round(c.seconds, 2),
    processes: { workers: c.workers, apis: c.apis },
    /** What the PostgreSQL and Temporal figures include. */
    caveats: [
      c.postgres === 'private'
        ? 'PostgreSQL: a private cluster (--private-pg): its CPU and WAL are this push’s and the bench’s own'
        : 'PostgreSQL: the machine’s shared server: its CPU and WAL include every other database’s load (see background; use --private-pg)',
      c.temporalPid === 'unknown'
        ? 'Temporal: reused server whose pid is unknown: its CPU is not counted'
        : c.temporalPid === 'port'
          ? 'Temporal: a reused server (found by its port): its CPU includes everything else it serves'
          : 'Temporal: the dev server the bench started (SQLite in memory; a production cluster differs)',
    ],
  };
}
export type CostModel = ReturnType<typeof costModel>;

export interface Invariant {
  name: string;
  ok: boolean;
  detail: string;
}

/** Devices the push's offline recipients should have been notified on: live devices of rows left pending. */
export async function expectedNotifications(
  sql: Sql,
  appId: string,
  pushId: string,
): Promise<Record<string, number>> {
  const rows = await sql<{ platform: string; n: string }[]>`
    select d.platform, count(*) as n
    from push_recipients r
    join devices d on d.app_id = ${appId} and d.account_id = r.account_id
    where r.push_id = ${pushId} and r.state = 0
      and (d.disabled_at is null or d.disabled_at >= (select created_at from pushes where id = ${pushId}))
    group by d.platform`;
  return Object.fromEntries(rows.map((r) => [r.platform, Number(r.n)]));
}
