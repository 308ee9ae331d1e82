/** The scale-out and cost-model tables bench/main.ts prints after each push (the figures are in its JSON). */
import type { CostModel, Invariant, WorkerFigures } from './scale.ts';

export interface ScaleResult {
  scenario: string;
  scaleOut: {
    workers: WorkerFigures[];
    unattributedActivities: number;
    overlap: { pageActivities: number; allActivities: number };
  };
  cost: CostModel;
  invariants: Invariant[];
}

const v = (x: unknown) =>
  x === null || x === undefined ? '–' : typeof x === 'number' ? x.toLocaleString('en') : String(x);
const rowsOf = (cells: unknown[][]) => cells.map((r) => `| ${r.map(v).join(' | ')} |`);

export function scaleTables(r: ScaleResult): string {
  const { workers, overlap } = r.scaleOut;
  const c = r.cost;
  const cpu = c.cpuUsPerRecipient;
  const wal = c.walBytesPerRecipient;
  const t = c.temporal;
  const lines = [
    `### ${r.scenario}: workers (from the push's history: ActivityTaskStarted / WorkflowTaskStarted identities)`,
    '',
    '| worker | CPU s | peak RSS MB | activities | page activities | rows | pages | page busy ms | workflow tasks |',
    '|---|--:|--:|---|--:|--:|--:|--:|--:|',
    ...rowsOf(
      workers.map((w) => [
        `${w.name} (${w.pid})`,
        w.cpuSeconds,
        w.peakRssMB,
        Object.entries(w.activities)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ') || '–',
        w.pageActivities,
        w.pageRows,
        w.pages,
        w.pageBusyMs,
        w.workflowTasks,
      ]),
    ),
    '',
    `Most activities of this push running at once: ${overlap.pageActivities} page activities, ${overlap.allActivities} of any kind` +
      (r.scaleOut.unattributedActivities
        ? `; ${r.scaleOut.unattributedActivities} not on a bench worker`
        : ''),
    '',
    `### ${r.scenario}: cost model (${v(c.recipients)} recipients, ${v(c.notifications)} provider notifications, ${v(c.seconds)} s; ${c.processes.workers} worker(s), ${c.processes.apis} api(s))`,
    '',
    '| per recipient | |',
    '|---|--:|',
    ...rowsOf([
      ['CPU µs: api (all api processes)', cpu.api],
      ['CPU µs: worker (all workers)', cpu.worker],
      ['CPU µs: PostgreSQL (all its processes)', cpu.postgres],
      ['CPU µs: Temporal', cpu.temporal],
      ['CPU µs: Herald total (api + worker + PostgreSQL + Temporal)', cpu.heraldTotal],
      ['CPU µs: fakes (not Herald) / clients (not Herald)', `${v(cpu.fakes)} / ${v(cpu.clients)}`],
      ['worker CPU µs per provider notification', cpu.workerPerNotification],
      ['WAL bytes: POST → completed (LSN delta)', wal.push],
      ['WAL bytes: of which the snapshot', wal.snapshot],
      ['WAL bytes: POST → 11 s after (autovacuum, late writes)', wal.pushAndSettle],
      [
        'pg_stat_wal: bytes / records / full-page images',
        `${v(wal.statWalBytes)} / ${v(wal.records)} / ${v(wal.fullPageImages)}`,
      ],
      ['checkpoints during the push', c.checkpointsDuringPush],
      [
        'partition bytes: heap / with indexes',
        c.partitionBytesPerRecipient
          ? `${v(c.partitionBytesPerRecipient.table)} / ${v(c.partitionBytesPerRecipient.withIndexes)}`
          : null,
      ],
      [
        `background before the POST (${c.background.seconds} s idle): WAL B/s, PG CPU s/s`,
        `${v(c.background.walPerSecond)}, ${v(c.background.pgCpuPerSecond)}`,
      ],
      [
        'background over the push, per recipient: WAL bytes, PG CPU µs',
        `${v(c.background.walBytesPerRecipientOverPush)}, ${v(c.background.pgCpuUsPerRecipientOverPush)}`,
      ],
      [
        'idle CPU rate × push seconds, µs: api / worker / PostgreSQL / Temporal',
        ['api', 'worker', 'postgresCluster', 'temporal']
          .map((k) => v(c.background.idleCpuUsPerRecipientOverPush[k]))
          .join(' / '),
      ],
    ]),
    '',
    '| Temporal, this push | |',
    '|---|--:|',
    ...rowsOf([
      ['runs (continue-as-new)', t.runs],
      ['history events (all runs)', t.historyEvents],
      ['history bytes (all runs)', t.historyBytes],
      ['workflow tasks / activity tasks (attempts)', `${v(t.workflowTasks)} / ${v(t.activityTasks)}`],
      ['page activities; events per page activity', `${v(t.pageActivities)}; ${v(t.eventsPerPageActivity)}`],
      ['tasks per second of the push', t.tasksPerSecond],
    ]),
    '',
    ...c.caveats.map((x) => `- ${x}`),
    '',
    `### ${r.scenario}: invariants`,
    '',
    ...r.invariants.map((i) => `- ${i.ok ? 'ok  ' : 'FAIL'} ${i.name}: ${i.detail}`),
  ];
  return lines.join('\n');
}
