import { ApplicationFailure } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type WebhookWorkflowInput,
  wakeWebhookSignal,
  webhookEndpointWorkflow,
} from '../../workflows/webhook.ts';
import { eventually, mockActivities, openWorkflowEnv, TEST_APP_ID, type WorkflowTestEnv } from './env.ts';

// The endpoint workflow against mocked activities: pacing, waking, and giving up after the retry window — the
// real 3 days under Temporal's time-skipping test server (TEMPORAL_TEST_SERVER), seconds on the dev server.
let t: WorkflowTestEnv;
beforeAll(async () => {
  t = await openWorkflowEnv();
});
afterAll(async () => {
  await t?.teardown();
});

const start = (taskQueue: string, input: Partial<WebhookWorkflowInput> = {}) =>
  t.env.client.workflow.start(webhookEndpointWorkflow, {
    taskQueue,
    workflowId: `wf-webhook-${Math.random().toString(36).slice(2)}`,
    args: [{ appId: TEST_APP_ID, endpointId: 'e1', giveUpSeconds: 259_200, ...input }],
  });

describe('webhook endpoint workflow', () => {
  it('sends batch after batch, each a second after the one before, then waits to be woken', async () => {
    const notBefore: number[] = [];
    const sentAt: number[] = [];
    let n = 0;
    const mock = mockActivities({
      deliverWebhookBatch: async (ref) => {
        notBefore.push(ref.notBefore ?? 0);
        n++;
        sentAt.push(Date.now());
        if (n <= 3) return { state: 'sent', count: 1000, sentAt: sentAt.at(-1) ?? 0 };
        if (n === 4) return { state: 'idle', behindHorizon: false };
        return { state: 'stopped' };
      },
    });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await start(taskQueue);
      await eventually(
        () => n,
        (x) => x === 4,
        'the idle answer',
      );
      await handle.signal(wakeWebhookSignal);
      expect(await handle.result()).toBe('stopped');
    });
    // Each request may go out no sooner than a second after the one before.
    for (let i = 1; i < 4; i++) expect(notBefore[i]).toBe((sentAt[i - 1] ?? 0) + 1000);
    expect(mock.inputs('disableWebhookEndpoint')).toEqual([]);
  });

  it('a batch that never gets a 2xx is retried with backoff until the window ends; then the endpoint is disabled', async () => {
    // Three days where time skips; a few seconds on the dev server.
    const giveUpSeconds = t.timeSkipping ? 259_200 : 6;
    let attempts = 0;
    const mock = mockActivities({
      deliverWebhookBatch: async () => {
        attempts++;
        throw ApplicationFailure.retryable('webhook endpoint answered: HTTP 500', 'webhook_failed');
      },
    });
    await t.withWorker(mock.activities, async (taskQueue) => {
      const handle = await start(taskQueue, { giveUpSeconds });
      expect(await handle.result()).toBe('disabled');
    });
    expect(mock.inputs('disableWebhookEndpoint')).toEqual([
      { appId: TEST_APP_ID, endpointId: 'e1', giveUpSeconds },
    ]);
    // Backoff doubling from 1 s: a handful of attempts in seconds, capped at one an hour over three days.
    expect(attempts).toBeGreaterThanOrEqual(3);
    if (t.timeSkipping) expect(attempts).toBeLessThan(100);
  }, 60_000);
});
