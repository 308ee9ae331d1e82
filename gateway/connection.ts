import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { canonicalLanguage, LANGUAGE_PROBLEM } from '../core/languages.ts';
import { wsFramesTotal, wsSlowConsumerClosesTotal } from '../core/metrics.ts';
import { tokenFromRequest } from './auth.ts';
import { FrameLimiter } from './limits.ts';
import { type LoginDeps, type LoginTarget, login } from './login.ts';
import type { GatewayOptions } from './options.ts';
import { CloseCode, frame, PROTOCOL, type PushForFrame } from './protocol.ts';
import { type SyncTarget, sendMissed } from './sync.ts';

/** What a connection needs from the registry of sockets on this process (gateway/presence.ts). */
export interface PresenceHooks {
  /** Counts the socket in: live pushes of its account reach it from now on. */
  add(conn: Connection): void;
  /** Takes the socket out of delivery and presence at once; a second call does nothing. */
  release(conn: Connection): void;
  /** Writes the account's presence row (one write at a time per account). */
  write(appId: string, accountId: string): Promise<void>;
  /** The account's sockets on this process. */
  count(appId: string, accountId: string): number;
}

export interface ConnectionDeps extends LoginDeps {
  opts: GatewayOptions;
  presence: PresenceHooks;
  /** Adds a promise to those the gateway waits for when it stops. */
  track: <T>(p: Promise<T>) => Promise<T>;
}

type Phase = 'auth' | 'sync' | 'live' | 'closed';

/** How long after its expiry a delivered id is still remembered per socket (bus events may repeat). */
const FORGET_AFTER_MS = 10 * 60_000;

export const forgetAtOf = (p: PushForFrame) =>
  Math.max(p.expires_at ? new Date(p.expires_at).getTime() : 0, Date.now()) + FORGET_AFTER_MS;

const reasonText = (s: string) =>
  Buffer.byteLength(s) <= 123 ? s : Buffer.from(s).subarray(0, 120).toString();

/**
 * One client socket and its state machine: auth (a token with the upgrade, or an `auth` frame in time;
 * gateway/login.ts) → sync (welcome, then the missed pushes of gateway/sync.ts, live frames queued meanwhile)
 * → live → closed. The client's frames are read in gateway/frames.ts; gateway/fanout.ts calls `deliver`.
 */
