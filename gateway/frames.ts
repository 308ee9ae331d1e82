import type { RawData } from 'ws';
import type { Logger } from '../core/log.ts';
import type { Database } from '../db/client.ts';
import { DeviceTokenError, registerDevice, removeDevice } from '../db/devices.ts';
import type { Connection } from './connection.ts';
import { CLIENT_FRAME_TYPES, type ClientFrame, CloseCode, clientFrameSchema, frame } from './protocol.ts';
import type { GatewayStore } from './store.ts';

export interface FrameDeps {
  database: Database;
  store: GatewayStore;
  log: Logger;
  /** Adds a promise to those the gateway waits for when it stops. */
  track: <T>(p: Promise<T>) => Promise<T>;
}

function replyError(conn: Connection, code: string, message: string, ref?: string): void {
  conn.send(frame({ type: 'error', code, message, ...(ref !== undefined ? { ref } : {}) }));
}

/**
 * The frames a client sends: checked against the protocol, answered in order of arrival. `ping` and `auth`
 * are answered at once; the others wait for the authentication the socket started (sync may still run).
 */
export function frameHandler(deps: FrameDeps): (conn: Connection, data: RawData, isBinary: boolean) => void {
  const { database, store, log, track } = deps;

  async function handle(conn: Connection, f: Exclude<ClientFrame, { type: 'ping' | 'auth' }>): Promise<void> {
    switch (f.type) {
      case 'ack': {
        const ids = [...new Set(f.ids ?? (f.id ? [f.id] : []))];
        const acked = await store.ack(conn.appId, conn.accountId, ids);
        if (f.ref) conn.send(frame({ type: 'ok', ref: f.ref, acked }));
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
          if (f.ref) conn.send(frame({ type: 'ok', ref: f.ref, created: r.created, movedFrom: r.movedFrom }));
        } catch (err) {
          if (!(err instanceof DeviceTokenError)) throw err;
          replyError(conn, 'invalid_device_token', err.message, f.ref);
        }
        return;
      }
      case 'unregisterDevice': {
        const removed = await removeDevice(database.db, conn.appId, conn.accountId, f.platform, f.token);
        if (f.ref) conn.send(frame({ type: 'ok', ref: f.ref, removed }));
        return;
      }
    }
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
    const refText = typeof ref === 'string' ? ref : undefined;
    if (typeof type !== 'string') {
      conn.close(CloseCode.protocolError, 'protocol_error: a frame needs a string `type`');
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
      conn.send(
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
  };
}
