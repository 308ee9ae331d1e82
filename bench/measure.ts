/**
 * Measurement helpers for bench/main.ts: the push's Temporal history as activity spans, PostgreSQL backends
 * attributed to the process that opened them, table-statistics deltas, percentiles, a progress bar.
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { Sql } from '../db/client.ts';
import { cpuSeconds, tcpPortsTowards } from './procstat.ts';

export interface ActivitySpan {
  name: string;
  scheduled: number;
  started: number | undefined;
  closed: number | undefined;
  outcome: 'completed' | 'failed' | 'timedOut' | 'canceled' | 'open';
  attempt: number;
  /** The worker that ran the (last) attempt: ActivityTaskStarted's identity (`<pid>@<host>` by default). */
  identity: string | undefined;
  /** The activity's first argument and its result, decoded (bench/scale.ts reads page ranges from them). */
  input: unknown;
  result: unknown;
}

/** One run of the workflow (continue-as-new starts the next): its history's size and its workflow tasks. */
export interface RunHistory {
  runId: string;
  events: number;
  /** DescribeWorkflowExecution's history size in bytes, when the server reports it. */
  bytes: number | undefined;
  workflowTasks: number;
  /** Completed workflow tasks by the identity of the worker that started them. */
  workflowTasksByIdentity: Record<string, number>;
  activitiesScheduled: number;
}

type Ts = { seconds?: unknown; nanos?: number | null } | null | undefined;
const tsMs = (t: Ts): number =>
  t ? Number(String(t.seconds ?? 0)) * 1000 + Number(t.nanos ?? 0) / 1e6 : Number.NaN;
const idOf = (v: unknown): string => String(v ?? '');
type Payloads = { payloads?: Payload[] | null } | null | undefined;
/** The first payload of a history event's input or result, decoded; undefined when it is not plain JSON. */
const firstPayload = (p: Payloads): unknown => {
  const first = p?.payloads?.[0];
  if (!first) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(first);
  } catch {
    return undefined;
  }
};

/**
 * Every activity of every run of the workflow (continue-as-new included), in the order they were scheduled,
 * with who ran it; and each run's history size and workflow tasks.
 */
export async function activitySpans(
  client: Client,
  workflowId: string,
): Promise<{ spans: ActivitySpan[]; runs: number; history: RunHistory[] }> {
  const runIds: { runId: string; start: number }[] = [];
  try {
    for await (const wf of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
      runIds.push({ runId: wf.runId, start: wf.startTime.getTime() });
    }
  } catch {
    // visibility unavailable: the latest run only
  }
  runIds.sort((a, b) => a.start - b.start);
  const handles = (runIds.length ? runIds : [{ runId: undefined }]).map((r) => ({
    runId: r.runId,
    handle: client.workflow.getHandle(workflowId, r.runId),
  }));
  const spans: ActivitySpan[] = [];
  const history: RunHistory[] = [];
  for (const { runId, handle } of handles) {
    const [fetched, described] = await Promise.all([
      handle.fetchHistory(),
      handle.describe().catch(() => undefined),
    ]);
    const run: RunHistory = {
      runId: described?.runId ?? runId ?? '?',
      events: fetched.events?.length ?? 0,
      bytes: described?.historySize,
      workflowTasks: 0,
      workflowTasksByIdentity: {},
      activitiesScheduled: 0,
    };
    history.push(run);
    const byScheduled = new Map<string, ActivitySpan>();
    const taskIdentity = new Map<string, string>();
    for (const e of fetched.events ?? []) {
      const at = tsMs(e.eventTime as Ts);
      if (e.workflowTaskStartedEventAttributes) {
        taskIdentity.set(idOf(e.eventId), e.workflowTaskStartedEventAttributes.identity ?? '?');
      } else if (e.workflowTaskCompletedEventAttributes) {
        run.workflowTasks++;
        const who = taskIdentity.get(idOf(e.workflowTaskCompletedEventAttributes.startedEventId)) ?? '?';
        run.workflowTasksByIdentity[who] = (run.workflowTasksByIdentity[who] ?? 0) + 1;
      } else if (e.activityTaskScheduledEventAttributes) {
        run.activitiesScheduled++;
        const span: ActivitySpan = {
          name: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?',
          scheduled: at,
          started: undefined,
          closed: undefined,
          outcome: 'open',
          attempt: 1,
          identity: undefined,
          input: firstPayload(e.activityTaskScheduledEventAttributes.input),
          result: undefined,
        };
        byScheduled.set(idOf(e.eventId), span);
        spans.push(span);
      } else if (e.activityTaskStartedEventAttributes) {
        const span = byScheduled.get(idOf(e.activityTaskStartedEventAttributes.scheduledEventId));
        if (span) {
          span.started = at;
          span.attempt = e.activityTaskStartedEventAttributes.attempt ?? 1;
          span.identity = e.activityTaskStartedEventAttributes.identity ?? undefined;
        }
      } else {
        const closed: [unknown, ActivitySpan['outcome']][] = [
          [e.activityTaskCompletedEventAttributes?.scheduledEventId, 'completed'],
          [e.activityTaskFailedEventAttributes?.scheduledEventId, 'failed'],
          [e.activityTaskTimedOutEventAttributes?.scheduledEventId, 'timedOut'],
          [e.activityTaskCanceledEventAttributes?.scheduledEventId, 'canceled'],
        ];
        for (const [id, outcome] of closed) {
          if (id === undefined || id === null) continue;
          const span = byScheduled.get(idOf(id));
          if (span) {
            span.closed = at;
            span.outcome = outcome;
            if (outcome === 'completed')
              span.result = firstPayload(e.activityTaskCompletedEventAttributes?.result);
          }
        }
      }
    }
  }
  return { spans, runs: handles.length, history };
}

