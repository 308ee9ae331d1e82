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
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { PushActivities } from '../activities/index.ts';
import type { PageRangePlan } from '../activities/offline.ts';
import type { WavePlan } from '../pushes/waves.ts';
import { HeraldStatus, type HeraldStatusValue } from './search-attributes.ts';

export interface PushWorkflowInput {
  appId: string;
  pushId: string;
  /** ISO time to wait for; absent = now. */
  sendAt?: string | undefined;
  retentionSeconds: number;
  /** Local-time delivery or a send window: the push goes out in waves (pushes/waves.ts). */
  waves?: boolean | undefined;
  /**
   * Where a continued run picks up; `awaitingLive`: rows the pages so far left to the live send. `wave`: the
   * wave of a local-time push it is in (phase ranges or offline: its pages; phase waves: the wave to wait for
   * next). Phase ranges: the page ranges' plan, the first row of the next range to start and the ranges started
   * and not finished, with their cursors. Phase offline: a push snapshotted before row numbers (or a run
   * continued by the code before page ranges), paged by account_seq from `cursor`.
   */
  resume?: PagesResume | { phase: 'waves'; wave: number } | undefined;
}

/** A range of numbered rows whose pages have started: its first row and the last row claimed. */
export interface OpenRange {
  first: number;
  cursor: number;
}

/** Where a continued run's offline pages pick up: never a recipient, only rows numbers and cursors. */
export type PagesResume =
  | { phase: 'offline'; cursor: number; awaitingLive?: number; wave?: number }
  | {
      phase: 'ranges';
      plan: PageRangePlan;
      next: number;
      open: OpenRange[];
      awaitingLive: number;
      wave?: number;
    };

/** The change to page ranges: a run that paged by account_seq before it keeps doing so when replayed. */
export const PAGE_RANGES_PATCH = 'page-ranges';

/** How long a push with retention 0 keeps its recipient rows after it completes. */
export const RECIPIENTS_GRACE_MS = 60_000;

/**
 * After the offline pages, when rows are still owed a live send: how long the gateways' fan-outs (and the
 * retry sent to them) get to deliver before the live-send fallback notifies what is left. A timer in history.
 */
export const LIVE_SETTLE_MS = 5_000;

/** A local-time push: how many waves' offline pages run at once (each its own activity and cursor). */
export const MAX_WAVES_PAGING = 3;

export type PushPhase = 'waiting' | 'snapshot' | 'online' | 'offline' | 'retained' | 'done';

