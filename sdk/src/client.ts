import type { Platform } from './platforms.ts';
import {
  CloseCode,
  type HeraldMessage,
  PROTOCOL,
  type Recall,
  type ServerFrame,
  TOKEN_PROTOCOL_PREFIX,
  type Welcome,
} from './protocol.ts';
import {
  resolveWebSocket,
  type WebSocketConstructor,
  type WebSocketFallback,
  type WebSocketLike,
} from './socket.ts';
import { type HeraldStorage, parseStored, type StoredState } from './storage.ts';

export type { Platform };
export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ReconnectOptions {
  /** First delay after a connection is lost (ms); default 500. */
  initialDelayMs?: number;
  /** Longest delay between attempts (ms); default 30 000. */
  maxDelayMs?: number;
  /** Growth of the delay per failed attempt; default 2. */
  factor?: number;
}

export interface HeraldClientOptions {
  /** The Herald server: `https://push.example.com`, or the full `wss://push.example.com/v1/connect`. */
  url: string;
  /** A user token minted by your app server. */
  token?: string;
  /**
   * Called before every connection attempt, including the reconnect after the server refused an expired token
   * (close 4001): return a fresh token, and the same client carries on.
   */
  getToken?: () => string | Promise<string>;
  /**
   * How the token is sent: `protocol` (the `herald.token.<token>` subprotocol, default), `query`
   * (`?token=`, visible in server logs) or `frame` (an `auth` frame after the socket opens).
   */
  auth?: 'protocol' | 'query' | 'frame';
  /** Reconnect when the connection is lost (default true), with exponential backoff and jitter. */
  reconnect?: boolean | ReconnectOptions;
  /** Application-level ping interval (ms); default 25 000. A connection silent after a ping is replaced. */
  pingIntervalMs?: number;
  /** How long to wait for any frame after a ping (ms); default 10 000. */
  pongTimeoutMs?: number;
  /**
   * Start connecting by itself (default true), on a later microtask than the constructor's, so listeners added
   * right after `new HeraldClient(…)` see every state from `connecting` on. Otherwise call `connect()`.
   */
  autoConnect?: boolean;
  /**
   * A WebSocket implementation; default the global one (browsers, React Native, Deno, Bun, Node ≥ 22), else —
   * in Node only — the `ws` package.
   */
  WebSocket?: WebSocketConstructor;
  /** How many delivered message ids are remembered to drop duplicates; default 10 000. */
  rememberIds?: number;
  /**
   * Where the delivered ids and unsent acks are kept beyond the client object: `localStorage`, React Native's
   * AsyncStorage, or anything with `getItem` / `setItem`. Default: memory only (kept across reconnects, lost
   * with the client).
   */
  storage?: HeraldStorage;
  /**
   * The app's stable id of this installation (1–128 of `A-Z a-z 0-9 . _ : -`), sent with every
   * registerDevice: the tokens it registers for several channels are then one device.
   */
  deviceId?: string;
  /**
   * The user's time zone for local-time delivery (docs/pushes.md), sent on every connect in a `profile`
   * frame: an IANA name, or `auto` (the default) for the device's own zone
   * (`Intl.DateTimeFormat().resolvedOptions().timeZone`); `false` sends nothing.
   */
  timezone?: string | 'auto' | false;
  /** Prefix of the storage key; the key is `<prefix><appId>:<accountId>`. Default `herald:`. */
  storageKeyPrefix?: string;
  /**
   * The user's language, a BCP 47 tag (`zh-CN`, `zh-Hant-TW`, e.g. `navigator.language`): the account takes it
   * on every connect, and pushes with language variants arrive in the best match of it. Default: the account's
   * language stays as the app server set it.
   */
  language?: string;
}

/** The answer to `opened` / `clicked`: whether the push exists, and what was counted now (false: before). */
export interface EngagementAnswer {
  found: boolean;
  counted: { opened: boolean; clicked: boolean };
}

export interface CloseInfo {
  code: number;
  reason: string;
  /** Whether the client will connect again by itself. */
  willReconnect: boolean;
}

