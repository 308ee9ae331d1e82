/**
 * WebSocket clients (herald.v1) for the chaos runner, in one process. Each account holds one connection at a
 * time; every connection is logged (which api, when it opened, synced and closed) with the frames of each push
 * it received, split into backlog (before `synced`) and live. A socket that closes reconnects like the SDK
 * (0.5 s doubling to 8 s, half of it random), trying the next api in turn so that the clients of a killed
 * api move to the other one. Messages are acked when `ack` is set, as the SDK does.
 *
 *   ← { cmd: 'start', … }        → { type: 'connected', connected, failed }
 *   ← { cmd: 'status' }          → { type: 'status', open, frames }
 *   ← { cmd: 'collect', pushId } → { type: 'collected', connections, open }
 *   ← { cmd: 'close' }           → closes every socket and exits
 */
import WebSocket from 'ws';
import { mintUserToken } from '../../core/user-token.ts';
import { now } from '../ipc.ts';
import type { ChaosClientsCollect, ChaosClientsStart, ChaosClientsStatus } from './ipc.ts';

const send = (m: unknown) => process.send?.(m);

interface Conn {
  account: number;
  api: number;
  openedAt: number;
  syncedAt: number | null;
  closedAt: number | null;
  closeCode: number | null;
  /** pushId → [via sync, live]. */
  pushes: Map<string, [number, number]>;
}

const conns: Conn[] = [];
const sockets = new Set<WebSocket>();
/** Synced connections still open, by socket. */
const live = new Map<WebSocket, Conn>();
let shuttingDown = false;
let frames = 0;
let spec: ChaosClientsStart;
let tokens: string[] = [];

/** Opens one connection for account i on api `api`; resolves true once synced, false if it did not get there. */
function connect(i: number, api: number): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean) => {
      if (!settled) {
        settled = true;
        resolve(ok);
      }
    };
    const url = spec.urls[api] ?? '';
    const ws = new WebSocket(`${url}/v1/connect`, ['herald.v1', `herald.token.${tokens[i]}`], {
      perMessageDeflate: false,
      handshakeTimeout: 30_000,
    });
    const conn: Conn = {
      account: i,
      api,
      openedAt: now(),
      syncedAt: null,
      closedAt: null,
      closeCode: null,
      pushes: new Map(),
    };
    conns.push(conn);
    sockets.add(ws);
    ws.on('message', (data) => {
      const text = data.toString();
      const f = JSON.parse(text) as { type?: string; pushId?: string; id?: string };
      if (f.type === 'message' && f.pushId) {
        frames++;
        const counts = conn.pushes.get(f.pushId) ?? [0, 0];
        counts[conn.syncedAt === null ? 0 : 1]++;
        conn.pushes.set(f.pushId, counts);
        if (spec.ack) ws.send(JSON.stringify({ type: 'ack', id: f.id ?? f.pushId }));
      } else if (f.type === 'synced') {
        conn.syncedAt = now();
        live.set(ws, conn);
        done(true);
      }
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      sockets.delete(ws);
      live.delete(ws);
      conn.closedAt = now();
      conn.closeCode = code;
      const wasSynced = settled;
      done(false);
      if (shuttingDown) return;
      // A live connection that dropped reconnects by itself; the start lanes retry connections that never
      // synced.
      if (wasSynced) void reconnect(i, api, 0);
    });
  });
}

/** Reconnects account i with SDK-like backoff, trying the next api each time. */
async function reconnect(i: number, lastApi: number, attempt: number): Promise<void> {
  const base = Math.min(8000, 500 * 2 ** attempt);
  await new Promise((r) => setTimeout(r, base / 2 + Math.random() * (base / 2)));
  if (shuttingDown) return;
  const api = (lastApi + 1) % spec.urls.length;
  const ok = await connect(i, api);
  if (!ok && !shuttingDown) await reconnect(i, api, attempt + 1);
}

async function start(s: ChaosClientsStart): Promise<void> {
  spec = s;
  tokens = await Promise.all(
    s.accounts.map(
      async (accountId) =>
        (await mintUserToken({ appId: s.appId, secretKey: s.secretKey, accountId, ttlSeconds: 24 * 3600 }))
          .token,
    ),
  );
  let next = 0;
  let connected = 0;
  let failed = 0;
  const lane = async () => {
    for (;;) {
      const i = next++;
      if (i >= s.accounts.length) return;
      let ok = false;
      for (let attempt = 0; attempt < 5 && !ok; attempt++) {
        ok = await connect(i, (i + attempt) % s.urls.length);
        if (!ok) await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      }
      if (ok) connected++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(s.concurrency, s.accounts.length) }, lane));
  send({ type: 'connected', connected, failed });
}

const openCount = () => conns.filter((c) => c.syncedAt !== null && c.closedAt === null).length;

process.on('message', (m: ChaosClientsStart | { cmd: 'collect'; pushId: string } | { cmd: string }) => {
  if (m.cmd === 'start') void start(m as ChaosClientsStart);
  else if (m.cmd === 'status') {
    const msg: ChaosClientsStatus = { type: 'status', open: openCount(), frames };
    send(msg);
  } else if (m.cmd === 'collect') {
    const pushId = (m as { pushId: string }).pushId;
    const msg: ChaosClientsCollect = {
      type: 'collected',
      pushId,
      open: openCount(),
      connections: conns.map((c) => {
        const [viaSync, live] = c.pushes.get(pushId) ?? [0, 0];
        return {
          account: c.account,
          api: c.api,
          openedAt: c.openedAt,
          syncedAt: c.syncedAt,
          closedAt: c.closedAt,
          closeCode: c.closeCode,
          viaSync,
          live,
        };
      }),
    };
    send(msg);
  } else if (m.cmd === 'rebalance') {
    // Connections not on their account's own api (i % urls) close; they reconnect to the next api, theirs.
    let moved = 0;
    for (const [ws, c] of live) {
      if (c.api === c.account % spec.urls.length) continue;
      moved++;
      ws.close(1000);
    }
    send({ type: 'rebalanced', moved });
  } else if (m.cmd === 'close') {
    shuttingDown = true;
    for (const ws of sockets) ws.terminate();
    setTimeout(() => process.exit(0), 100);
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