export interface BackendCpu {
  /** role → CPU seconds of the PostgreSQL backends that role's connections are served by. */
  byRole: Record<string, number>;
  backends: number;
}

/**
 * Samples pg_stat_activity every 250 ms and attributes each backend of the bench database to the process
 * whose TCP port it serves (parallel workers to their leader's process), reading the backend's CPU from
 * /proc. A backend first seen after the start counts from zero; what a backend did after the last sample
 * before it exited is missed, and so are parallel workers shorter than a sample (the cluster total has them).
 */
export function backendSampler(sql: Sql, pgPort: number, roles: { role: string; pid: number }[]) {
  const t0 = Date.now();
  const seen = new Map<number, { role: string; first: number; last: number }>();
  let timer: NodeJS.Timeout | undefined;
  let busy = false;
  const portRole = new Map<number, string>();
  /** Client ports of backends that belong to none of the roles (psql, Temporal's own, other users). */
  const unowned = new Set<number>();
  async function sample(): Promise<void> {
    if (busy) return;
    busy = true;
    try {
      const rows = await sql<
        { pid: number; client_port: number | null; leader_pid: number | null; started: number }[]
      >`select pid, client_port, leader_pid, (extract(epoch from backend_start) * 1000)::float8 as started
        from pg_stat_activity where datname = current_database()`;
      // Mapping ports to processes reads every fd of every process (10,000 sockets per api) and the whole
      // socket table: done only when a backend with a port not seen before shows up (pools are long-lived),
      // or the sampler itself would take half a core from the push it measures.
      if (rows.some((r) => r.client_port && !portRole.has(r.client_port) && !unowned.has(r.client_port))) {
        portRole.clear();
        for (const r of roles) for (const port of tcpPortsTowards(r.pid, pgPort)) portRole.set(port, r.role);
        for (const port of tcpPortsTowards(process.pid, pgPort)) portRole.set(port, 'bench');
        for (const r of rows) if (r.client_port && !portRole.has(r.client_port)) unowned.add(r.client_port);
      }
      const roleOfPid = new Map<number, string>();
      for (const r of rows) if (r.client_port) roleOfPid.set(r.pid, portRole.get(r.client_port) ?? 'other');
      for (const r of rows) {
        const role =
          (r.leader_pid && r.leader_pid !== r.pid ? roleOfPid.get(r.leader_pid) : undefined) ??
          roleOfPid.get(r.pid) ??
          'other';
        const cpu = cpuSeconds(r.pid);
        const entry = seen.get(r.pid);
        if (entry) {
          entry.last = Math.max(entry.last, cpu);
          if (entry.role === 'other') entry.role = role;
        } else seen.set(r.pid, { role, first: r.started > t0 ? 0 : cpu, last: cpu });
      }
    } finally {
      busy = false;
    }
  }
  return {
    async start() {
      await sample();
      timer = setInterval(() => void sample().catch(() => {}), 250);
    },
    async stop(): Promise<BackendCpu> {
      clearInterval(timer);
      while (busy) await new Promise((r) => setTimeout(r, 10));
      await sample().catch(() => {});
      const byRole: Record<string, number> = {};
      for (const e of seen.values()) byRole[e.role] = (byRole[e.role] ?? 0) + (e.last - e.first);
      return { byRole, backends: seen.size };
    },
  };
}

