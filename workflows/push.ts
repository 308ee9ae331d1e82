import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { PushActivities } from '../activities/index.ts';
import { HeraldStatus, type HeraldStatusValue } from './search-attributes.ts';

export interface PushWorkflowInput {
  appId: string;
  pushId: string;
  /** ISO time to wait for; absent = now. */
  sendAt?: string | undefined;
  retentionSeconds: number;
  /** Where a continued run picks up; `awaitingLive`: rows the pages so far left to the live send. */
  resume?: { phase: 'offline'; cursor: number; awaitingLive?: number } | undefined;
}

/** How long a push with retention 0 keeps its recipient rows after it completes. */
export const RECIPIENTS_GRACE_MS = 60_000;

/**
 * After the offline pages, when rows are still owed a live send: how long the gateways' fan-outs (and the
 * retry sent to them) get to deliver before the live-send fallback notifies what is left. A timer in history.
 */
export const LIVE_SETTLE_MS = 5_000;

export type PushPhase = 'waiting' | 'snapshot' | 'online' | 'offline' | 'retained' | 'done';

export const cancelPushUpdate = defineUpdate<{ accepted: boolean; phase: PushPhase }>('cancel');
export const recallPushUpdate = defineUpdate<{ accepted: boolean; phase: PushPhase }>('recall');
export const pushPhaseQuery = defineQuery<PushPhase>('phase');
/** The same as the cancel update, for workflows (a campaign) that cannot send updates. */
export const cancelPushSignal = defineSignal('cancelFromParent');

const quick = proxyActivities<PushActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});
/** Attempts at a snapshot that fails unexpectedly (about 7 minutes in all); after them the push is failed. */
export const SNAPSHOT_ATTEMPTS = 10;
/**
 * The snapshot heartbeats while its statement runs: a cancel reaches it within a second, and a dead worker's
 * attempt is retried after 30 s. A stop waits until the statement is canceled and rolled back.
 */
const snapshot = proxyActivities<PushActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: SNAPSHOT_ATTEMPTS },
});
/** Long pages heartbeat their cursor after every batch; a crashed worker's page resumes from it. */
const pages = proxyActivities<PushActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '10 seconds',
  // A stop waits until the page in flight has ended, so the counters the push ends with are final.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/**
 * Upserts HeraldStatus as the push moves. Only a run that started with it upserts (its start carried Herald's
 * search attributes, so they are registered on the namespace); others, and the runs started before it, do not.
 */
function setStatus(status: HeraldStatusValue): void {
  if (workflowInfo().typedSearchAttributes.get(HeraldStatus) === undefined) return;
  upsertSearchAttributes([{ key: HeraldStatus, value: status }]);
}

/**
 * One push: wait for send_at → snapshot the audience → tell the gateways → store copies and notify the
 * offline recipients page by page → final counters → keep the copies until retention ends, then expire.
 * The recipient list never enters this history: only cursors (account numbers) do.
 */
