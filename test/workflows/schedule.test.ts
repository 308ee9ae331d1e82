import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/log.ts';
import type { Database } from '../../db/client.ts';
import type { ScheduleRow } from '../../db/schedules.ts';
import { scheduleOptions } from '../../pushes/schedules.ts';
import { scheduledPushWorkflow } from '../../workflows/schedule.ts';
import { eventually, mockActivities, openWorkflowEnv, TEST_APP_ID, type WorkflowTestEnv } from './env.ts';

// Recurring pushes: the real Temporal Schedule Herald creates (pushes/schedules.ts scheduleOptions) and the real
// run workflow, against mocked activities. Always on the dev server in real time: the time-skipping test server
// has no Schedules (sdk-java issue 1954), so the Schedule fires every second and the tests take seconds.
let t: WorkflowTestEnv;
beforeAll(async () => {
  t = await openWorkflowEnv({ devServer: true });
});
afterAll(async () => {
  await t?.teardown();
});

/** A schedule row as the service stores it, firing every second (7-field cron: seconds first). */
function row(over: Partial<ScheduleRow> = {}): ScheduleRow {
  const id = randomUUID();
  return {
    appId: TEST_APP_ID,
    id,
    name: 'every second',
    spec: { cron: ['* * * * * * *'], timezone: 'UTC' },
    template: { audience: 'all', message: { elements: [] }, offline: { push: true }, retentionSeconds: 0 },
    temporalScheduleId: `sched-test-${id}`,
    temporalCreatedAt: null,
    count: null,
    pausedAtCreation: false,
    idempotencyKey: null,
    requestHash: null,
    runs: 0,
    lastRunAt: null,
    lastPushId: null,
    lastError: null,
    createdAt: new Date(),
    updatedAt: new Date(),
    ...over,
  };
}

const deps = (taskQueue: string) => ({
  database: undefined as unknown as Database,
  temporal: t.env.client,
  config: { TEMPORAL_TASK_QUEUE: taskQueue },
  log: createLogger('silent', 'test'),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('recurring push schedule', () => {
  it('a Schedule with count 3 fires three times, then no more; each run makes its own push once', async () => {
    const mock = mockActivities();
    await t.withWorker(mock.activities, async (taskQueue) => {
      const r = row({ count: 3 });
      const handle = await t.env.client.schedule.create(scheduleOptions(deps(taskQueue), r));
      try {
        await eventually(
          () => mock.inputs('startScheduledPush').length,
          (n) => n >= 3,
          'three runs',
        );
        await sleep(2500);
        const d = await handle.describe();
        expect(d.state.remainingActions).toBe(0);
        expect(d.info.numActionsTaken).toBe(3);
        expect(d.info.nextActionTimes).toEqual([]);
        expect(d.policies.overlap).toBe('SKIP');
        // Each run is the workflow `<schedule id>-<scheduled time>`, and it names that run's push.
        const runs = mock.inputs('startScheduledPush') as { runId: string; scheduleId: string }[];
        expect(runs).toHaveLength(3);
        expect(new Set(runs.map((x) => x.runId)).size).toBe(3);
        for (const x of runs) expect(x.scheduleId).toBe(r.id);
        for (const a of d.info.recentActions) {
          const { workflowId, firstExecutionRunId } = a.action.workflow;
          expect(workflowId).toMatch(new RegExp(`^${r.temporalScheduleId}-\\d{4}-\\d\\d-\\d\\dT`));
          const result = await t.env.client.workflow.getHandle(workflowId).result();
          expect(result).toEqual({
            pushId: `push-of-${firstExecutionRunId}`,
            pushWorkflowId: `wf-${firstExecutionRunId}`,
          });
        }
      } finally {
        await handle.delete();
      }
    });
  });

  it('paused, it does not fire; resumed, it fires again; trigger runs it while paused', async () => {
    const mock = mockActivities();
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await t.env.client.schedule.create(
        scheduleOptions(deps(taskQueue), row({ pausedAtCreation: true })),
      );
      try {
        await sleep(2500);
        expect(mock.inputs('startScheduledPush')).toHaveLength(0);
        await handle.trigger();
        await eventually(
          () => mock.inputs('startScheduledPush').length,
          (n) => n === 1,
          'the triggered run',
        );
        await handle.unpause();
        await eventually(
          () => mock.inputs('startScheduledPush').length,
          (n) => n >= 3,
          'runs after resume',
        );
        await handle.pause();
        await sleep(1500); // a run already started when the pause came may still land
        const after = mock.inputs('startScheduledPush').length;
        await sleep(2500);
        expect(mock.inputs('startScheduledPush')).toHaveLength(after);
      } finally {
        await handle.delete();
      }
    });
  });

  it('a refused run (quota used up) fails, is recorded once and is not retried', async () => {
    const mock = mockActivities({
      startScheduledPush: async () => {
        throw ApplicationFailure.nonRetryable('The daily quota of 1 pushes is used up', 'quota_exceeded');
      },
    });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await t.env.client.workflow.start(scheduledPushWorkflow, {
        taskQueue,
        workflowId: `sched-test-${randomUUID()}-2030-01-01T00:00:00Z`,
        args: [{ appId: TEST_APP_ID, scheduleId: 'sched-1' }],
      });
      const failure = await handle.result().catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      const cause = (failure as WorkflowFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect((cause as ApplicationFailure).type).toBe('quota_exceeded');
    });
    expect(mock.inputs('startScheduledPush')).toHaveLength(1);
    expect(mock.inputs('recordScheduleRunFailure')).toEqual([
      {
        appId: TEST_APP_ID,
        scheduleId: 'sched-1',
        error: 'quota_exceeded: The daily quota of 1 pushes is used up',
      },
    ]);
  });

  it("the app's minimum interval is waited out: the run retries after the time it names and makes its push", async () => {
    let attempts = 0;
    const mock = mockActivities({
      startScheduledPush: async ({ runId }) => {
        attempts++;
        if (attempts === 1)
          throw ApplicationFailure.create({
            type: 'too_frequent',
            message: 'too soon',
            nextRetryDelay: '1 second',
          });
        return { pushId: 'p', pushWorkflowId: runId };
      },
    });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await t.env.client.workflow.start(scheduledPushWorkflow, {
        taskQueue,
        workflowId: `sched-test-${randomUUID()}-2030-01-01T00:00:00Z`,
        args: [{ appId: TEST_APP_ID, scheduleId: 'sched-2' }],
      });
      expect((await handle.result()).pushId).toBe('p');
    });
    expect(attempts).toBe(2);
    expect(mock.inputs('recordScheduleRunFailure')).toHaveLength(0);
  });
});
