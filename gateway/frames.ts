import type { RawData } from 'ws';
import type { Logger } from '../core/log.ts';
import { checkTimezone, DomainError, setAccountTimezone } from '../db/accounts.ts';
import type { Database } from '../db/client.ts';
import { DeviceTokenError, registerDevice, removeDevice } from '../db/devices.ts';
import { devicePlatform } from '../delivery/registry.ts';
import { ONLINE, recordEngagement } from '../pushes/engagement.ts';
import type { Connection } from './connection.ts';
import { throttledLog } from './limits.ts';
import type { GatewayOptions } from './options.ts';
import { CLIENT_FRAME_TYPES, type ClientFrame, CloseCode, clientFrameSchema, frame } from './protocol.ts';
import type { GatewayStore } from './store.ts';

export interface FrameDeps {
  database: Database;
  store: GatewayStore;
  log: Logger;
  opts: Pick<GatewayOptions, 'maxDevicesPerAccount' | 'framesPerSecond' | 'providerSettings'>;
  /** The APNs topics a device of the app may name (gateway/topics.ts). */
  allowedTopics: (appId: string) => Promise<string[]>;
  /** The app's VAPID public key, null without Web Push credentials (gateway/webpush-key.ts). */
  webPushKey: (appId: string) => Promise<string | null>;
  /** Adds a promise to those the gateway waits for when it stops. */
  track: <T>(p: Promise<T>) => Promise<T>;
}

function replyError(conn: Connection, code: string, message: string, ref?: string): void {
  conn.reply(frame({ type: 'error', code, message, ...(ref !== undefined ? { ref } : {}) }));
}

