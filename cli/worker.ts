import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import {
  bundleWorkflowCode,
  NativeConnection,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { type ActivityTesting, createActivities, type ProviderRegistry } from '../activities/index.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import { addMetricsSource } from '../core/metrics.ts';
import { currentTracing, noTracing } from '../core/tracing.ts';
import { PAGES_PER_ACTIVITY } from '../core/tunables.ts';
import type { Database } from '../db/client.ts';
import { postgresBus } from '../delivery/bus.ts';
import { listenForWebhookEvents } from '../pushes/webhook-wake.ts';
import { HeraldScheduleId } from '../workflows/search-attributes.ts';
import { timeActivities } from './metrics-server.ts';
import { freePort } from './temporal-dev.ts';
import { scrubActivityErrors, temporalLogger } from './temporal-log.ts';

const require = createRequire(import.meta.url);
export const workflowsPath = require.resolve('../workflows/index.ts');
/** Always in the bundle: its spans go to the sink the worker injects (a no-op one when tracing is off). */
const workflowInterceptorModules = [
  require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors'),
];

/**
 * The sink the bundled OpenTelemetry workflow interceptor exports through: the process's span processor, or one
 * that drops spans when tracing is off. Every worker running the bundle needs it (tests' workers too).
 */
export function workflowSpanSinks() {
  const spans = currentTracing() ?? noTracing();
  return { exporter: makeWorkflowExporter(spans.processor, spans.resource) };
}

export interface WorkerHandle {
  worker: Worker;
  /** Resolves when the worker has drained and stopped. */
  done: Promise<void>;
  stop(): Promise<void>;
}

/** Bundles the workflow code once; tests share one bundle across files. */
export async function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  const quiet = () => {};
  // The bundler narrates every module at info level; only its errors are worth a line.
  const logger = { log: quiet, info: quiet, warn: quiet, debug: quiet, trace: quiet, error: console.error };
  return bundleWorkflowCode({ workflowsPath, workflowInterceptorModules, logger });
}

let runtimeInstalled = false;

/**
 * The SDK's own log goes through ours (redacted, errors without query parameters): cli/temporal-log.ts. With
 * `sdkMetrics`, its worker metrics (`temporal_*`: polls, task slots, latencies) are served by its runtime on a
 * loopback port and appended to this process's `/metrics`.
 */
async function installRuntime(log: Logger, sdkMetrics: boolean): Promise<void> {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const address = sdkMetrics ? `127.0.0.1:${await freePort()}` : undefined;
  try {
    Runtime.install({
      logger: temporalLogger(log),
      // Signals are ours: the start command drains the worker itself, after the API stops taking requests.
      shutdownSignals: [],
      ...(address
        ? {
            telemetryOptions: {
              metrics: { prometheus: { bindAddress: address, useSecondsForDurations: true } },
            },
          }
        : {}),
    });
  } catch {
    // Already installed by the embedding process (tests may start several workers).
    return;
  }
  if (address)
    addMetricsSource(async () => {
      const res = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(2000) });
      return res.ok ? res.text() : '';
    });
}

/**
 * Bundles the workflows in a child process (`herald bundle`): webpack leaves about 70 MB behind in the heap
 * of the process that runs it, which the worker would carry for its whole life.
 */
async function bundleInChildProcess(file: string): Promise<{ codePath: string }> {
  const herald = fileURLToPath(new URL('../bin/herald.js', import.meta.url));
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [herald, 'bundle', file], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`herald bundle exited with ${code}`)),
    );
  });
  return { codePath: file };
}

export async function writeWorkflowBundle(file: string): Promise<void> {
  const { code } = await bundleWorkflows();
  await writeFile(file, code);
}

export const reconcileScheduleId = (taskQueue: string) => `herald-reconcile-${taskQueue}`;

/**
 * The Schedule that runs the reconciler's sweep (workflows/reconcile.ts) every `seconds` on this task queue,
 * created once: every worker asks, the first one makes it. Its first sweep comes one interval from now.
 */