export class Connection implements LoginTarget, SyncTarget {
  readonly id = randomUUID();
  appId = '';
  accountId = '';
  /** From the connect URL's `language` parameter: the account's language from this login on. */
  language: string | undefined;
  private phase: Phase = 'auth';
  /** False from a ping until its pong. */
  alive = true;
  authStarted = false;
  authDone: Promise<boolean> = Promise.resolve(false);
  /** Frames per second and statements in flight of this client (gateway/limits.ts). */
  readonly limiter: FrameLimiter;
  /** Push ids sent on this socket, and when each may be forgotten: nothing is sent twice on one socket. */
  private readonly sent = new Map<string, number>();
  /** Live frames that arrived while the connect-time sync was running; sent right after it. */
  private queue: string[] = [];
  private queueBytes = 0;
  private authTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly ws: WebSocket,
    private readonly deps: ConnectionDeps,
  ) {
    this.limiter = new FrameLimiter(deps.opts);
  }

  get closed(): boolean {
    return this.phase === 'closed';
  }

  /** Right after the upgrade: the subprotocol check, then the token from the upgrade or the auth deadline. */
  open(req: IncomingMessage, url: URL): void {
    const offered = req.headers['sec-websocket-protocol'];
    if (offered && this.ws.protocol !== PROTOCOL) {
      this.close(CloseCode.protocolError, `unsupported_protocol: offer ${PROTOCOL}`);
      return;
    }
    const language = url.searchParams.get('language');
    if (language !== null) {
      this.language = canonicalLanguage(language);
      if (!this.language) {
        this.close(CloseCode.protocolError, `invalid_language: ${LANGUAGE_PROBLEM}`);
        return;
      }
    }
    const token = tokenFromRequest(req, url);
    if (token) this.startAuth(token);
    else
      this.authTimer = setTimeout(
        () => this.close(CloseCode.unauthorized, 'token_missing: send an auth frame first'),
        this.deps.opts.authTimeoutMs,
      );
  }

  startAuth(token: string): void {
    const { track } = this.deps;
    this.authStarted = true;
    clearTimeout(this.authTimer);
    this.authDone = track(login(this, token, this.deps));
    this.authDone.then((ok) => (ok ? track(this.runSync()) : undefined)).catch(() => {});
  }

  enterSync(appId: string, accountId: string): void {
    this.appId = appId;
    this.accountId = accountId;
    this.phase = 'sync';
    this.deps.presence.add(this);
  }

  /** Closes with `token_expired` at `at` (epoch ms); timers longer than setTimeout's limit are re-armed. */
  expireAt(at: number): void {
    clearTimeout(this.expiryTimer);
    const ms = at - Date.now();
    if (ms <= 0) {
      this.close(CloseCode.unauthorized, 'token_expired');
      return;
    }
    this.expiryTimer = setTimeout(() => this.expireAt(at), Math.min(ms, this.deps.opts.maxTimerMs));
  }

  /** The socket is gone (whoever closed it). */
  onSocketClosed(): void {
    this.phase = 'closed';
    this.deps.presence.release(this);
    clearTimeout(this.authTimer);
    clearTimeout(this.expiryTimer);
    clearTimeout(this.killTimer);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.phase = 'closed';
    this.deps.presence.release(this);
    clearTimeout(this.authTimer);
    clearTimeout(this.expiryTimer);
    this.queue = [];
    try {
      this.ws.close(code, reasonText(reason));
    } catch {
      this.ws.terminate();
    }
    this.killTimer = setTimeout(() => this.ws.terminate(), this.deps.opts.closeGraceMs);
  }

  send(data: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(data);
    wsFramesTotal.inc({ direction: 'out' });
  }

  /**
   * The answer to a client's frame (pong, ok, error): like a live frame it never grows the buffer of a client
   * that does not read; such a client is dropped as a slow consumer.
   */
  reply(data: string): void {
    if (this.closed) return;
    if (this.ws.bufferedAmount > this.deps.opts.maxBufferedBytes) {
      this.slow();
      return;
    }
    this.send(data);
  }

  /**
   * A live frame: never waits for a slow socket; one whose buffer is full is dropped (it syncs on reconnect).
   * True when the frame was written to the open socket (or queued behind its connect-time sync).
   */
  sendLive(data: string): boolean {
    if (this.closed) return false;
    const { maxBufferedBytes } = this.deps.opts;
    if (this.phase === 'sync' || this.phase === 'auth') {
      this.queue.push(data);
      this.queueBytes += data.length;
      if (this.queueBytes > maxBufferedBytes) {
        this.slow();
        return false;
      }
      return true;
    }
    if (this.ws.bufferedAmount > maxBufferedBytes) {
      this.slow();
      return false;
    }
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(data);
    wsFramesTotal.inc({ direction: 'out' });
    return true;
  }

  /**
   * A push's live frame, unless this socket already had that push. True when the socket has the push now (the
   * frame was written, or it had it before); false when the socket is closing or was dropped meanwhile: the
   * copy is then not marked delivered, and the live-send fallback covers it.
   */
  deliver(pushId: string, data: string, forgetAt: number): boolean {
    if (this.closed) return false;
    if (this.sent.has(pushId)) return true;
    if (!this.sendLive(data)) return false;
    this.sent.set(pushId, forgetAt);
    return true;
  }

  markSent(push: PushForFrame): boolean {
    if (this.sent.has(push.id)) return false;
    this.sent.set(push.id, forgetAtOf(push));
    return true;
  }

  /** Forgets the delivered ids whose time is up (the heartbeat calls this). */
  forgetSent(now: number): void {
    for (const [id, at] of this.sent) if (at < now) this.sent.delete(id);
  }

  /** Pings; a socket that did not answer the previous ping is cut. */
  ping(): void {
    if (!this.alive) {
      this.ws.terminate();
      return;
    }
    this.alive = false;
    try {
      this.ws.ping();
    } catch {
      this.ws.terminate();
    }
  }

  private slow(): void {
    wsSlowConsumerClosesTotal.inc();
    this.deps.log.info(
      { accountId: this.accountId, buffered: this.ws.bufferedAmount },
      'dropping slow consumer',
    );
    this.close(CloseCode.slowConsumer, 'slow_consumer: reconnect to sync');
  }

  /** sync → live: the missed pushes, then `synced`, then the live frames that arrived meanwhile. */
  private async runSync(): Promise<void> {
    try {
      const sent = await sendMissed(this, this.deps.store, this.deps.opts);
      if (sent === 'slow') {
        if (!this.closed) this.slow();
        return;
      }
      if (sent === 'closed' || this.closed) return;
      this.send(frame({ type: 'synced', count: sent }));
      this.phase = 'live';
      const queued = this.queue;
      this.queue = [];
      this.queueBytes = 0;
      for (const data of queued) this.sendLive(data);
    } catch (err) {
      this.deps.log.error({ err, accountId: this.accountId }, 'sync failed');
      this.close(CloseCode.internal, 'internal_error: sync failed, reconnect');
    }
  }
}