/** A failure: `code` is the server's error code, or `closed_<close code>` when the server closed for good. */
export class HeraldError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly closeCode?: number,
  ) {
    super(message);
    this.name = 'HeraldError';
  }
}

export interface HeraldEvents {
  /** Connected and authenticated; missed messages follow, then `synced`. */
  open: (welcome: Welcome) => void;
  /** A push for this account. Delivered once per client even across reconnects; ack it when shown. */
  message: (message: HeraldMessage) => void;
  /** The backlog of missed messages has been delivered (`count` new ones on this connection). */
  synced: (info: { count: number }) => void;
  /** The app server recalled a push: remove it if it is shown. */
  recall: (recall: Recall) => void;
  close: (info: CloseInfo) => void;
  error: (error: HeraldError) => void;
  state: (state: ClientState) => void;
}

interface PendingRequest {
  body: Record<string, unknown>;
  resolve: (value: Record<string, unknown>) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Characters a WebSocket subprotocol may hold (an HTTP token). */
const TOKEN_CHARS = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
const MAX_ACK_IDS = 500;
const REQUEST_TIMEOUT_MS = 15_000;
const REMEMBER_MS = 60 * 60_000;

/**
 * `https://host` → `wss://host/v1/connect`; a ws(s) URL with a path is kept as it is. The token (auth `query`)
 * and the language go as query parameters.
 */
export function connectUrl(base: string, token?: string, language?: string): string {
  const u = new URL(base);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:')
    throw new TypeError(`not an http(s) or ws(s) URL: ${base}`);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/connect';
  if (token !== undefined) u.searchParams.set('token', token);
  if (language !== undefined) u.searchParams.set('language', language);
  return u.toString();
}

/** The backoff step a close for load (4409, 4429) starts from. */
const LOAD_BACKOFF_ATTEMPT = 5;

/** Exponential backoff with "equal jitter": half the delay fixed, half random. */
export function backoffDelay(attempt: number, o: Required<ReconnectOptions>, random = Math.random): number {
  const capped = Math.min(o.maxDelayMs, o.initialDelayMs * o.factor ** attempt);
  return Math.round(capped / 2 + (random() * capped) / 2);
}

/**
 * A connection to Herald for one account: receives pushes (missed ones first, then live ones), acks them,
 * hears recalls, registers the device's APNs / FCM token or the browser's Web Push subscription. Reconnects by itself and never hands the same
 * message to the app twice.
 */
/** The ref of the profile frame sent on connect, whose answer is not waited for. */
const PROFILE_REF = 'herald:profile';

export class HeraldClient {
  private readonly opts: HeraldClientOptions;
  private readonly backoff: Required<ReconnectOptions> | undefined;
  private readonly listeners = new Map<keyof HeraldEvents, Set<(...args: never[]) => void>>();
  /** Delivered message ids → [forget at (ms), acked by the app]. */
  private readonly delivered = new Map<string, { forgetAt: number; acked: boolean }>();
  private readonly pendingAcks = new Set<string>();
  private readonly requests = new Map<string, PendingRequest>();
  private readonly waiters: { resolve: (w: Welcome) => void; reject: (e: Error) => void }[] = [];
  private ws: WebSocketLike | undefined;
  private generation = 0;
  private attempt = 0;
  private seq = 0;
  private stopped = false;
  private current: ClientState = 'idle';
  private welcome: Welcome | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private lastFrameAt = 0;
  /** Frames held while the stored state of the welcomed account loads. */
  private inbox: ServerFrame[] | undefined;
  /** The storage key whose state is merged into `delivered` / `pendingAcks`. */
  private storageKey: string | undefined;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly fallback: WebSocketFallback | undefined;

