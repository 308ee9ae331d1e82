import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../core/log.ts';
import { wsConnections, wsFramesTotal } from '../core/metrics.ts';
import type { Database } from '../db/client.ts';
import { type FanoutBus, postgresBus } from '../delivery/bus.ts';
import { cachedAppSecrets } from './auth.ts';
import { Connection, type ConnectionDeps } from './connection.ts';
import { createFanout } from './fanout.ts';
import { frameHandler } from './frames.ts';
import { clientIp } from './limits.ts';
import { defaultGatewayOptions, type GatewayOptions } from './options.ts';
import { createPresence } from './presence.ts';
import { CloseCode, PROTOCOL } from './protocol.ts';
import { gatewayStore } from './store.ts';
import { allowedApnsTopics } from './topics.ts';
import { webPushPublicKey } from './webpush-key.ts';

export interface GatewayDeps {
  database: Database;
  log: Logger;
  /** The fan-out bus; PostgreSQL LISTEN/NOTIFY on the api's database by default. */
  bus?: FanoutBus;
}

export interface Gateway {
  readonly id: string;
  /** Registers the gateway and subscribes to the bus; call before the server takes upgrades. */
  start(): Promise<void>;
  /** The http server's `upgrade` listener. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * Refuses new upgrades, stops listening to the bus, lets fan-outs and statements in progress finish (within
   * `shutdownGraceMs`), then closes every socket with 1001 and forgets this gateway's presence.
   */
  stop(): Promise<void>;
  stats(): { connections: number; accounts: number };
}

/** Waits for these promises to settle, at most `ms`. */
async function settle(ps: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(ps),
    new Promise((r) => {
      timer = setTimeout(r, ms);
    }),
  ]);
  clearTimeout(timer);
}

function reject(socket: Duplex, status: number, text: string, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/**
 * The WebSocket gateway of one api process (docs/protocol.md has what goes over the wire): the server, its
 * timers and the parts it composes: connections (connection.ts, frames.ts), presence (presence.ts) and the
 * fan-out of bus events (fanout.ts).
 */
export function createGateway(deps: GatewayDeps, options: Partial<GatewayOptions> = {}): Gateway {
  const opts: GatewayOptions = { ...defaultGatewayOptions(), ...options };
  const { database } = deps;
  const log = deps.log.child({ component: 'gateway', gatewayId: opts.gatewayId });
  const bus = deps.bus ?? postgresBus(database.sql);
  const store = gatewayStore(database.sql, opts.gatewayId);
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: opts.maxFrameBytes,
    handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
  });

  const conns = new Set<Connection>();
  const inflight = new Set<Promise<unknown>>();
  let stopping = false;
  let unsubscribe: (() => Promise<void>) | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;

  const track = <T>(p: Promise<T>): Promise<T> => {
    inflight.add(p);
    p.finally(() => inflight.delete(p)).catch(() => {});
    return p;
  };
  const isStopping = () => stopping;

  const presence = createPresence({ store, log, reapAfterSeconds: opts.reapAfterSeconds, isStopping });
  const fanout = createFanout({
    store,
    log,
    local: presence,
    liveChunk: opts.liveChunk,
    catchUpSeconds: opts.catchUpSeconds,
    isStopping,
    track,
  });
  const secrets = cachedAppSecrets(database, { ttlMs: opts.appCacheTtlMs, size: opts.appCacheSize });
  const connDeps: ConnectionDeps = { opts, log, store, secrets, presence, track };
  const onMessage = frameHandler({
    database,
    store,
    log,
    opts,
    allowedTopics: (appId) => allowedApnsTopics(database.db, appId),
    webPushKey: (appId) => webPushPublicKey(database.db, appId),
    track,
  });
  /** Open sockets (and upgrades under way) per client IP on this process. */
  const perIp = new Map<string, number>();

  function accept(ws: WebSocket, req: IncomingMessage, url: URL): void {
    const conn = new Connection(ws, connDeps);
    conns.add(conn);
    wsConnections.inc();
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('message', (data, isBinary) => {
      wsFramesTotal.inc({ direction: 'in' });
      onMessage(conn, data, isBinary);
    });
    ws.on('error', (err) => log.debug({ err, connectionId: conn.id }, 'socket error'));
    ws.on('close', () => {
      conn.onSocketClosed();
      conns.delete(conn);
      wsConnections.dec();
    });
    conn.open(req, url);
  }

  function beat(): void {
    track(presence.beat()).catch((err) => log.warn({ err }, 'gateway heartbeat failed'));
    const now = Date.now();
    for (const conn of conns) conn.forgetSent(now);
  }

  function pingAll(): void {
    for (const conn of conns) conn.ping();
  }

  return {
    id: opts.gatewayId,

    async start() {
      await store.heartbeat();
      unsubscribe = await bus.subscribe(fanout.onEvent, () =>
        track(fanout.catchUp()).catch((err) => log.error({ err }, 'catch-up failed')),
      );
      heartbeatTimer = setInterval(beat, opts.heartbeatMs);
      pingTimer = setInterval(pingAll, opts.pingIntervalMs);
      heartbeatTimer.unref();
      pingTimer.unref();
      log.info('gateway started');
    },

    handleUpgrade(req, socket, head) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== '/v1/connect')
        return reject(socket, 404, 'Not Found', 'not_found', 'WebSocket connections go to /v1/connect');
      if (stopping)
        return reject(socket, 503, 'Service Unavailable', 'unavailable', 'shutting down; connect again');
      // Refused before the upgrade: a socket over the limit costs no WebSocket and no token check.
      const ip = clientIp(req.headers, req.socket.remoteAddress, opts.trustProxy);
      const open = perIp.get(ip) ?? 0;
      if (open >= opts.maxConnectionsPerIp)
        return reject(
          socket,
          429,
          'Too Many Requests',
          'too_many_connections',
          `at most ${opts.maxConnectionsPerIp} connections per client address`,
        );
      perIp.set(ip, open + 1);
      socket.once('close', () => {
        const n = (perIp.get(ip) ?? 1) - 1;
        if (n > 0) perIp.set(ip, n);
        else perIp.delete(ip);
      });
      wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req, url));
    },

    async stop() {
      if (stopping) return;
      // New upgrades are refused and bus events ignored from here on.
      stopping = true;
      clearInterval(heartbeatTimer);
      clearInterval(pingTimer);
      await unsubscribe?.().catch((err) => log.warn({ err }, 'unlisten failed'));
      // Live fan-outs, syncs and acks in progress finish first (their frames are written, their rows marked),
      // within the grace; only then are the sockets closed, so a frame goes out before its socket's 1001.
      await settle([...inflight, ...presence.pending()], opts.shutdownGraceMs);
      if (inflight.size) log.warn({ inflight: inflight.size }, 'shutdown grace over: closing sockets anyway');
      for (const conn of conns) conn.close(CloseCode.goingAway, 'server_shutting_down: reconnect');
      await store.unregister().catch((err) => log.warn({ err }, 'could not remove gateway row'));
      const deadline = Date.now() + opts.closeGraceMs;
      while (conns.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const conn of conns) conn.ws.terminate();
      wss.close();
      log.info('gateway stopped');
    },

    stats() {
      return { connections: conns.size, accounts: presence.accountCount() };
    },
  };
}