export async function ensureReconcileSchedule(
  client: Client,
  taskQueue: string,
  seconds: number,
  log: Logger,
  searchAttributes = false,
): Promise<void> {
  const scheduleId = reconcileScheduleId(taskQueue);
  try {
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: `${seconds} seconds` }], startAt: new Date(Date.now() + seconds * 1000) },
      action: {
        type: 'startWorkflow',
        workflowType: 'reconcileWorkflow',
        workflowId: scheduleId,
        taskQueue,
        args: [{}],
        workflowExecutionTimeout: `${Math.max(seconds * 2, 300)} seconds`,
        ...(searchAttributes
          ? { typedSearchAttributes: [{ key: HeraldScheduleId, value: scheduleId }] }
          : {}),
        staticSummary: 'Herald reconciler sweep',
      },
      // A sweep still running when the next is due: skip that one.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: `${seconds} seconds` },
      memo: { what: 'Herald reconciler: starts or fails push and campaign rows that have no workflow' },
    });
    log.info({ scheduleId }, 'reconciler schedule created');
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
}

export async function startWorker(opts: {
  config: Config;
  temporalAddress: string;
  database: Database;
  providers: ProviderRegistry;
  log: Logger;
  workflowBundle?: WorkflowBundleWithSourceMap | { codePath: string } | undefined;
  batchSize?: number;
  /** Test-only knobs of the activities. */
  testing?: ActivityTesting | undefined;
  /** Tests: activities this worker runs at once (Temporal's default otherwise). */
  maxConcurrentActivities?: number | undefined;
  /** The SDK's own worker metrics in this process's `/metrics` (the herald commands; not the tests). */
  sdkMetrics?: boolean;
}): Promise<WorkerHandle> {
  const { config, database, log } = opts;
  await installRuntime(log, opts.sdkMetrics ?? false);
  const tmpBundle = path.join(os.tmpdir(), `herald-workflows-${process.pid}-${Date.now()}.js`);
  const connection = await NativeConnection.connect({ address: opts.temporalAddress });
  const activities = createActivities({
    database,
    bus: postgresBus(database.sql),
    providers: opts.providers,
    log: log.child({ component: 'activities' }),
    batchSize: opts.batchSize ?? config.HERALD_PAGE_SIZE,
    pagesPerActivity: PAGES_PER_ACTIVITY,
    pageParallelism: config.HERALD_PAGE_PARALLELISM,
    searchAttributes: config.HERALD_SEARCH_ATTRIBUTES,
    webhooks: { allowPrivate: config.HERALD_WEBHOOK_ALLOW_PRIVATE },
    testing: opts.testing,
  });
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    activities,
    interceptors: {
      activity: [
        scrubActivityErrors,
        timeActivities,
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
    // The workflow's spans (made in its sandbox) leave through this sink into the process's span processor.
    sinks: workflowSpanSinks(),
    workflowBundle: opts.workflowBundle ?? (await bundleInChildProcess(tmpBundle)),
    shutdownGraceTime: config.HERALD_SHUTDOWN_GRACE_SECONDS * 1000,
    ...(opts.maxConcurrentActivities
      ? { maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities }
      : {}),
    // Heartbeats carry cancellation: send them often enough that a cancel stops a fan-out within a second.
    maxHeartbeatThrottleInterval: '1 second',
  }).finally(() => rm(tmpBundle, { force: true }));
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  // Committed webhook events wake their endpoints' workflows (pushes/webhook-wake.ts).
  const unlisten = await listenForWebhookEvents({ database, temporal: client, config, log });
  if (config.HERALD_RECONCILE_SECONDS > 0) {
    await ensureReconcileSchedule(
      client,
      config.TEMPORAL_TASK_QUEUE,
      config.HERALD_RECONCILE_SECONDS,
      log,
      config.HERALD_SEARCH_ATTRIBUTES,
    );
  }
  const done = worker
    .run()
    .finally(() => unlisten().catch(() => {}))
    .finally(() => connection.close());
  log.info({ taskQueue: config.TEMPORAL_TASK_QUEUE }, 'worker running');
  return {
    worker,
    done,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
