import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../core/log.ts';
import { jwtVerifier, UserTokenError, type UserTokenVerifier } from '../core/user-token.ts';
import type { Database } from '../db/client.ts';
import { DeviceTokenError, registerDevice, removeDevice } from '../db/devices.ts';
import { type BusEvent, type FanoutBus, postgresBus } from '../delivery/bus.ts';
import { authenticate, cachedAppSecrets, tokenFromRequest } from './auth.ts';
import {
  CLIENT_FRAME_TYPES,
  type ClientFrame,
  CloseCode,
  clientFrameSchema,
  frame,
  messageFrame,
  PROTOCOL,
  type PushForFrame,
} from './protocol.ts';
import { type GatewayStore, gatewayStore } from './store.ts';
import { userSigVerifier } from './usersig-verifier.ts';

export interface GatewayOptions {
  /** This process's id in `gateways` / `presence`; a fresh one per start by default. */
  gatewayId: string;
  /** How often the gateway row's heartbeat is written (offline pages ignore presence older than 30 s). */
  heartbeatMs: number;
  /** WebSocket ping interval; a socket that has not answered the previous ping is dropped. */
  pingIntervalMs: number;
  /** How long a client that sent no token with the upgrade has to send its `auth` frame. */
  authTimeoutMs: number;
  /** Bytes a socket may have waiting to be sent before it is dropped as a slow consumer (close 4008). */
  maxBufferedBytes: number;
  /** After the server closes a socket, how long the close handshake may take before the TCP is cut. */
  closeGraceMs: number;
  /** Largest frame a client may send (close 1009 beyond). */
  maxFrameBytes: number;
  /** Pushes looked at per sync statement on connect. */
  syncChunk: number;
  /** How long a sync waits for a socket to drain before treating it as a slow consumer. */
  syncDrainTimeoutMs: number;
  /** Connected accounts per live-delivery read. */
  liveChunk: number;
  /** Gateways silent this long are deleted, presence and all. */
  reapAfterSeconds: number;
  /** After the bus comes back from a lost subscription, pushes this recent are replayed to the sockets here. */
  catchUpSeconds: number;
  /** Token kinds accepted, tried in order (Herald's JWT by default; a Tencent UserSig verifier can be added). */
  verifiers: UserTokenVerifier[];
}

export const defaultGatewayOptions = (): GatewayOptions => ({
  gatewayId: randomUUID(),
  heartbeatMs: 10_000,
  pingIntervalMs: 30_000,
  authTimeoutMs: 10_000,
  maxBufferedBytes: 1024 * 1024,
  closeGraceMs: 5_000,
  maxFrameBytes: 64 * 1024,
  syncChunk: 50,
  syncDrainTimeoutMs: 30_000,
  liveChunk: 1_000,
  reapAfterSeconds: 300,
  catchUpSeconds: 120,
  verifiers: [jwtVerifier, userSigVerifier],
});

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
  /** Closes every socket with 1001, forgets this gateway's presence, stops listening. */
  stop(): Promise<void>;
  stats(): { connections: number; accounts: number };
}

type Phase = 'auth' | 'sync' | 'live' | 'closed';

class Connection {
  readonly id = randomUUID();
  appId = '';
  accountId = '';
  phase: Phase = 'auth';
  alive = true;
  registered = false;
  authStarted = false;
  authDone: Promise<boolean> = Promise.resolve(false);
  /** Push ids sent on this socket, and when each may be forgotten: nothing is sent twice on one socket. */
  readonly sent = new Map<string, number>();
  /** Live frames that arrived while the connect-time sync was running; sent right after it. */
  queue: string[] = [];
  queueBytes = 0;
  authTimer: NodeJS.Timeout | undefined;
  expiryTimer: NodeJS.Timeout | undefined;
  killTimer: NodeJS.Timeout | undefined;
  constructor(readonly ws: WebSocket) {}
  get closed(): boolean {
    return this.phase === 'closed';
  }
}