export async function pushWorkflow(input: PushWorkflowInput): Promise<PushPhase> {
  const { appId, pushId } = input;
  let phase: PushPhase = input.resume?.phase ?? 'waiting';
  let cancelRequested = false;
  let recallRequested = false;
  let deliveryScope: CancellationScope | undefined;

  setHandler(pushPhaseQuery, () => phase);
  const requestCancel = () => {
    const accepted = phase !== 'done' && phase !== 'retained';
    if (accepted) {
      cancelRequested = true;
      deliveryScope?.cancel();
    }
    return { accepted, phase };
  };
  setHandler(cancelPushUpdate, requestCancel);
  setHandler(cancelPushSignal, () => {
    requestCancel();
  });
  setHandler(recallPushUpdate, () => {
    const accepted = phase !== 'done';
    if (accepted) {
      recallRequested = true;
      deliveryScope?.cancel();
    }
    return { accepted, phase };
  });

  const stopped = () => cancelRequested || recallRequested;

  /** Recall withdraws everything; cancel stops sending but copies already stored wait out their retention. */
  const finishStopped = async (): Promise<PushPhase> => {
    setStatus('canceled');
    if (recallRequested) {
      await quick.recallPush({ appId, pushId });
      phase = 'done';
      return phase;
    }
    const { expiresAt, keepRecipientsUntil } = await quick.markPushCanceled({ appId, pushId });
    if (!expiresAt) {
      if (keepRecipientsUntil) await keepForFrequencyCap(keepRecipientsUntil);
      phase = 'done';
      return phase;
    }
    return waitOutRetention(expiresAt);
  };

  /**
   * The app's frequency cap still counts this push (its window has not passed): its recipient rows stay until
   * then (a timer in history), unless a recall withdraws the push first.
   */
  const keepForFrequencyCap = async (until: string): Promise<void> => {
    phase = 'retained';
    const wait = Date.parse(until) - Date.now();
    if (wait > 0) await condition(() => recallRequested, wait);
    if (recallRequested) await quick.recallPush({ appId, pushId });
    else await quick.dropRecipients({ appId, pushId });
  };

  const waitOutRetention = async (expiresAt: string): Promise<PushPhase> => {
    phase = 'retained';
    // A push that keeps nothing still keeps its recipient rows a minute, so a gateway whose bus dropped can
    // replay it to the sockets that missed it, and acks of it still count.
    const keepUntil = input.retentionSeconds > 0 ? Date.parse(expiresAt) : Date.now() + RECIPIENTS_GRACE_MS;
    const wait = keepUntil - Date.now();
    if (wait > 0) await condition(() => recallRequested, wait);
    if (recallRequested) await quick.recallPush({ appId, pushId });
    else {
      const { keepRecipientsUntil } = await quick.expirePush({ appId, pushId });
      if (keepRecipientsUntil) await keepForFrequencyCap(keepRecipientsUntil);
    }
    phase = 'done';
    return phase;
  };

  if (phase === 'waiting') {
    if (input.sendAt) {
      const wait = Date.parse(input.sendAt) - Date.now();
      if (wait > 0) await condition(stopped, wait);
    }
    if (stopped()) return finishStopped();
    phase = 'snapshot';
    setStatus('running');
  }

  /** Runs the snapshot where cancel and recall reach it; answers why it can never succeed, if so. */
  const takeSnapshot = async (): Promise<string | undefined> => {
    try {
      deliveryScope = new CancellationScope();
      await deliveryScope.run(() => snapshot.snapshotAudience({ appId, pushId }));
    } catch (err) {
      if (isCancellation(err) && stopped()) return undefined;
      if (!(err instanceof ActivityFailure)) throw err;
      const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
      const why = err.cause?.message ?? err.message;
      return cause?.nonRetryable
        ? `snapshot failed: ${why}`
        : `snapshot failed after ${SNAPSHOT_ATTEMPTS} attempts: ${why}`;
    } finally {
      deliveryScope = undefined;
    }
    return undefined;
  };

  let cursor = input.resume?.cursor ?? 0;
  if (phase === 'snapshot') {
    const failure = stopped() ? undefined : await takeSnapshot();
    if (stopped()) return finishStopped();
    if (failure !== undefined) {
      await quick.markPushFailed({ appId, pushId, reason: failure });
      setStatus('failed');
      phase = 'done';
      return phase;
    }
    phase = 'online';
    await quick.publishToGateways({ appId, pushId });
    phase = 'offline';
  }

  /** Runs one delivery activity where cancel and recall reach it; undefined when a stop canceled it. */
  const stoppable = async <T>(run: () => Promise<T>): Promise<T | undefined> => {
    try {
      deliveryScope = new CancellationScope();
      return await deliveryScope.run(run);
    } catch (err) {
      if (!(isCancellation(err) && stopped())) throw err;
      return undefined;
    } finally {
      deliveryScope = undefined;
    }
  };

  if (phase === 'offline') {
    let awaitingLive = input.resume?.awaitingLive ?? 0;
    while (!stopped()) {
      if (workflowInfo().continueAsNewSuggested) {
        await continueAsNew<typeof pushWorkflow>({
          ...input,
          resume: { phase: 'offline', cursor, awaitingLive },
        });
      }
      let page: { cursor: number; done: boolean; awaitingLive: number } | undefined;
      try {
        deliveryScope = new CancellationScope();
        page = await deliveryScope.run(() => pages.deliverOfflinePages({ appId, pushId, cursor }));
      } catch (err) {
        if (!(isCancellation(err) && stopped())) throw err;
      } finally {
        deliveryScope = undefined;
      }
      if (!page) break;
      cursor = page.cursor;
      awaitingLive += page.awaitingLive ?? 0;
      if (page.done) break;
    }
    // The live-send fallback: pages skipped the recipients connected at their claim (awaitingLive); those a
    // live send still owes once the fan-outs settled get what an offline recipient gets, at most once.
    if (awaitingLive > 0 && !stopped()) {
      const owed = await quick.retryLiveDelivery({ appId, pushId });
      if (owed.awaitingLive > 0) {
        await condition(stopped, LIVE_SETTLE_MS);
        if (!stopped()) await stoppable(() => pages.deliverLiveFallbacks({ appId, pushId }));
      }
    }
    if (stopped()) return finishStopped();
    const { expiresAt } = await quick.completePush({ appId, pushId });
    setStatus('completed');
    return waitOutRetention(expiresAt);
  }

  throw ApplicationFailure.nonRetryable(`push workflow cannot resume in phase ${phase}`);
}
