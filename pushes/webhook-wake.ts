/**
 * Wakes endpoint workflows when their app's events commit. A trigger on the outbox NOTIFYs `herald_webhooks`
 * with the app id once per writing transaction, on commit (so a workflow never looks before the rows exist);
 * every worker LISTENs and signals-with-start the app's enabled, healthy endpoints, at most once a second per
 * app. Why not a signal from each writer: the gateway writes events too, has no Temporal client, and would send
 * one signal per chunk of sockets. Why not polling: an idle endpoint would cost an activity a second forever.
 * The workflow still looks every minute on its own, so a lost notification delays, never loses, an event.
 * A failing endpoint is not signaled: it is retrying a batch, and the signals would only grow its history.
 */
import type { Client } from '@temporalio/client';
import { WorkflowIdConflictPolicy } from '@temporalio/client';
import type { Logger } from '../core/log.ts';
import type { Database } from '../db/client.ts';
import {
  type WebhookWorkflowInput,
  wakeWebhookSignal,
  webhookEndpointWorkflow,
} from '../workflows/webhook.ts';
import { webhookWorkflowId } from './webhook-delivery.ts';
import type { WebhookDeps } from './webhooks.ts';

export const WEBHOOK_CHANNEL = 'herald_webhooks';
const DEBOUNCE_MS = 1000;

export async function listenForWebhookEvents(deps: {
  database: Database;
  temporal: Client;
  config: WebhookDeps['config'];
  log: Logger;
}): Promise<() => Promise<void>> {
  const { database, temporal, config, log } = deps;
  const last = new Map<string, number>();
  const queued = new Set<string>();

  async function wake(appId: string): Promise<void> {
    last.set(appId, Date.now());
    const endpoints = await database.sql<{ id: string }[]>`
      select id from webhook_endpoints where app_id = ${appId} and status = 'enabled' and failing_since is null`;
    for (const { id } of endpoints) {
      const args: WebhookWorkflowInput = {
        appId,
        endpointId: id,
        giveUpSeconds: config.HERALD_WEBHOOK_GIVE_UP_SECONDS,
      };
      await temporal.workflow.signalWithStart(webhookEndpointWorkflow, {
        workflowId: webhookWorkflowId(appId, id),
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        args: [args],
        signal: wakeWebhookSignal,
        signalArgs: [],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        staticSummary: `Webhook endpoint ${id} · app ${appId}`,
      });
    }
  }

  function schedule(appId: string): void {
    if (queued.has(appId)) return;
    queued.add(appId);
    const wait = Math.max(0, (last.get(appId) ?? 0) + DEBOUNCE_MS - Date.now());
    setTimeout(() => {
      queued.delete(appId);
      wake(appId).catch((err) => log.warn({ err, appId }, 'waking webhook endpoints failed'));
    }, wait).unref();
    if (last.size > 10_000) last.clear();
  }

  const { unlisten } = await database.sql.listen(WEBHOOK_CHANNEL, (appId) => schedule(appId));
  return unlisten;
}
