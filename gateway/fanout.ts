import type { Logger } from '../core/log.ts';
import { fanoutSeconds, secondsSince } from '../core/metrics.ts';
import type { BusEvent } from '../delivery/bus.ts';
import type { LiveDelivery } from '../pushes/recipients.ts';
import { forgetAtOf } from './connection.ts';
import type { Presence } from './presence.ts';
import { CloseCode, frame, messageFrame } from './protocol.ts';
import type { GatewayStore } from './store.ts';

export interface FanoutDeps {
  store: GatewayStore;
  log: Logger;
  /** The sockets here, per app and account. */
  local: Pick<Presence, 'sockets' | 'appIds'>;
  /** Connected accounts per live-delivery read. */
  liveChunk: number;
  /** How far back a catch-up after a lost bus subscription replays pushes. */
  catchUpSeconds: number;
  isStopping: () => boolean;
  /** Adds a promise to those the gateway waits for when it stops. */
  track: <T>(p: Promise<T>) => Promise<T>;
}

export interface Fanout {
  /** A bus notification: a push to deliver live, or a recall to announce. */
  onEvent(event: BusEvent): void;
  /** After the bus re-subscribed: the recent pushes of every app with sockets here, again. */
  catchUp(): Promise<void>;
}

/** The frame of each language variant of a push, each serialized once, when first needed. */
function variantFrames(row: LiveDelivery): (variant: number) => string {
  const frames = new Map<number, string>();
  return (variant) => {
    let data = frames.get(variant);
    if (data === undefined) {
      const v = variant > 0 ? row.localized?.[variant - 1] : undefined;
      const chosen = v ? { language: v.language, elements: v.elements } : null;
      data = frame({ ...messageFrame({ ...row, variant: chosen }) });
      frames.set(variant, data);
    }
    return data;
  };
}

/** Bus events → frames on the sockets of this process. */
export function createFanout(deps: FanoutDeps): Fanout {
  const { store, log, local, liveChunk, track } = deps;

  /**
   * `retry`: only the copies a live send still owes (after the offline pages), for sockets that lack them.
   * `wave`: a local-time push's wave, whose recipients alone are sent it now.
   */
  async function onPush(appId: string, pushId: string, retry = false, wave?: number): Promise<void> {
    const accounts = local.sockets(appId);
    if (!accounts?.size) return;
    const started = performance.now();
    const ids = [...accounts.keys()];
    const chunk = (i: number) =>
      store.liveRecipients(appId, pushId, ids.slice(i, i + liveChunk), retry, wave);
    // Small chunks, each chunk's read running while the previous chunk's frames are written, and the rows
    // marked only after their frames went out: the first sockets get the push after one short read instead
    // of after one statement that reads and updates the rows of every account connected here.
    // Marks run one after another, behind the reads, so they never take the pool from the next chunk's read.
    let marked: Promise<unknown> = Promise.resolve();
    let next: ReturnType<typeof chunk> | undefined = chunk(0);
    for (let i = 0; next; i += liveChunk) {
      const row = await next;
      next = i + liveChunk < ids.length ? chunk(i + liveChunk) : undefined;
      if (!row || row.recalled_at) {
        await next?.catch(() => undefined);
        break;
      }
      if (!row.accounts?.length) continue;
      const frameOf = variantFrames(row);
      const forgetAt = forgetAtOf(row);
      const here = local.sockets(appId);
      // Only accounts with a socket that has the frame now are marked: a socket that closed meanwhile (or was
      // dropped as slow) leaves the copy undelivered for the live-send fallback.
      const delivered: string[] = [];
      row.accounts.forEach((accountId, i) => {
        const data = frameOf(row.variants?.[i] ?? 0);
        let has = false;
        for (const conn of here?.get(accountId) ?? []) if (conn.deliver(pushId, data, forgetAt)) has = true;
        if (has) delivered.push(accountId);
      });
      if (!delivered.length) continue;
      marked = marked.then(() =>
        store
          .markDeliveredOnline(appId, pushId, delivered, wave)
          // Unmarked copies stay pending: the sockets have the push, and sync would offer it again.
          .catch((err) => log.error({ err, pushId }, 'marking live deliveries failed')),
      );
    }
    await marked;
    fanoutSeconds.observe(secondsSince(started));
  }

  function onRecall(appId: string, pushId: string): void {
    // The recipient set is gone with the recall, so every socket of the app hears it; clients that never
    // had the message ignore it.
    const data = frame({ type: 'recall', id: pushId, pushId });
    for (const set of local.sockets(appId)?.values() ?? []) for (const conn of set) conn.sendLive(data);
  }

  return {
    onEvent(event) {
      if (deps.isStopping()) return;
      if (event.type === 'recall') {
        onRecall(event.appId, event.pushId);
        return;
      }
      if (event.type === 'kick') {
        for (const conn of [...(local.sockets(event.appId)?.get(event.accountId) ?? [])])
          conn.close(CloseCode.unauthorized, 'token_revoked: the account was kicked; get a new token');
        return;
      }
      if (event.type === 'push')
        track(onPush(event.appId, event.pushId, event.retry === true, event.wave)).catch((err) =>
          log.error({ err, pushId: event.pushId }, 'live delivery failed'),
        );
    },

    /**
     * Notifications published while the bus was away are lost; replaying the recent pushes of every app with
     * sockets here is safe because live delivery only sends copies not yet acked and a socket never gets the
     * same push twice.
     */
    async catchUp() {
      log.warn('bus subscription restored: replaying recent pushes');
      for (const appId of local.appIds()) {
        for (const pushId of await store.recentPushIds(appId, deps.catchUpSeconds))
          await onPush(appId, pushId);
      }
    },
  };
}
