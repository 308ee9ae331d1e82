import type { WebSocket } from 'ws';
import type { GatewayOptions } from './options.ts';
import { frame, messageFrame, type PushForFrame } from './protocol.ts';
import type { GatewayStore } from './store.ts';

/** What the sync needs of a connection (gateway/connection.ts). */
export interface SyncTarget {
  readonly appId: string;
  readonly accountId: string;
  readonly closed: boolean;
  readonly ws: WebSocket;
  send(data: string): void;
  /** Remembers the push as sent on this socket; false when it already was. */
  markSent(push: PushForFrame): boolean;
}

type SyncOptions = Pick<GatewayOptions, 'syncChunk' | 'maxBufferedBytes' | 'syncDrainTimeoutMs'>;

async function waitForDrain(conn: SyncTarget, opts: SyncOptions): Promise<boolean> {
  const deadline = Date.now() + opts.syncDrainTimeoutMs;
  while (conn.ws.bufferedAmount > opts.maxBufferedBytes / 2) {
    if (conn.closed) return false;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

/**
 * The connect-time sync: the missed pushes still kept, oldest first. Returns how many were sent, `slow` when
 * the client stopped reading, `closed` when the socket closed meanwhile.
 */
export async function sendMissed(
  conn: SyncTarget,
  store: GatewayStore,
  opts: SyncOptions,
): Promise<number | 'slow' | 'closed'> {
  const ids = await store.livePushIds(conn.appId);
  let count = 0;
  for (let i = 0; i < ids.length; i += opts.syncChunk) {
    if (conn.closed) return 'closed';
    const rows = await store.syncAccount(conn.appId, conn.accountId, ids.slice(i, i + opts.syncChunk));
    for (const row of rows) {
      if (conn.closed) return 'closed';
      if (!conn.markSent(row)) continue;
      conn.send(frame({ ...messageFrame(row) }));
      count++;
    }
    // A backlog is sent at the pace the client reads it; a client that stops reading is dropped.
    if (conn.ws.bufferedAmount > opts.maxBufferedBytes / 2 && !(await waitForDrain(conn, opts)))
      return 'slow';
  }
  return count;
}