/** The wave a local-time push is in, and how many it has (for the Temporal UI and tests). */
export const pushWaveQuery = defineQuery<{ wave: number; of: number } | null>('wave');

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
  let phase: PushPhase =
    input.resume?.phase === 'offline' || input.resume?.phase === 'ranges' ? 'offline' : 'waiting';
  let currentWave: { wave: number; of: number } | null = null;
  let cancelRequested = false;
  let recallRequested = false;
  /** The activities a stop must cancel (a local-time push pages several waves at once). */
  const scopes = new Set<CancellationScope>();
  const cancelScopes = () => {
    for (const scope of scopes) scope.cancel();
  };

  setHandler(pushPhaseQuery, () => phase);
  setHandler(pushWaveQuery, () => currentWave);
  const requestCancel = () => {
    const accepted = phase !== 'done' && phase !== 'retained';
    if (accepted) {
      cancelRequested = true;
      cancelScopes();
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
      cancelScopes();
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

  if (phase === 'waiting' && input.resume === undefined) {
    if (input.sendAt) {
      const wait = Date.parse(input.sendAt) - Date.now();
      if (wait > 0) await condition(stopped, wait);
    }
    if (stopped()) return finishStopped();
    if (!input.waves) {
      phase = 'snapshot';
      setStatus('running');
    }
  }

  /** Runs the snapshot where cancel and recall reach it; answers why it can never succeed, if so. */
  const takeSnapshot = async (
    run: () => Promise<unknown> = () => snapshot.snapshotAudience({ appId, pushId }),
  ): Promise<string | undefined> => {
    try {
      const scope = new CancellationScope();
      scopes.add(scope);
      try {
        await scope.run(run);
      } finally {
        scopes.delete(scope);
      }
    } catch (err) {
      if (isCancellation(err) && stopped()) return undefined;
      if (!(err instanceof ActivityFailure)) throw err;
      const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
      const why = err.cause?.message ?? err.message;
      return cause?.nonRetryable
        ? `snapshot failed: ${why}`
        : `snapshot failed after ${SNAPSHOT_ATTEMPTS} attempts: ${why}`;
    }
    return undefined;
  };

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
    const scope = new CancellationScope();
    scopes.add(scope);
    try {
      return await scope.run(run);
    } catch (err) {
      if (!(isCancellation(err) && stopped())) throw err;
      return undefined;
    } finally {
      scopes.delete(scope);
    }
  };

  /** Waves whose pages are running now (a local-time push overlaps a wave's pages with the next snapshots). */
  const paging = new Set<Promise<void>>();
  /** Page ranges running now, over every wave, and how many may: the plan's parallelism. */
  const ranges = { running: 0, limit: 1 };

  /**
   * The offline pages (of one wave of a local-time push, or of the whole push), then the live-send fallback for
   * the rows they left to the live send. `from`: where a continued run picks up; undefined: from the start.
   */
  const deliverPages = async (
    from: PagesResume | undefined,
    wave?: { wave: number; label: string },
  ): Promise<void> => {
    const w = wave?.wave;
    const ofWave = w === undefined ? {} : { wave: w };
    let awaitingLive: number;
    if (from?.phase === 'offline')
      awaitingLive = await keysetPages(from.cursor, from.awaitingLive ?? 0, wave);
    else {
      // The rows' numbers and how many ranges at once, once per push (or wave): in history, so replays agree.
      const plan =
        from?.plan ??
        (patched(PAGE_RANGES_PATCH) ? await quick.planPageRanges({ appId, pushId, ...ofWave }) : undefined);
      awaitingLive = plan
        ? await rangePages(plan, from ?? { next: plan.first, open: [], awaitingLive: 0 }, wave)
        : await keysetPages(0, 0, wave);
    }
    // The live-send fallback: pages skipped the recipients connected at their claim (awaitingLive); those a
    // live send still owes once the fan-outs settled get what an offline recipient gets, at most once.
    if (awaitingLive > 0 && !stopped()) {
      const ref = { appId, pushId, ...ofWave };
      const owed = await quick.retryLiveDelivery(ref);
      if (owed.awaitingLive > 0) {
        await condition(stopped, LIVE_SETTLE_MS);
        if (!stopped()) await stoppable(() => pages.deliverLiveFallbacks(ref));
      }
    }
  };

  /** The activity options of a wave's activities: labelled with the wave in the Temporal UI. */
  const labelled = (wave?: { label: string }) => (wave ? { summary: wave.label } : {});

  /**
   * The pages of numbered rows, in ranges of `plan.rangeRows` rows: up to `plan.parallelism` ranges at once
   * (over every wave paging), each an activity on any worker, a range's next activity resuming at its cursor.
   * Continues-as-new when Temporal suggests it: the ranges in flight hand back their cursors first, and the
   * new run gets only the plan, the next range and the open ranges' cursors. Answers the rows left to the live
   * send.
   */
  const rangePages = async (
    plan: PageRangePlan,
    from: { next: number; open: OpenRange[]; awaitingLive: number },
    wave?: { wave: number; label: string },
  ): Promise<number> => {
    const ofWave = wave === undefined ? {} : { wave: wave.wave };
    let { next, awaitingLive } = from;
    const open = new Map(from.open.map((r) => [r.first, r.cursor]));
    const running = new Map<number, Promise<void>>();
    ranges.limit = plan.parallelism;
    const runRange = async (first: number): Promise<void> => {
      const range = { first, last: Math.min(first + plan.rangeRows - 1, plan.last) };
      const args = { appId, pushId, cursor: open.get(first) ?? first - 1, range, ...ofWave };
      const page = await stoppable(() =>
        pages.deliverOfflinePages.executeWithOptions(labelled(wave), [args]),
      );
      if (!page) return;
      awaitingLive += page.awaitingLive;
      if (page.done) open.delete(first);
      else open.set(first, page.cursor);
    };
    /** A started range not running now (its last activity handed back), else the next range, if any. */
    const pick = (): number | undefined => {
      for (const first of open.keys()) if (!running.has(first)) return first;
      return next <= plan.last ? next : undefined;
    };
    while (!stopped()) {
      // A run carries one wave's ranges: it continues as new only while no other wave pages beside this one.
      if (workflowInfo().continueAsNewSuggested && paging.size <= 1) {
        await Promise.all(running.values());
        if (stopped()) break;
        const openRanges = [...open].map(([first, cursor]) => ({ first, cursor }));
        await continueAsNew<typeof pushWorkflow>({
          ...input,
          resume: { phase: 'ranges', plan, next, open: openRanges, awaitingLive, ...ofWave },
        });
      }
      const first = pick();
      if (first === undefined && running.size === 0) break;
      if (first === undefined || ranges.running >= ranges.limit) {
        if (running.size) await Promise.race(running.values());
        else await condition(() => stopped() || ranges.running < ranges.limit);
        continue;
      }
      if (first === next) {
        open.set(first, first - 1);
        next += plan.rangeRows;
      }
      ranges.running++;
      const run: Promise<void> = runRange(first).finally(() => {
        ranges.running--;
        running.delete(first);
      });
      running.set(first, run);
    }
    await Promise.all(running.values());
    return awaitingLive;
  };

  /**
   * A push (or wave) snapshotted before row numbers: one page activity at a time by account_seq from `cursor`,
   * continuing as new with only the cursor. Answers the rows left to the live send.
   */
  const keysetPages = async (
    from: number,
    awaitingFrom: number,
    wave?: { wave: number; label: string },
  ): Promise<number> => {
    const w = wave?.wave;
    let cursor = from;
    let awaitingLive = awaitingFrom;
    while (!stopped()) {
      if (workflowInfo().continueAsNewSuggested && paging.size <= 1) {
        await continueAsNew<typeof pushWorkflow>({
          ...input,
          resume: { phase: 'offline', cursor, awaitingLive, ...(w === undefined ? {} : { wave: w }) },
        });
      }
      const args = { appId, pushId, cursor, ...(w === undefined ? {} : { wave: w }) };
      const page = await stoppable(() =>
        wave
          ? pages.deliverOfflinePages.executeWithOptions(labelled(wave), [args])
          : pages.deliverOfflinePages(args),
      );
      if (!page) break;
      cursor = page.cursor;
      awaitingLive += page.awaitingLive ?? 0;
      if (page.done) break;
    }
    return awaitingLive;
  };

  if (input.waves) return runWaves();

  if (phase === 'offline') {
    const resume = input.resume?.phase === 'waves' ? undefined : input.resume;
    await deliverPages(resume);
    if (stopped()) return finishStopped();
    const { expiresAt } = await quick.completePush({ appId, pushId });
    setStatus('completed');
    return waitOutRetention(expiresAt);
  }

  /**
   * Local-time delivery and send windows: the plan (one wave per UTC offset of the audience's zones, made once),
   * then per wave a timer to its time, its snapshot, its online fan-out and its offline pages, each labelled
   * with the wave in the Temporal UI. Waves whose local time had passed are skipped or sent at once, as planned.
   */
  async function runWaves(): Promise<PushPhase> {
    /** A stop: the pages in flight end (their activities are canceled) before the push is marked. */
    const stopWaves = async () => {
      await Promise.all(paging);
      return finishStopped();
    };
    let plan: WavePlan[];
    try {
      plan = await quick.planWaves({ appId, pushId });
    } catch (err) {
      if (
        !(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable)
      )
        throw err;
      await quick.markPushFailed({ appId, pushId, reason: `planning waves failed: ${err.cause.message}` });
      setStatus('failed');
      phase = 'done';
      return phase;
    }
    const due = plan.filter((w) => !w.skipped);
    const resume = input.resume;
    const first = resume?.wave ?? 0;
    let sentAny = due.some((w) => w.wave < first);
    for (const [i, w] of due.entries()) {
      if (w.wave < first) continue;
      currentWave = { wave: i + 1, of: due.length };
      const label = `wave ${i + 1} of ${due.length} · UTC${w.offset} · ${w.planned} planned`;
      const resumingPages = resume?.phase !== 'waves' && resume?.wave === w.wave ? resume : undefined;
      if (!resumingPages) {
        if (w.wave > first && paging.size === 0 && workflowInfo().continueAsNewSuggested) {
          await continueAsNew<typeof pushWorkflow>({ ...input, resume: { phase: 'waves', wave: w.wave } });
        }
        phase = 'waiting';
        const wait = Date.parse(w.at) - Date.now();
        if (wait > 0 && !stopped()) await condition(stopped, wait, { summary: `${label} · at ${w.at}` });
        if (stopped()) return stopWaves();
        phase = 'snapshot';
        if (!sentAny) setStatus('running');
        const args = { appId, pushId, wave: w.wave };
        const failure = await takeSnapshot(() =>
          snapshot.snapshotWave.executeWithOptions({ summary: label }, [args]),
        );
        if (stopped()) return stopWaves();
        if (failure !== undefined) {
          await Promise.all(paging);
          await quick.markPushFailed({ appId, pushId, reason: `wave ${i + 1} (UTC${w.offset}): ${failure}` });
          setStatus('failed');
          if (!sentAny) {
            phase = 'done';
            return phase;
          }
          // The waves already sent keep their copies until retention ends.
          const { expiresAt } = await quick.completePush({ appId, pushId });
          return waitOutRetention(expiresAt);
        }
        sentAny = true;
        phase = 'online';
        await quick.publishToGateways.executeWithOptions({ summary: label }, [args]);
        phase = 'offline';
      }
      // This wave's pages run while the next waves are waited for and snapshotted (each wave has its own
      // ranges), at most MAX_WAVES_PAGING at once: waves due together do not queue behind each other's sends.
      const pages: Promise<void> = deliverPages(resumingPages, { wave: w.wave, label }).finally(() =>
        paging.delete(pages),
      );
      paging.add(pages);
      if (paging.size >= MAX_WAVES_PAGING) await Promise.race(paging);
      if (stopped()) return stopWaves();
    }
    await Promise.all(paging);
    if (stopped()) return finishStopped();
    currentWave = null;
    const { expiresAt } = await quick.completePush({ appId, pushId });
    setStatus('completed');
    return waitOutRetention(expiresAt);
  }

  throw ApplicationFailure.nonRetryable(`push workflow cannot resume in phase ${phase}`);
}
