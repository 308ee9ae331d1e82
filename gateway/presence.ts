import type { Logger } from '../core/log.ts';
import { pgErrorCode, SQLSTATE } from '../db/errors.ts';
import type { Connection, PresenceHooks } from './connection.ts';
import type { GatewayStore } from './store.ts';

export interface PresenceDeps {
  store: GatewayStore;
  log: Logger;
  /** Gateways silent this long are deleted, presence and all (every sixth heartbeat reaps them). */
  reapAfterSeconds: number;
  /** True once the gateway stops: presence is then left to `unregister`, which drops it all. */
  isStopping: () => boolean;
}

/** The sockets on this process and the rows that say so, for fan-out here and for offline pages everywhere. */
export interface Presence extends PresenceHooks {
  /** The sockets of one app here, per account id. */
  sockets(appId: string): ReadonlyMap<string, ReadonlySet<Connection>> | undefined;
  /** The apps with sockets here, at this moment. */
  appIds(): string[];
  accountCount(): number;
  /** The gateway row's heartbeat: rewrites presence if the row was reaped, reaps dead gateways now and then. */
  beat(): Promise<void>;
  /** Presence writes still running, for stop to wait on. */
  pending(): Promise<void>[];
}

export function createPresence(deps: PresenceDeps): Presence {
  const { store, log, isStopping } = deps;
  /** app id → account id → its sockets on this process. */
  const registry = new Map<string, Map<string, Set<Connection>>>();
  /** Presence writes of one account run one after another and write the local count at that moment. */
  const chains = new Map<string, Promise<void>>();
  let beats = 0;

  const key = (appId: string, accountId: string) => `${appId}\u0000${accountId}`;
  const localCount = (appId: string, accountId: string) => registry.get(appId)?.get(accountId)?.size ?? 0;

  async function ensureGatewayRow(): Promise<void> {
    const { inserted } = await store.heartbeat();
    if (inserted && beats > 0) {
      log.warn('gateway row was missing (reaped after a stall?); rewriting presence');
      await rewriteAll();
    }
  }

  async function writeNow(appId: string, accountId: string): Promise<void> {
    const n = localCount(appId, accountId);
    try {
      await store.setPresence(appId, accountId, n);
    } catch (err) {
      // The gateway row vanished (another gateway reaped it after a long stall): register again, retry.
      if (pgErrorCode(err) !== SQLSTATE.foreignKeyViolation || isStopping()) throw err;
      await ensureGatewayRow();
      await store.setPresence(appId, accountId, localCount(appId, accountId));
    }
  }

  function write(appId: string, accountId: string): Promise<void> {
    const k = key(appId, accountId);
    const prev = chains.get(k) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(() => (isStopping() ? undefined : writeNow(appId, accountId)));
    chains.set(k, next);
    next
      .finally(() => {
        if (chains.get(k) === next) chains.delete(k);
      })
      .catch(() => {});
    return next;
  }

  async function rewriteAll(): Promise<void> {
    const rows: { appId: string; accountId: string; connections: number }[] = [];
    for (const [appId, accounts] of registry)
      for (const [accountId, set] of accounts) rows.push({ appId, accountId, connections: set.size });
    await store.rewritePresence(rows);
    // Anything that changed while the statement ran is written again through its own chain.
    for (const r of rows)
      if (localCount(r.appId, r.accountId) !== r.connections) void write(r.appId, r.accountId);
  }

  return {
    add(conn) {
      let accounts = registry.get(conn.appId);
      if (!accounts) {
        accounts = new Map();
        registry.set(conn.appId, accounts);
      }
      let set = accounts.get(conn.accountId);
      if (!set) {
        set = new Set();
        accounts.set(conn.accountId, set);
      }
      set.add(conn);
    },

    // A dropped slow consumer no longer counts as present, even before its socket is gone.
    release(conn) {
      const accounts = registry.get(conn.appId);
      const set = accounts?.get(conn.accountId);
      if (!set?.delete(conn)) return;
      if (!set.size) accounts?.delete(conn.accountId);
      if (accounts && !accounts.size) registry.delete(conn.appId);
      if (!isStopping())
        write(conn.appId, conn.accountId).catch((err) =>
          log.warn({ err, accountId: conn.accountId }, 'presence update failed'),
        );
    },

    write,
    count: localCount,
    sockets: (appId) => registry.get(appId),
    appIds: () => [...registry.keys()],

    accountCount() {
      let n = 0;
      for (const m of registry.values()) n += m.size;
      return n;
    },

    async beat() {
      beats++;
      await ensureGatewayRow();
      if (beats % 6 === 0) await store.reapDeadGateways(deps.reapAfterSeconds);
    },

    pending: () => [...chains.values()],
  };
}