export interface TableStats {
  [table: string]: { ins: number; upd: number; del: number; hot: number };
}

/** n_tup_ins/upd/del/hot_upd of every table; recipient partitions are summed as `push_recipients`. */
export async function tableStats(sql: Sql): Promise<TableStats> {
  const rows = await sql<{ relname: string; ins: string; upd: string; del: string; hot: string }[]>`
    select relname, n_tup_ins as ins, n_tup_upd as upd, n_tup_del as del, n_tup_hot_upd as hot
    from pg_stat_user_tables`;
  const out: TableStats = {};
  for (const r of rows) {
    const name = r.relname.startsWith('push_recipients_') ? 'push_recipients' : r.relname;
    const t = out[name] ?? { ins: 0, upd: 0, del: 0, hot: 0 };
    t.ins += Number(r.ins);
    t.upd += Number(r.upd);
    t.del += Number(r.del);
    t.hot += Number(r.hot);
    out[name] = t;
  }
  return out;
}

export function statsDelta(before: TableStats, after: TableStats): TableStats {
  const out: TableStats = {};
  for (const [name, a] of Object.entries(after)) {
    const b = before[name] ?? { ins: 0, upd: 0, del: 0, hot: 0 };
    const d = { ins: a.ins - b.ins, upd: a.upd - b.upd, del: a.del - b.del, hot: a.hot - b.hot };
    if (d.ins || d.upd || d.del) out[name] = d;
  }
  return out;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  );
}

/** The busiest second of a 100 ms histogram: the largest sum over 10 consecutive buckets. */
export function peakPerSecond(buckets: Record<string, number>): number {
  const keys = Object.keys(buckets)
    .map(Number)
    .sort((a, b) => a - b);
  let best = 0;
  for (const start of keys) {
    let sum = 0;
    for (let k = start; k < start + 1000; k += 100) sum += buckets[String(k)] ?? 0;
    best = Math.max(best, sum);
  }
  return best;
}

/** A progress bar on stderr: redrawn in place on a terminal, a line every 2 s otherwise. */
export function progressBar() {
  let lastLine = 0;
  let drawn = false;
  return {
    update(label: string, done: number, total: number, extra = '') {
      const width = 30;
      const frac = total > 0 ? Math.min(1, done / total) : 0;
      const filled = Math.round(frac * width);
      const text = `${label.padEnd(18)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100)
        .toFixed(0)
        .padStart(3)}% ${extra}`;
      if (process.stderr.isTTY) {
        process.stderr.write(`\r${text}\x1b[K`);
        drawn = true;
      } else if (Date.now() - lastLine > 2000 || frac >= 1) {
        lastLine = Date.now();
        process.stderr.write(`${text}\n`);
      }
    },
    end() {
      if (drawn) process.stderr.write('\n');
      drawn = false;
      lastLine = 0;
    },
    note(text: string) {
      if (drawn) process.stderr.write('\n');
      drawn = false;
      process.stderr.write(`${text}\n`);
    },
  };
}