/** A PostgreSQL error's SQLSTATE, also when drizzle wrapped it (its `cause`). */
function sqlState(err: unknown): string | undefined {
  for (let e = err, i = 0; e && typeof e === 'object' && i < 3; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/**
 * The frames a client sends: checked against the protocol, answered in order of arrival. `ping` and `auth`
 * are answered at once; the others wait for the authentication the socket started (sync may still run). Every
 * frame takes a token of the connection's bucket and statement frames a place among its few in flight (gateway/
 * limits.ts); a frame over either is answered `rate_limited` and not run, and too many of those close the socket.
 */
export function frameHandler(deps: FrameDeps): (conn: Connection, data: RawData, isBinary: boolean) => void {
  const { database, store, log, track, opts } = deps;
  // A client can provoke a failing statement per frame; the log hears of it a few times per window, no more.
  const logFailure = throttledLog(log);

  async function handle(conn: Connection, f: Exclude<ClientFrame, { type: 'ping' | 'auth' }>): Promise<void> {
    switch (f.type) {
      case 'ack': {
        const ids = [...new Set(f.ids ?? (f.id ? [f.id] : []))];
        const acked = await store.ack(conn.appId, conn.accountId, ids);
        if (f.ref) conn.reply(frame({ type: 'ok', ref: f.ref, acked }));
        return;
      }
      case 'registerDevice': {
        if (f.topic !== undefined && !(await deps.allowedTopics(conn.appId)).includes(f.topic)) {
          replyError(conn, 'topic_not_allowed', 'topic: not one of the app’s APNs topics', f.ref);
          return;
        }
        try {
          const r = await registerDevice(
            database.db,
            conn.appId,
            {
              accountId: conn.accountId,
              platform: devicePlatform(f.platform.name, opts.providerSettings),
              token: f.token,
              environment: f.environment,
              topic: f.topic,
              deviceId: f.deviceId,
            },
            { maxDevices: opts.maxDevicesPerAccount },
          );
          // Whether and from whom the token moved is the app server's business, not the end user's.
          if (f.ref) conn.reply(frame({ type: 'ok', ref: f.ref, created: r.created }));
        } catch (err) {
          if (!(err instanceof DeviceTokenError)) throw err;
          replyError(conn, 'invalid_device_token', err.message, f.ref);
        }
        return;
      }
      case 'opened':
      case 'clicked': {
        // Counted once per account and push (pushes/engagement.ts); a click is an open too.
        const r = await recordEngagement(database.db, {
          appId: conn.appId,
          accountId: conn.accountId,
          pushId: f.id,
          event: f.type,
          channel: ONLINE,
          action: f.type === 'clicked' ? f.action : undefined,
        });
        if (f.ref)
          conn.reply(
            frame({
              type: 'ok',
              ref: f.ref,
              found: r.found,
              counted: { opened: r.opened, clicked: r.clicked },
            }),
          );
        return;
      }
      case 'profile': {
        if (f.timezone !== undefined) {
          let zone: string | null = null;
          try {
            zone = f.timezone === null ? null : await checkTimezone(database.db, f.timezone, ['timezone']);
          } catch (err) {
            if (!(err instanceof DomainError)) throw err;
            replyError(conn, err.code, err.message, f.ref);
            return;
          }
          await setAccountTimezone(database.db, conn.appId, conn.accountId, zone);
        }
        if (f.ref) conn.reply(frame({ type: 'ok', ref: f.ref }));
        return;
      }
      case 'webPushKey': {
        const publicKey = await deps.webPushKey(conn.appId);
        if (f.ref) conn.reply(frame({ type: 'ok', ref: f.ref, publicKey }));
        return;
      }
      case 'unregisterDevice': {
        const removed = await removeDevice(database.db, conn.appId, conn.accountId, f.platform, f.token);
        if (f.ref) conn.reply(frame({ type: 'ok', ref: f.ref, removed }));
        return;
      }
    }
  }

  /** A frame over a limit: answered, not run; the socket is cut once it keeps on. */
  function rateLimited(conn: Connection, why: string, ref: string | undefined): void {
    if (conn.limiter.refused()) {
      conn.close(CloseCode.rateLimited, 'rate_limited: too many frames; reconnect later');
      return;
    }
    replyError(conn, 'rate_limited', why, ref);
  }

  function failed(conn: Connection, f: ClientFrame, err: unknown): void {
    const state = sqlState(err);
    if (state?.startsWith('22')) {
      // Data the database refused (a value out of range, a character it cannot store): the frame's fault.
      logFailure('warn', { type: f.type, sqlState: state }, 'frame refused by the database');
      replyError(conn, 'invalid_frame', `${f.type}: a value the server cannot store`, f.ref);
      return;
    }
    // Only the SQLSTATE and the database's own message: drizzle's wrapper lists every bound parameter.
    const cause = state ? (err as { cause?: { message?: string } }).cause?.message : undefined;
    if (state) logFailure('warn', { type: f.type, sqlState: state, cause }, 'frame statement failed');
    else logFailure('error', { err, type: f.type }, 'frame handling failed');
    replyError(conn, 'internal', 'the server could not handle this frame; retry', f.ref);
  }

  return function onMessage(conn, data, isBinary) {
    if (conn.closed) return;
    if (isBinary) {
      conn.close(CloseCode.protocolError, 'protocol_error: binary frames are not used');
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(Array.isArray(data) ? Buffer.concat(data).toString('utf8') : data.toString());
    } catch {
      conn.close(CloseCode.protocolError, 'protocol_error: a frame is one JSON object');
      return;
    }
    const type = (parsed as { type?: unknown } | null)?.type;
    const ref = (parsed as { ref?: unknown } | null)?.ref;
    const refText = typeof ref === 'string' && ref.length <= 64 ? ref : undefined;
    if (typeof type !== 'string') {
      conn.close(CloseCode.protocolError, 'protocol_error: a frame needs a string `type`');
      return;
    }
    if (!conn.limiter.admit()) {
      rateLimited(conn, `too many frames: at most ${opts.framesPerSecond} per second`, refText);
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
      conn.reply(
        frame({ type: 'pong', serverTime: new Date().toISOString(), ...(f.ref ? { ref: f.ref } : {}) }),
      );
      return;
    }
    if (f.type === 'auth') {
      if (conn.authStarted) {
        replyError(conn, 'already_authenticated', 'auth is sent once', f.ref);
        return;
      }
      conn.startAuth(f.token);
      return;
    }
    if (!conn.authStarted) {
      conn.close(CloseCode.unauthorized, 'token_missing: the first frame must be auth');
      return;
    }
    const scheduled = conn.limiter.schedule(() =>
      track(
        conn.authDone.then(async (ok) => {
          if (!ok || conn.closed) return;
          try {
            await handle(conn, f);
          } catch (err) {
            failed(conn, f, err);
          }
        }),
      ),
    );
    if (!scheduled) rateLimited(conn, 'too many requests in flight: wait for the answers', f.ref);
  };
}