  /** `fallback` is for the Node entry point (where a missing global WebSocket means: use `ws`). */
  constructor(options: HeraldClientOptions, fallback?: WebSocketFallback) {
    if (!options.token && !options.getToken) throw new TypeError('HeraldClient needs `token` or `getToken`');
    connectUrl(options.url);
    if (options.language !== undefined) {
      // The server refuses a tag that is not BCP 47 (close 4400), which would stop reconnecting: say so now.
      try {
        if (options.language.length > 35) throw new RangeError('too long');
        Intl.getCanonicalLocales(options.language);
      } catch {
        throw new TypeError(
          `language: not a BCP 47 language tag of at most 35 characters: ${JSON.stringify(options.language)}`,
        );
      }
    }
    this.opts = options;
    const r = options.reconnect ?? true;
    this.backoff =
      r === false
        ? undefined
        : {
            initialDelayMs: 500,
            maxDelayMs: 30_000,
            factor: 2,
            ...(r === true ? {} : r),
          };
    this.fallback = fallback;
    // On a later microtask, so that listeners added right after construction see `connecting`.
    if (options.autoConnect !== false)
      void Promise.resolve().then(() => {
        if (this.current === 'idle') this.connect().catch(() => {});
      });
  }

  /** 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'. */
  get state(): ClientState {
    return this.current;
  }

  /** The account this client is connected as, once open. */
  get accountId(): string | undefined {
    return this.welcome?.accountId;
  }

  on<E extends keyof HeraldEvents>(event: E, fn: HeraldEvents[E]): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(fn as (...args: never[]) => void);
    return () => this.off(event, fn);
  }

  off<E extends keyof HeraldEvents>(event: E, fn: HeraldEvents[E]): void {
    this.listeners.get(event)?.delete(fn as (...args: never[]) => void);
  }

