/**
 * K WebSocket clients (herald.v1) in one process, started by bench/main.ts over IPC (see ipc.ts). It mints
 * each account's user token locally with the app's secret key (HS256, core/user-token.ts), connects with at
 * most `concurrency` handshakes in flight, counts a client as connected once its sync is over (`synced`),
 * and timestamps every `message` frame on arrival. A socket the server closes reconnects after ~1 s, as the
 * SDK would (the push then arrives through the sync, and its late receipt counts).
 *
 *   ← { cmd: 'start', … }         → { type: 'progress' }* then { type: 'connected' }
 *   ← { cmd: 'collect', pushId }  → { type: 'receipts', … } (and forgets them)
 *   ← { cmd: 'close' }            → closes every socket and exits
 */
import WebSocket from 'ws';
import { mintUserToken } from '../core/user-token.ts';
import type { ClientsConnected, ClientsReceipts, ClientsStart } from './ipc.ts';
import { now } from './ipc.ts';

const send = (m: unknown) => process.send?.(m);

const receipts = new Map<string, { index: number[]; times: number[] }>();
let closes: Record<string, number> = {};
let reconnects = 0;
let shuttingDown = false;
const sockets = new Set<WebSocket>();

function record(pushId: string, index: number, t: number): void {
  let r = receipts.get(pushId);
  if (!r) {
    r = { index: [], times: [] };
    receipts.set(pushId, r);
  }
  r.index.push(index);
  r.times.push(t);
}

/** Opens one client; resolves true once synced, false if it could not connect. */
function connect(url: string, token: string, index: number): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean) => {
      if (!settled) {
        settled = true;
        resolve(ok);
      }
    };
    const ws = new WebSocket(`${url}/v1/connect`, ['herald.v1', `herald.token.${token}`], {
      perMessageDeflate: false,
      handshakeTimeout: 60_000,
    });
    sockets.add(ws);
    ws.on('message', (data) => {
      const t = now();
      const text = data.toString();
      // Cheap test first: most frames of a run are messages, and the rest are a handful per socket.
      if (text.startsWith('{"type":"message"')) {
        const { pushId } = JSON.parse(text) as { pushId: string };
        record(pushId, index, t);
        return;
      }
      const type = (JSON.parse(text) as { type?: string }).type;
      if (type === 'synced') done(true);
    });
    ws.on('error', () => done(false));
    ws.on('close', (code) => {
      sockets.delete(ws);
      if (!settled) {
        done(false);
        return;
      }
      if (shuttingDown) return;
      closes[String(code)] = (closes[String(code)] ?? 0) + 1;
      reconnects++;
      setTimeout(() => void connect(url, token, index), 500 + Math.random() * 500);
    });
  });
}

async function start(spec: ClientsStart): Promise<void> {
  const t0 = Date.now();
  const tokens = await Promise.all(
    spec.accounts.map(
      async (accountId) =>
        (
          await mintUserToken({
            appId: spec.appId,
            secretKey: spec.secretKey,
            accountId,
            ttlSeconds: 24 * 3600,
          })
        ).token,
    ),
  );
  let next = 0;
  let connected = 0;
  let failed = 0;
  const errors: string[] = [];
  const progress = setInterval(() => send({ type: 'progress', connected, failed }), 250);
  const lane = async () => {
    for (;;) {
      const i = next++;
      if (i >= spec.accounts.length) return;
      const url = spec.urls[i % spec.urls.length] ?? '';
      let ok = false;
      for (let attempt = 0; attempt < 3 && !ok; attempt++) {
        ok = await connect(url, tokens[i] ?? '', i);
        if (!ok) await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      }
      if (ok) connected++;
      else {
        failed++;
        if (errors.length < 5) errors.push(`account ${spec.accounts[i]} could not connect`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.concurrency, spec.accounts.length) }, lane));
  clearInterval(progress);
  closes = {};
  reconnects = 0;
  const msg: ClientsConnected = { type: 'connected', connected, failed, errors };
  send(msg);
  if (process.env.HERALD_BENCH_DEBUG)
    process.stderr.write(`clients: ${connected} in ${Date.now() - t0} ms\n`);
}

process.on('message', (m: ClientsStart | { cmd: 'collect'; pushId: string } | { cmd: 'close' }) => {
  if (m.cmd === 'start') void start(m);
  else if (m.cmd === 'collect') {
    const r = receipts.get(m.pushId) ?? { index: [], times: [] };
    receipts.delete(m.pushId);
    const msg: ClientsReceipts = { type: 'receipts', pushId: m.pushId, ...r, closes, reconnects };
    closes = {};
    reconnects = 0;
    send(msg);
  } else if (m.cmd === 'close') {
    shuttingDown = true;
    for (const ws of sockets) ws.terminate();
    setTimeout(() => process.exit(0), 100);
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
