import { randomBytes, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import type { PushActivities } from '../../activities/index.ts';
import { type PushWorkflowInput, pushWorkflow } from '../../workflows/push.ts';

/** The app id of the pushes the workflow tests start. */
export const TEST_APP_ID = 'app-1';

import { workflowSpanSinks } from '../../cli/worker.ts';

/**
 * Where the workflow tests run. With TEMPORAL_TEST_SERVER (the path of a `temporal-test-server` binary) they
 * use Temporal's time-skipping test server; without it (this machine cannot download one) they use the run's
 * dev server in real time. The tests pass in both: every wait they rely on is either interrupted by a test
 * (cancel, recall, reschedule) or a second or two long.
 */
export interface WorkflowTestEnv {
  env: TestWorkflowEnvironment;
  timeSkipping: boolean;
  /** Runs fn while a worker with these activities and the real workflows polls a task queue of its own. */
  withWorker<T>(activities: PushActivities, fn: (taskQueue: string) => Promise<T>): Promise<T>;
  /** Starts a push workflow of TEST_APP_ID (a fresh push id, retention 1 h unless `input` says otherwise). */
  startPush(taskQueue: string, input?: Partial<PushWorkflowInput>): ReturnType<Client['workflow']['start']>;
  teardown(): Promise<void>;
}

function installQuietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed in this process.
  }
}

/**
 * `devServer`: the run's dev server even when TEMPORAL_TEST_SERVER is set: Temporal Schedules exist only on a
 * real server (the time-skipping test server implements none; sdk-java issue 1954).
 */
export async function openWorkflowEnv(opts: { devServer?: boolean } = {}): Promise<WorkflowTestEnv> {
  installQuietRuntime();
  const testServer = opts.devServer ? undefined : process.env.TEMPORAL_TEST_SERVER;
  const env = testServer
    ? await TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: { type: 'existing-path', path: testServer } },
      })
    : await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
  return {
    env,
    timeSkipping: env.supportsTimeSkipping,
    async withWorker(activities, fn) {
      const taskQueue = `wf-test-${randomBytes(4).toString('hex')}`;
      const worker = await Worker.create({
        connection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        taskQueue,
        workflowBundle: { codePath: inject('workflowBundlePath') },
        activities,
        sinks: workflowSpanSinks(),
        // A page's cancellation reaches it with its next heartbeat: send those at once, not every 8 s.
        maxHeartbeatThrottleInterval: '100 ms',
        defaultHeartbeatThrottleInterval: '100 ms',
      });
      return worker.runUntil(fn(taskQueue));
    },
    startPush(taskQueue, input = {}) {
      const pushId = `push-${randomUUID()}`;
      return env.client.workflow.start(pushWorkflow, {
        taskQueue,
        workflowId: `wf-${pushId}`,
        args: [{ appId: TEST_APP_ID, pushId, retentionSeconds: 3600, ...input }],
      });
    },
    teardown: () => env.teardown(),
  };
}

export interface ActivityCall {
  name: keyof PushActivities;
  input: unknown;
}

/**
 * Every activity the workflows call, as plain functions that record their input and answer like a push to
 * an audience of 10 with nothing to keep; a test overrides the ones its case is about.
 */
export function mockActivities(overrides: Partial<PushActivities> = {}) {
  const calls: ActivityCall[] = [];
  const base: PushActivities = {
    snapshotAudience: async () => ({ audience: 10, capped: 0 }),
    planWaves: async () => [],
    snapshotWave: async () => ({ audience: 10, capped: 0 }),
    publishToGateways: async () => {},
    // Ten numbered rows, one range of them: one page activity.
    planPageRanges: async () => ({ first: 1, last: 10, rangeRows: 10, parallelism: 1 }),
    deliverOfflinePages: async () => ({ cursor: 10, done: true, awaitingLive: 0 }),
    retryLiveDelivery: async () => ({ awaitingLive: 0 }),
    deliverLiveFallbacks: async () => ({ devices: 0 }),
    completePush: async () => ({ expiresAt: new Date().toISOString() }),
    markPushCanceled: async () => ({ expiresAt: null }),
    recallPush: async () => ({ withdrawn: 0 }),
    expirePush: async () => ({ expired: 0 }),
    dropRecipients: async () => {},
    reschedulePushes: async () => {},
    cancelCampaignPushes: async () => {},
    finishCampaign: async () => {},
    markPushFailed: async () => {},
    reconcileStranded: async () => ({ started: [], failed: [], found: 0 }),
    deliverWebhookBatch: async () => ({ state: 'stopped' as const }),
    disableWebhookEndpoint: async () => {},
    startScheduledPush: async ({ runId }) => ({ pushId: `push-of-${runId}`, pushWorkflowId: `wf-${runId}` }),
    recordScheduleRunFailure: async () => {},
    ...overrides,
  };
  const recorded = Object.fromEntries(
    Object.entries(base).map(([name, fn]) => [
      name,
      (input: unknown) => {
        calls.push({ name: name as keyof PushActivities, input });
        return (fn as (input: unknown) => unknown)(input);
      },
    ]),
  ) as unknown as PushActivities;
  const inputs = (name: keyof PushActivities) => calls.filter((c) => c.name === name).map((c) => c.input);
  return { activities: recorded, calls, inputs };
}

/** Polls until ok(value) (real time: a query or a recorded call, never a workflow timer). */
export async function eventually<T>(read: () => T | Promise<T>, ok: (v: T) => boolean, what: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
