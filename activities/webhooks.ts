import { ApplicationFailure, Context } from '@temporalio/activity';
import { postWebhook } from '../delivery/webhook-http.ts';
import {
  batchAcknowledged,
  batchFailed,
  disableEndpoint,
  type EndpointRef,
  prepareBatch,
} from '../pushes/webhook-delivery.ts';
import type { ActivityDeps } from './deps.ts';

/** The webhook workflow's steps (pushes/webhook-delivery.ts has the rules). */
export function webhookActivities({ database, log, webhooks }: ActivityDeps) {
  const { db } = database;
  return {
    /**
     * Sends the endpoint's next batch (the same one as the failed attempt before it, if any): `sent` after a
     * 2xx, which moved the cursor past it; `idle` when there is nothing to send; `stopped` when the endpoint is
     * gone or disabled. Anything but a 2xx fails the attempt: the workflow's retry policy backs off.
     */
    async deliverWebhookBatch(
      ref: EndpointRef & { notBefore?: number },
    ): Promise<
      | { state: 'sent'; count: number; sentAt: number }
      | { state: 'idle'; behindHorizon: boolean }
      | { state: 'stopped' }
    > {
      // Heartbeats throughout: a dead worker's attempt is retried in seconds, not at its timeout.
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 1000);
      try {
        const next = await prepareBatch(db, { appId: ref.appId, endpointId: ref.endpointId });
        if (next.state !== 'ready') return next;
        const { prepared } = next;
        // At most one request a second per endpoint, counted from the previous request's start.
        const wait = (ref.notBefore ?? 0) - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const sentAt = Date.now();
        const answer = await postWebhook({
          url: prepared.url,
          secret: prepared.secret,
          id: prepared.messageId,
          body: prepared.body,
          allowPrivate: webhooks?.allowPrivate ?? false,
        });
        if (!answer.ok) {
          await batchFailed(db, { appId: ref.appId, endpointId: ref.endpointId }, answer.reason);
          log.debug({ endpointId: ref.endpointId, reason: answer.reason }, 'webhook batch failed');
          throw ApplicationFailure.retryable(`webhook endpoint answered: ${answer.reason}`, 'webhook_failed');
        }
        await batchAcknowledged(db, { appId: ref.appId, endpointId: ref.endpointId }, prepared.batch);
        return { state: 'sent', count: prepared.count, sentAt };
      } finally {
        clearInterval(beat);
      }
    },

    /** The retry window passed without a 2xx: the endpoint is disabled, with why. */
    async disableWebhookEndpoint(ref: EndpointRef & { giveUpSeconds: number }): Promise<void> {
      await disableEndpoint(db, ref, ref.giveUpSeconds);
      log.warn({ appId: ref.appId, endpointId: ref.endpointId }, 'webhook endpoint disabled');
    },
  };
}
