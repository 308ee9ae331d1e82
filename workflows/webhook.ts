import {
  ActivityFailure,
  condition,
  continueAsNew,
  defineSignal,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { PushActivities } from '../activities/index.ts';

export interface WebhookWorkflowInput {
  appId: string;
  endpointId: string;
  /** How long one batch is retried without a 2xx before the endpoint is disabled (3 days by default). */
  giveUpSeconds: number;
  /** Carried over continue-as-new: when the last request went out (epoch ms). */
  lastSentAt?: number | undefined;
}

/** New events for the endpoint were committed (or it changed): look again now. */
export const wakeWebhookSignal = defineSignal('wake');

/** At most one request per second per endpoint. */
export const WEBHOOK_MIN_INTERVAL_MS = 1000;
/** Events committed but behind an older transaction still running: look again this soon. */
const HORIZON_RETRY_MS = 500;
/** With nothing to send and no wake signal, look again anyway this often. */
const IDLE_POLL_MS = 60_000;

const quick = proxyActivities<PushActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/**
 * One webhook endpoint's delivery, for as long as the endpoint exists and is enabled: send the next batch of
 * its events (docs/webhooks.md), one request at a time, in outbox order, at most one per second; retry a
 * failing batch with exponential backoff (the activity's retry policy: 1 s doubling to 1 h) until
 * `giveUpSeconds` have passed, then disable the endpoint. Its state (cursor, batch in flight) is in the
 * endpoint's row, so the workflow may be restarted at any time; the history holds only batch sizes.
 */
export async function webhookEndpointWorkflow(input: WebhookWorkflowInput): Promise<'disabled' | 'stopped'> {
  const { appId, endpointId } = input;
  let woken = false;
  setHandler(wakeWebhookSignal, () => {
    woken = true;
  });
  const send = proxyActivities<PushActivities>({
    startToCloseTimeout: '1 minute',
    heartbeatTimeout: '5 seconds',
    scheduleToCloseTimeout: input.giveUpSeconds * 1000,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 hour' },
  });
  // When the previous request went out: the activity sends the next one no sooner than a second later (it
  // waits itself, after preparing the batch, so the pace holds at the receiver).
  let lastSentAt = input.lastSentAt ?? 0;
  for (;;) {
    if (workflowInfo().continueAsNewSuggested)
      await continueAsNew<typeof webhookEndpointWorkflow>({ ...input, lastSentAt });
    woken = false;
    let result: Awaited<ReturnType<PushActivities['deliverWebhookBatch']>>;
    try {
      result = await send.deliverWebhookBatch({
        appId,
        endpointId,
        notBefore: lastSentAt + WEBHOOK_MIN_INTERVAL_MS,
      });
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      await quick.disableWebhookEndpoint({ appId, endpointId, giveUpSeconds: input.giveUpSeconds });
      return 'disabled';
    }
    if (result.state === 'stopped') return 'stopped';
    if (result.state === 'sent') {
      lastSentAt = result.sentAt;
      continue;
    }
    await condition(() => woken, result.behindHorizon ? HORIZON_RETRY_MS : IDLE_POLL_MS);
  }
}
