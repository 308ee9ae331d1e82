import type { Logger } from '../core/log.ts';
import { type AppSecrets, UserTokenError } from '../core/user-token.ts';
import { authenticate } from './auth.ts';
import type { GatewayOptions } from './options.ts';
import { CloseCode, frame, PROTOCOL } from './protocol.ts';
import type { GatewayStore } from './store.ts';

export interface LoginDeps {
  opts: Pick<GatewayOptions, 'verifiers' | 'pingIntervalMs' | 'maxFrameBytes' | 'maxConnectionsPerAccount'>;
  log: Logger;
  store: GatewayStore;
  secrets: AppSecrets;
  presence: {
    write(appId: string, accountId: string): Promise<void>;
    count(appId: string, accountId: string): number;
  };
}

/** What a login needs of a connection (gateway/connection.ts). */
export interface LoginTarget {
  readonly id: string;
  readonly closed: boolean;
  /** The language the client asked for on connect (canonical BCP 47), if any: the account takes it. */
  readonly language?: string | undefined;
  close(code: number, reason: string): void;
  send(data: string): void;
  /** auth → sync: the account is known, and the socket counts as present from now on. */
  enterSync(appId: string, accountId: string): void;
  /** Closes the socket with `token_expired` at `at` (epoch ms), however far ahead. */
  expireAt(at: number): void;
}

/**
 * A kick revokes the tokens issued before it: one without an issue time (a JWT without `iat`) cannot show it is
 * newer, so it is refused too once the account was kicked.
 */
export const revoked = (issuedAt: Date | null | undefined, validAfter: Date | null): boolean =>
  validAfter !== null && (!issuedAt || issuedAt.getTime() < validAfter.getTime());

/** The token checked, the socket counted in, the login recorded, the welcome sent. False when it was closed. */
export async function login(conn: LoginTarget, token: string, deps: LoginDeps): Promise<boolean> {
  const { opts, log, store, secrets, presence } = deps;
  let identity: Awaited<ReturnType<typeof authenticate>>;
  try {
    identity = await authenticate(token, secrets, opts.verifiers);
  } catch (err) {
    if (err instanceof UserTokenError) {
      conn.close(err.reason === 'forbidden' ? CloseCode.forbidden : CloseCode.unauthorized, err.message);
    } else {
      log.error({ err }, 'token check failed');
      conn.close(CloseCode.internal, 'internal_error');
    }
    return false;
  }
  if (conn.closed) return false;
  const { appId, accountId } = identity;
  // Checked and counted in with nothing awaited in between, so sockets connecting at once cannot all pass.
  if (presence.count(appId, accountId) >= opts.maxConnectionsPerAccount) {
    conn.close(
      CloseCode.tooManyConnections,
      `too_many_connections: at most ${opts.maxConnectionsPerAccount} per account`,
    );
    return false;
  }
  // Registered before presence is written and presence written before the sync reads: a push snapshotted
  // meanwhile is either in the sync or delivered live to this socket (or both, and sent once).
  conn.enterSync(appId, accountId);
  let login: Awaited<ReturnType<GatewayStore['recordLogin']>>;
  try {
    [, login] = await Promise.all([
      presence.write(appId, accountId),
      store.recordLogin(appId, accountId, conn.language),
    ]);
  } catch (err) {
    log.error({ err }, 'connect bookkeeping failed');
    conn.close(CloseCode.internal, 'internal_error');
    return false;
  }
  if (conn.closed) return false;
  // Checked after the socket is registered: a kick committed later finds it through the bus (gateway/fanout.ts).
  if (revoked(identity.issuedAt, login.tokensValidAfter)) {
    conn.close(CloseCode.unauthorized, 'token_revoked: the account was kicked; get a new token');
    return false;
  }
  if (identity.expiresAt) conn.expireAt(identity.expiresAt.getTime());
  if (conn.closed) return false;
  conn.send(
    frame({
      type: 'welcome',
      protocol: PROTOCOL,
      connectionId: conn.id,
      appId,
      accountId,
      serverTime: new Date().toISOString(),
      tokenExpiresAt: identity.expiresAt?.toISOString() ?? null,
      heartbeatSeconds: Math.round(opts.pingIntervalMs / 1000),
      limits: { maxFrameBytes: opts.maxFrameBytes, maxAckIds: 500 },
    }),
  );
  return true;
}