  /** Connects (if not connected or connecting) and resolves when the server has welcomed this client. */
  connect(): Promise<Welcome> {
    if (this.current === 'open' && this.welcome) return Promise.resolve(this.welcome);
    const p = new Promise<Welcome>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.current === 'idle' || this.current === 'closed') {
      this.stopped = false;
      this.attempt = 0;
      void this.open();
    }
    return p;
  }

  /** Acknowledges messages the app has shown; the server never sends them to this account again. */
  ack(ids: string | readonly string[]): void {
    for (const id of typeof ids === 'string' ? [ids] : ids) {
      this.pendingAcks.add(id);
      const d = this.delivered.get(id);
      if (d) d.acked = true;
    }
    this.scheduleSave();
    if (!this.ackTimer) this.ackTimer = setTimeout(() => this.flushAcks(), 0);
  }

  /**
   * Registers this device's push token (a Web Push subscription's token: `subscribeWebPush` does it) for the
   * account (moved here if another account had it; the answer does not say which). A `topic` must be one of the
   * app's configured APNs topics. `deviceId` (default: the client's `deviceId` option) makes this device's tokens
   * of several channels one device: a phone with both its maker's push token and an FCM token gets one
   * notification per push, not two.
   */
  registerDevice(
    platform: Platform,
    token: string,
    options: { environment?: 'sandbox' | 'production'; topic?: string; deviceId?: string } = {},
  ): Promise<{ created: boolean }> {
    const deviceId = options.deviceId ?? this.opts.deviceId;
    return this.request({
      type: 'registerDevice',
      platform,
      token,
      ...options,
      ...(deviceId === undefined ? {} : { deviceId }),
    }) as Promise<{
      created: boolean;
    }>;
  }

  /**
   * Reports that the user opened (saw) a message: counted once per account and message on the server, which
   * feeds the push's report, its funnel and the app's webhooks. Sent now when open, else on the next welcome.
   */
  opened(id: string): Promise<EngagementAnswer> {
    return this.request({ type: 'opened', id }).then((a) => a as unknown as EngagementAnswer);
  }

  /** Reports a click on a message (and so an open), with what was clicked (`action`, ≤ 128 characters). */
  clicked(id: string, action?: string): Promise<EngagementAnswer> {
    return this.request({ type: 'clicked', id, ...(action !== undefined ? { action } : {}) }).then(
      (a) => a as unknown as EngagementAnswer,
    );
  }

  /**
   * The app's VAPID public key, which a browser subscribes to Web Push with (`applicationServerKey`); null when the
   * app has no Web Push credentials. `subscribeWebPush` asks for it.
   */
  async webPushKey(): Promise<string | null> {
    const answer = await this.request({ type: 'webPushKey' });
    return typeof answer.publicKey === 'string' ? answer.publicKey : null;
  }

  /** Removes this device's token from the account (e.g. on logout). */
  unregisterDevice(platform: Platform, token: string): Promise<{ removed: boolean }> {
    return this.request({ type: 'unregisterDevice', platform, token }) as Promise<{ removed: boolean }>;
  }

  /** Closes for good: no reconnect, pending requests fail. */
  close(): void {
    this.stopped = true;
    this.generation++;
    clearTimeout(this.reconnectTimer);
    this.stopPing();
    this.flushAcks();
    const ws = this.ws;
    this.ws = undefined;
    this.welcome = undefined;
    try {
      ws?.close(CloseCode.normal, 'client closed');
    } catch {
      // already closing
    }
    this.inbox = undefined;
    this.save();
    this.failAll(new HeraldError('closed', 'the client was closed'));
    this.setState('closed');
  }

  // ---------- internals ----------

  private emit<E extends keyof HeraldEvents>(event: E, ...args: Parameters<HeraldEvents[E]>): void {
    for (const fn of [...(this.listeners.get(event) ?? [])]) {
      try {
        (fn as unknown as (...a: Parameters<HeraldEvents[E]>) => void)(...args);
      } catch (err) {
        // A listener's bug must not break the connection; surface it asynchronously.
        setTimeout(() => {
          throw err;
        }, 0);
      }
    }
  }

  private setState(s: ClientState): void {
    if (s === this.current) return;
    this.current = s;
    this.emit('state', s);
  }

  private async open(): Promise<void> {
    const gen = ++this.generation;
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    let token: string;
    let Ctor: WebSocketConstructor;
    try {
      token = this.opts.getToken ? await this.opts.getToken() : (this.opts.token as string);
      Ctor = await resolveWebSocket(this.opts.WebSocket, this.fallback);
    } catch (err) {
      if (gen !== this.generation) return;
      this.emit('error', new HeraldError('connect_failed', (err as Error).message));
      this.lost(CloseCode.abnormal, 'could not start a connection');
      return;
    }
    if (gen !== this.generation || this.stopped) return;
    let mode = this.opts.auth ?? 'protocol';
    if (mode === 'protocol' && !TOKEN_CHARS.test(token)) mode = 'frame';
    let ws: WebSocketLike;
    try {
      ws = new Ctor(
        connectUrl(this.opts.url, mode === 'query' ? token : undefined, this.opts.language),
        mode === 'protocol' ? [PROTOCOL, `${TOKEN_PROTOCOL_PREFIX}${token}`] : [PROTOCOL],
      );
    } catch (err) {
      this.emit('error', new HeraldError('connect_failed', (err as Error).message));
      this.lost(CloseCode.abnormal, 'could not open a WebSocket');
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (gen !== this.generation) return;
      if (mode === 'frame') ws.send(JSON.stringify({ type: 'auth', token }));
      this.startPing(gen);
    };
    ws.onmessage = (ev) => {
      if (gen !== this.generation) return;
      this.lastFrameAt = Date.now();
      let f: ServerFrame;
      try {
        f = JSON.parse(String(ev.data)) as ServerFrame;
      } catch {
        return;
      }
      if (this.inbox) this.inbox.push(f);
      else if (f.type === 'welcome' && this.needsLoad(f)) void this.loadThen(f, gen);
      else this.onFrame(f);
    };
    ws.onclose = (ev) => {
      if (gen !== this.generation) return;
      this.lost(ev.code, ev.reason);
    };
    ws.onerror = () => {
      // A close event follows with the code.
    };
  }

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case 'welcome': {
        const { type: _, ...welcome } = f;
        this.welcome = welcome;
        this.attempt = 0;
        this.setState('open');
        this.emit('open', welcome);
        for (const w of this.waiters.splice(0)) w.resolve(welcome);
        this.flushAcks();
        this.sendProfile();
        for (const [ref, r] of this.requests) this.send({ ...r.body, ref });
        return;
      }
      case 'message': {
        const { type: _, ...message } = f;
        const seen = this.delivered.get(message.id);
        if (seen) {
          // Offered again: the ack may have been lost with a connection; send it again.
          if (seen.acked) this.ack(message.id);
          return;
        }
        this.remember(message);
        this.emit('message', message);
        return;
      }
      case 'synced':
        this.emit('synced', { count: f.count });
        return;
      case 'recall':
        this.emit('recall', { id: f.id, pushId: f.pushId });
        return;
      case 'pong':
        return;
      case 'ok': {
        const r = this.requests.get(f.ref);
        if (!r) return;
        this.requests.delete(f.ref);
        clearTimeout(r.timer);
        const { type: _, ref: __, ...rest } = f;
        r.resolve(rest);
        return;
      }
      case 'error': {
        const err = new HeraldError(f.code, f.message);
        // The profile's answer: a zone the server does not know, or an older server without the frame.
        if (f.ref === PROFILE_REF) return;
        const r = f.ref !== undefined ? this.requests.get(f.ref) : undefined;
        if (r && f.ref !== undefined) {
          this.requests.delete(f.ref);
          clearTimeout(r.timer);
          r.reject(err);
        } else this.emit('error', err);
        return;
      }
    }
  }

  private keyFor(w: Welcome): string {
    return `${this.opts.storageKeyPrefix ?? 'herald:'}${w.appId}:${w.accountId}`;
  }

  private needsLoad(w: Welcome): boolean {
    return this.opts.storage !== undefined && this.storageKey !== this.keyFor(w);
  }

  /** Loads the welcomed account's stored state, holding frames meanwhile, then handles them in order. */
  private async loadThen(welcome: ServerFrame & { type: 'welcome' }, gen: number): Promise<void> {
    const inbox: ServerFrame[] = [];
    this.inbox = inbox;
    const key = this.keyFor(welcome);
    let stored: StoredState | undefined;
    try {
      stored = parseStored(await this.opts.storage?.getItem(key));
    } catch (err) {
      this.emit('error', new HeraldError('storage_failed', (err as Error).message));
    }
    if (gen !== this.generation || this.inbox !== inbox) return;
    this.inbox = undefined;
    this.storageKey = key;
    for (const [id, forgetAt, acked] of stored?.delivered ?? [])
      if (!this.delivered.has(id)) this.delivered.set(id, { forgetAt, acked: acked === 1 });
    for (const id of stored?.pendingAcks ?? []) this.pendingAcks.add(id);
    this.onFrame(welcome);
    for (const f of inbox) {
      if (gen !== this.generation) return;
      this.onFrame(f);
    }
  }

  private scheduleSave(): void {
    if (!this.opts.storage || !this.storageKey || this.saveTimer) return;
    this.saveTimer = setTimeout(() => this.save(), 50);
  }

  private save(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    const storage = this.opts.storage;
    if (!storage || !this.storageKey) return;
    const state: StoredState = {
      v: 1,
      delivered: [...this.delivered].map(([id, d]) => [id, d.forgetAt, d.acked ? 1 : 0]),
      pendingAcks: [...this.pendingAcks],
    };
    try {
      Promise.resolve(storage.setItem(this.storageKey, JSON.stringify(state))).catch((err: Error) =>
        this.emit('error', new HeraldError('storage_failed', err.message)),
      );
    } catch (err) {
      this.emit('error', new HeraldError('storage_failed', (err as Error).message));
    }
  }

  private remember(m: HeraldMessage): void {
    const now = Date.now();
    const until = Math.max(m.expiresAt ? Date.parse(m.expiresAt) : 0, now) + REMEMBER_MS;
    this.delivered.set(m.id, { forgetAt: until, acked: false });
    this.scheduleSave();
    const cap = this.opts.rememberIds ?? 10_000;
    if (this.delivered.size <= cap) return;
    for (const [id, d] of this.delivered) if (d.forgetAt < now) this.delivered.delete(id);
    for (const id of this.delivered.keys()) {
      if (this.delivered.size <= cap) break;
      this.delivered.delete(id);
    }
  }

  /** The socket is gone: reconnect after a backoff, unless the server said not to. */
  private lost(code: number, reason: string): void {
    this.generation++;
    this.inbox = undefined;
    this.stopPing();
    this.ws = undefined;
    this.welcome = undefined;
    if (this.stopped) return;
    const refused =
      code === CloseCode.forbidden ||
      code === CloseCode.protocolError ||
      (code === CloseCode.unauthorized && !this.opts.getToken);
    const willReconnect = !refused && this.backoff !== undefined;
    this.emit('close', { code, reason, willReconnect });
    if (!willReconnect) {
      const err = new HeraldError(`closed_${code}`, reason || `connection closed (${code})`, code);
      if (refused) this.emit('error', err);
      this.failAll(err);
      this.setState('closed');
      return;
    }
    // Refused for load (too many frames, too many connections): never back within a second, even after a
    // welcome reset the backoff; start from the sixth step (8–16 s with the default options).
    if (code === CloseCode.rateLimited || code === CloseCode.tooManyConnections)
      this.attempt = Math.max(this.attempt, LOAD_BACKOFF_ATTEMPT);
    const delay = backoffDelay(this.attempt++, this.backoff as Required<ReconnectOptions>);
    this.setState('reconnecting');
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.open(), delay);
  }

  private failAll(err: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
    for (const [ref, r] of this.requests) {
      this.requests.delete(ref);
      clearTimeout(r.timer);
      r.reject(err);
    }
  }

  /** The device's zone, once per connection; a server that does not know the frame answers an error, ignored. */
  private sendProfile(): void {
    const option = this.opts.timezone ?? 'auto';
    if (option === false) return;
    let timezone: string | undefined = option;
    if (option === 'auto') {
      try {
        timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      } catch {
        timezone = undefined;
      }
    }
    if (timezone) this.send({ type: 'profile', timezone, ref: PROFILE_REF });
  }

  private send(body: Record<string, unknown>): boolean {
    const ws = this.ws;
    if (!ws || this.current !== 'open' || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(body));
    return true;
  }

  private flushAcks(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    if (!this.pendingAcks.size || this.current !== 'open') return;
    const ids = [...this.pendingAcks];
    for (let i = 0; i < ids.length; i += MAX_ACK_IDS) {
      if (!this.send({ type: 'ack', ids: ids.slice(i, i + MAX_ACK_IDS) })) return;
      for (const id of ids.slice(i, i + MAX_ACK_IDS)) this.pendingAcks.delete(id);
    }
    this.scheduleSave();
  }

  private request(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.stopped) return Promise.reject(new HeraldError('closed', 'the client was closed'));
    const ref = `r${++this.seq}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requests.delete(ref);
        reject(new HeraldError('timeout', `no answer to ${String(body.type)} in ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.requests.set(ref, { body, resolve, reject, timer });
      // Sent now when open, else on the next welcome.
      this.send({ ...body, ref });
    });
  }

  private startPing(gen: number): void {
    this.stopPing();
    const every = this.opts.pingIntervalMs ?? 25_000;
    const timeout = this.opts.pongTimeoutMs ?? 10_000;
    this.pingTimer = setInterval(() => {
      if (gen !== this.generation) return;
      const sentAt = Date.now();
      try {
        this.ws?.send(JSON.stringify({ type: 'ping' }));
      } catch {
        return;
      }
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => {
        if (gen !== this.generation || this.lastFrameAt >= sentAt) return;
        // Silent connection (a dead network path): drop it and connect again.
        const ws = this.ws;
        this.lost(CloseCode.abnormal, 'ping timeout');
        try {
          ws?.close(CloseCode.normal, 'ping timeout');
        } catch {
          // ignore
        }
      }, timeout);
    }, every);
  }

  private stopPing(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = undefined;
    this.pongTimer = undefined;
  }
}
