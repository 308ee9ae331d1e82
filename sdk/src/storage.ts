/**
 * Where the client keeps what must outlive a connection (and, with a persistent storage, a page reload or an
 * app restart): the ids it has delivered (so a re-offered message is not emitted twice) and the acks not yet
 * sent. The shape is the common part of `localStorage` and React Native's AsyncStorage, so either can be passed
 * as it is; methods may answer synchronously or with a promise.
 */
export interface HeraldStorage {
  getItem(key: string): string | null | Promise<string | null>;
  setItem(key: string, value: string): void | Promise<void>;
}

/** The default: a Map, kept as long as the client object lives. */
export function memoryStorage(): HeraldStorage {
  const m = new Map<string, string>();
  return {
    getItem: (k) => m.get(k) ?? null,
    setItem: (k, v) => {
      m.set(k, v);
    },
  };
}

/** What is stored per app and account, as JSON. */
export interface StoredState {
  v: 1;
  /** [message id, forget at (ms since epoch), acked by the app (0/1)]. */
  delivered: [string, number, 0 | 1][];
  pendingAcks: string[];
}

export function parseStored(text: string | null | undefined): StoredState | undefined {
  if (!text) return undefined;
  try {
    const s = JSON.parse(text) as Partial<StoredState>;
    if (s.v !== 1 || !Array.isArray(s.delivered) || !Array.isArray(s.pendingAcks)) return undefined;
    return s as StoredState;
  } catch {
    return undefined;
  }
}