const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long after its expiry a delivered id is still remembered per socket (bus events may repeat). */
const FORGET_AFTER_MS = 10 * 60_000;

const reasonText = (s: string) =>
  Buffer.byteLength(s) <= 123 ? s : Buffer.from(s).subarray(0, 120).toString();

/** The WebSocket gateway of one api process. See docs/protocol.md for what goes over the wire. */
export function createGateway(deps: GatewayDeps, options: Partial<GatewayOptions> = {}): Gateway {
  const opts: GatewayOptions = { ...defaultGatewayOptions(), ...options };
  const { database } = deps;
  const log = deps.log.child({ component: 'gateway', gatewayId: opts.gatewayId });
  const bus = deps.bus ?? postgresBus(database.sql);
  const store: GatewayStore = gatewayStore(database.sql, opts.gatewayId);
  const secrets = cachedAppSecrets(database);
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: opts.maxFrameBytes,
    handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
  });

  const conns = new Set<Connection>();
  /** app id → account id → its sockets on this process. */
  const registry = new Map<string, Map<string, Set<Connection>>>();
  const inflight = new Set<Promise<unknown>>();
  let stopping = false;
  let unsubscribe: (() => Promise<void>) | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;
  let beats = 0;

  const track = <T>(p: Promise<T>): Promise<T> => {
    inflight.add(p);
    p.finally(() => inflight.delete(p)).catch(() => {});
    return p;
  };

  // ---------- presence: what offline pages consult to leave connected accounts alone ----------

  const key = (appId: string, accountId: string) => `${appId}\u0000${accountId}`;
  const localCount = (appId: string, accountId: string) => registry.get(appId)?.get(accountId)?.size ?? 0;
  /** Presence writes of one account run one after another and write the local count at that moment. */
  const presenceChains = new Map<string, Promise<void>>();

  async function ensureGatewayRow(): Promise<void> {
    const { inserted } = await store.heartbeat();
    if (inserted && beats > 0) {
      log.warn('gateway row was missing (reaped after a stall?); rewriting presence');
      await rewriteAllPresence();
    }
  }

  async function writePresence(appId: string, accountId: string): Promise<void> {
    const n = localCount(appId, accountId);
    try {
      await store.setPresence(appId, accountId, n);
    } catch (err) {
      // The gateway row vanished (another gateway reaped it after a long stall): register again, retry.
      if ((err as { code?: string }).code !== '23503' || stopping) throw err;
      await ensureGatewayRow();
      await store.setPresence(appId, accountId, localCount(appId, accountId));
    }
  }

  function syncPresence(appId: string, accountId: string): Promise<void> {
    const k = key(appId, accountId);
    const prev = presenceChains.get(k) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(() => (stopping ? undefined : writePresence(appId, accountId)));
    presenceChains.set(k, next);
    next
      .finally(() => {
        if (presenceChains.get(k) === next) presenceChains.delete(k);
      })
      .catch(() => {});
    return next;
  }

  async function rewriteAllPresence(): Promise<void> {
    const rows: { appId: string; accountId: string; connections: number }[] = [];
    for (const [appId, accounts] of registry)
      for (const [accountId, set] of accounts) rows.push({ appId, accountId, connections: set.size });
    await store.rewritePresence(rows);
    // Anything that changed while the statement ran is written again through its own chain.
    for (const r of rows)
      if (localCount(r.appId, r.accountId) !== r.connections) void syncPresence(r.appId, r.accountId);
  }

  function register(conn: Connection): void {
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
    conn.registered = true;
  }

  /** Takes a socket out of delivery at once (a dropped slow consumer no longer counts as present). */
  function release(conn: Connection): void {
    if (!conn.registered) return;
    conn.registered = false;
    const accounts = registry.get(conn.appId);
    const set = accounts?.get(conn.accountId);
    set?.delete(conn);
    if (set && !set.size) accounts?.delete(conn.accountId);
    if (accounts && !accounts.size) registry.delete(conn.appId);
    if (!stopping)
      syncPresence(conn.appId, conn.accountId).catch((err) =>
        log.warn({ err, accountId: conn.accountId }, 'presence update failed'),
      );
  }

  // ---------- sending ----------

  function close(conn: Connection, code: number, reason: string): void {
    if (conn.closed) return;
    conn.phase = 'closed';
    release(conn);
    clearTimeout(conn.authTimer);
    clearTimeout(conn.expiryTimer);
    conn.queue = [];
    try {
      conn.ws.close(code, reasonText(reason));
    } catch {
      conn.ws.terminate();
    }
    conn.killTimer = setTimeout(() => conn.ws.terminate(), opts.closeGraceMs);
  }

  function send(conn: Connection, data: string): void {
    if (conn.ws.readyState === WebSocket.OPEN) conn.ws.send(data);
  }

  /** A live frame: never waits for a slow socket; one whose buffer is full is dropped (it syncs on reconnect). */
  function sendLive(conn: Connection, data: string): void {
    if (conn.closed) return;
    if (conn.phase === 'sync' || conn.phase === 'auth') {
      conn.queue.push(data);
      conn.queueBytes += data.length;
      if (conn.queueBytes > opts.maxBufferedBytes) slow(conn);
      return;
    }
    if (conn.ws.bufferedAmount > opts.maxBufferedBytes) {
      slow(conn);
      return;
    }
    send(conn, data);
  }

  function slow(conn: Connection): void {
    log.info({ accountId: conn.accountId, buffered: conn.ws.bufferedAmount }, 'dropping slow consumer');
    close(conn, CloseCode.slowConsumer, 'slow_consumer: reconnect to sync');
  }

  function deliver(conn: Connection, pushId: string, data: string, forgetAt: number): void {
    if (conn.closed || conn.sent.has(pushId)) return;
    conn.sent.set(pushId, forgetAt);
    sendLive(conn, data);
  }

  const forgetAtOf = (p: PushForFrame) =>
    Math.max(p.expires_at ? new Date(p.expires_at).getTime() : 0, Date.now()) + FORGET_AFTER_MS;

  // ---------- connect: authenticate, presence, welcome, sync ----------

  function accept(ws: WebSocket, req: IncomingMessage, url: URL): void {
    const conn = new Connection(ws);
    conns.add(conn);
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('message', (data, isBinary) => onMessage(conn, data, isBinary));
    ws.on('error', (err) => log.debug({ err, connectionId: conn.id }, 'socket error'));
    ws.on('close', () => {
      conn.phase = 'closed';
      release(conn);
      clearTimeout(conn.authTimer);
      clearTimeout(conn.expiryTimer);
      clearTimeout(conn.killTimer);
      conns.delete(conn);
    });
    const offered = req.headers['sec-websocket-protocol'];
    if (offered && ws.protocol !== PROTOCOL) {
      close(conn, CloseCode.protocolError, `unsupported_protocol: offer ${PROTOCOL}`);
      return;
    }
    const token = tokenFromRequest(req, url);
    if (token) startAuth(conn, token);
    else
      conn.authTimer = setTimeout(
        () => close(conn, CloseCode.unauthorized, 'token_missing: send an auth frame first'),
        opts.authTimeoutMs,
      );
  }

  function startAuth(conn: Connection, token: string): void {
    conn.authStarted = true;
    clearTimeout(conn.authTimer);
    conn.authDone = track(login(conn, token));
    conn.authDone.then((ok) => (ok ? track(runSync(conn)) : undefined)).catch(() => {});
  }

  async function login(conn: Connection, token: string): Promise<boolean> {
    let identity: Awaited<ReturnType<typeof authenticate>>;
    try {
      identity = await authenticate(token, secrets, opts.verifiers);
    } catch (err) {
      if (err instanceof UserTokenError) {
        close(conn, err.reason === 'forbidden' ? CloseCode.forbidden : CloseCode.unauthorized, err.message);
      } else {
        log.error({ err }, 'token check failed');
        close(conn, CloseCode.internal, 'internal_error');
      }
      return false;
    }
    if (conn.closed) return false;
    conn.appId = identity.appId;
    conn.accountId = identity.accountId;
    conn.phase = 'sync';
    // Registered before presence is written and presence written before the sync reads: a push snapshotted
    // meanwhile is either in the sync or delivered live to this socket (or both, and sent once).
    register(conn);
    try {
      await Promise.all([
        syncPresence(conn.appId, conn.accountId),
        store.recordLogin(conn.appId, conn.accountId),
      ]);
    } catch (err) {
      log.error({ err }, 'connect bookkeeping failed');
      close(conn, CloseCode.internal, 'internal_error');
      return false;
    }
    if (conn.closed) return false;
    if (identity.expiresAt) {
      const ms = identity.expiresAt.getTime() - Date.now();
      if (ms < MAX_TIMER_MS)
        conn.expiryTimer = setTimeout(
          () => close(conn, CloseCode.unauthorized, 'token_expired'),
          Math.max(ms, 0),
        );
    }
    send(
      conn,
      frame({
        type: 'welcome',
        protocol: PROTOCOL,
        connectionId: conn.id,
        appId: conn.appId,
        accountId: conn.accountId,
        serverTime: new Date().toISOString(),
        tokenExpiresAt: identity.expiresAt?.toISOString() ?? null,
        heartbeatSeconds: Math.round(opts.pingIntervalMs / 1000),
        limits: { maxFrameBytes: opts.maxFrameBytes, maxAckIds: 500 },
      }),
    );
    return true;
  }

  async function waitForDrain(conn: Connection): Promise<boolean> {
    const deadline = Date.now() + opts.syncDrainTimeoutMs;
    while (conn.ws.bufferedAmount > opts.maxBufferedBytes / 2) {
      if (conn.closed) return false;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 25));
    }
    return true;
  }

  /** The missed pushes still kept, oldest first, then `synced`, then whatever arrived live meanwhile. */
  async function runSync(conn: Connection): Promise<void> {
    try {
      const ids = await store.livePushIds(conn.appId);
      let count = 0;
      for (let i = 0; i < ids.length; i += opts.syncChunk) {
        if (conn.closed) return;
        const rows = await store.syncAccount(conn.appId, conn.accountId, ids.slice(i, i + opts.syncChunk));
        for (const row of rows) {
          if (conn.closed) return;
          if (conn.sent.has(row.id)) continue;
          conn.sent.set(row.id, forgetAtOf(row));
          send(conn, frame({ ...messageFrame(row) }));
          count++;
        }
        // A backlog is sent at the pace the client reads it; a client that stops reading is dropped.
        if (conn.ws.bufferedAmount > opts.maxBufferedBytes / 2 && !(await waitForDrain(conn))) {
          if (!conn.closed) slow(conn);
          return;
        }
      }
      if (conn.closed) return;
      send(conn, frame({ type: 'synced', count }));
      conn.phase = 'live';
      const queued = conn.queue;
      conn.queue = [];
      conn.queueBytes = 0;
      for (const data of queued) sendLive(conn, data);
    } catch (err) {
      log.error({ err, accountId: conn.accountId }, 'sync failed');
      close(conn, CloseCode.internal, 'internal_error: sync failed, reconnect');
    }
  }

  // ---------- frames from the client ----------

  function replyError(conn: Connection, code: string, message: string, ref?: string): void {
    send(conn, frame({ type: 'error', code, message, ...(ref !== undefined ? { ref } : {}) }));
  }

  function onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn.closed) return;
    if (isBinary) {
      close(conn, CloseCode.protocolError, 'protocol_error: binary frames are not used');
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(Array.isArray(data) ? Buffer.concat(data).toString('utf8') : data.toString());
    } catch {
      close(conn, CloseCode.protocolError, 'protocol_error: a frame is one JSON object');
      return;
    }
    const type = (parsed as { type?: unknown } | null)?.type;
    const ref = (parsed as { ref?: unknown } | null)?.ref;
    const refText = typeof ref === 'string' ? ref : undefined;
    if (typeof type !== 'string') {
      close(conn, CloseCode.protocolError, 'protocol_error: a frame needs a string `type`');
      return;
    }
    if (!CLIENT_FRAME_TYPES.has(type)) {
      replyError(conn, 'unknown_type', `unknown frame type ${type.slice(0, 40)}`, refText);
      return;
    }
    const result = clientFrameSchema.safeParse(parsed);
    if (!result.success) {
      const issue = result.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      replyError(conn, 'invalid_frame', `${type}: ${where}${issue?.message ?? 'invalid'}`, refText);
      return;
    }
    const f = result.data;
    if (f.type === 'ping') {
      send(
        conn,
        frame({ type: 'pong', serverTime: new Date().toISOString(), ...(f.ref ? { ref: f.ref } : {}) }),
      );
      return;
    }
    if (f.type === 'auth') {
      if (conn.authStarted) {
        replyError(conn, 'already_authenticated', 'auth is sent once', f.ref);
        return;
      }
      startAuth(conn, f.token);
      return;
    }
    if (!conn.authStarted) {
      close(conn, CloseCode.unauthorized, 'token_missing: the first frame must be auth');
      return;
    }
    track(
      conn.authDone.then(async (ok) => {
        if (!ok || conn.closed) return;
        try {
          await handle(conn, f);
        } catch (err) {
          log.error({ err, type: f.type }, 'frame handling failed');
          replyError(conn, 'internal', 'the server could not handle this frame; retry', f.ref);
        }
      }),
    ).catch(() => {});
  }

  async function handle(conn: Connection, f: Exclude<ClientFrame, { type: 'ping' | 'auth' }>): Promise<void> {
    switch (f.type) {
      case 'ack': {
        const ids = [...new Set(f.ids ?? (f.id ? [f.id] : []))];
        const acked = await store.ack(conn.appId, conn.accountId, ids);
        if (f.ref) send(conn, frame({ type: 'ok', ref: f.ref, acked }));
        return;
      }
      case 'registerDevice': {
        try {
          const r = await registerDevice(database.db, conn.appId, {
            accountId: conn.accountId,
            platform: f.platform,
            token: f.token,
            environment: f.environment,
            topic: f.topic,
          });
          if (f.ref)
            send(conn, frame({ type: 'ok', ref: f.ref, created: r.created, movedFrom: r.movedFrom }));
        } catch (err) {
          if (!(err instanceof DeviceTokenError)) throw err;
          replyError(conn, 'invalid_device_token', err.message, f.ref);
        }
        return;
      }
      case 'unregisterDevice': {
        const removed = await removeDevice(database.db, conn.appId, conn.accountId, f.platform, f.token);
        if (f.ref) send(conn, frame({ type: 'ok', ref: f.ref, removed }));
        return;
      }
    }
  }

  // ---------- bus events ----------

  async function onPush(appId: string, pushId: string): Promise<void> {
    const accounts = registry.get(appId);
    if (!accounts?.size) return;
    const ids = [...accounts.keys()];
    const chunk = (i: number) => store.liveRecipients(appId, pushId, ids.slice(i, i + opts.liveChunk));
    // Small chunks, each chunk's read running while the previous chunk's frames are written, and the rows
    // marked only after their frames went out: the first sockets get the push after one short read instead
    // of after one statement that reads and updates the rows of every account connected here.
    // Marks run one after another, behind the reads, so they never take the pool from the next chunk's read.
    let marked: Promise<unknown> = Promise.resolve();
    let next: ReturnType<typeof chunk> | undefined = chunk(0);
    for (let i = 0; next; i += opts.liveChunk) {
      const row = await next;
      next = i + opts.liveChunk < ids.length ? chunk(i + opts.liveChunk) : undefined;
      if (!row || row.recalled_at) {
        await next?.catch(() => undefined);
        break;
      }
      if (!row.accounts?.length) continue;
      const data = frame({ ...messageFrame(row) });
      const forgetAt = forgetAtOf(row);
      const local = registry.get(appId);
      for (const accountId of row.accounts)
        for (const conn of local?.get(accountId) ?? []) deliver(conn, pushId, data, forgetAt);
      const delivered = row.accounts;
      marked = marked.then(() =>
        store
          .markDeliveredOnline(appId, pushId, delivered)
          // Unmarked copies stay pending: the sockets have the push, and sync would offer it again.
          .catch((err) => log.error({ err, pushId }, 'marking live deliveries failed')),
      );
    }
    await marked;
  }

  /**
   * Notifications published while the bus was away are lost; replaying the recent pushes of every app with
   * sockets here is safe because live delivery only sends copies not yet acked and a socket never gets the
   * same push twice.
   */
  async function catchUp(): Promise<void> {
    log.warn('bus subscription restored: replaying recent pushes');
    for (const appId of [...registry.keys()]) {
      for (const pushId of await store.recentPushIds(appId, opts.catchUpSeconds)) await onPush(appId, pushId);
    }
  }

  function onRecall(appId: string, pushId: string): void {
    // The recipient set is gone with the recall, so every socket of the app hears it; clients that never
    // had the message ignore it.
    const data = frame({ type: 'recall', id: pushId, pushId });
    for (const set of registry.get(appId)?.values() ?? []) for (const conn of set) sendLive(conn, data);
  }

  function onEvent(event: BusEvent): void {
    if (stopping) return;
    if (event.type === 'recall') {
      onRecall(event.appId, event.pushId);
      return;
    }
    if (event.type === 'push')
      track(onPush(event.appId, event.pushId)).catch((err) =>
        log.error({ err, pushId: event.pushId }, 'live delivery failed'),
      );
  }

  // ---------- timers ----------

  function beat(): void {
    beats++;
    track(
      (async () => {
        await ensureGatewayRow();
        if (beats % 6 === 0) await store.reapDeadGateways(opts.reapAfterSeconds);
      })(),
    ).catch((err) => log.warn({ err }, 'gateway heartbeat failed'));
    const now = Date.now();
    for (const conn of conns) for (const [id, at] of conn.sent) if (at < now) conn.sent.delete(id);
  }

  function pingAll(): void {
    for (const conn of conns) {
      if (!conn.alive) {
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      try {
        conn.ws.ping();
      } catch {
        conn.ws.terminate();
      }
    }
  }

  function reject(socket: Duplex, status: number, text: string, message: string): void {
    const body = JSON.stringify({ error: { code: status === 404 ? 'not_found' : 'unavailable', message } });
    socket.end(
      `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }

  return {
    id: opts.gatewayId,

    async start() {
      await store.heartbeat();
      unsubscribe = await bus.subscribe(onEvent, () =>
        track(catchUp()).catch((err) => log.error({ err }, 'catch-up failed')),
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
        return reject(socket, 404, 'Not Found', 'WebSocket connections go to /v1/connect');
      if (stopping) return reject(socket, 503, 'Service Unavailable', 'shutting down; connect again');
      wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req, url));
    },

    async stop() {
      if (stopping) return;
      stopping = true;
      clearInterval(heartbeatTimer);
      clearInterval(pingTimer);
      await unsubscribe?.().catch((err) => log.warn({ err }, 'unlisten failed'));
      for (const conn of conns) close(conn, CloseCode.goingAway, 'server_shutting_down: reconnect');
      await Promise.race([
        Promise.allSettled([...inflight, ...presenceChains.values()]),
        new Promise((r) => setTimeout(r, opts.closeGraceMs)),
      ]);
      await store.unregister().catch((err) => log.warn({ err }, 'could not remove gateway row'));
      const deadline = Date.now() + opts.closeGraceMs;
      while (conns.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const conn of conns) conn.ws.terminate();
      wss.close();
      log.info('gateway stopped');
    },

    stats() {
      let accounts = 0;
      for (const m of registry.values()) accounts += m.size;
      return { connections: conns.size, accounts };
    },
  };
}
