import type { IncomingMessage } from 'node:http';
import {
  type AppSecrets,
  type UserIdentity,
  UserTokenError,
  type UserTokenVerifier,
  verifyUserToken,
} from '../core/user-token.ts';
import { accountIdProblem } from '../db/accounts.ts';
import { findAppById, findAppBySdkAppId } from '../db/apps.ts';
import type { Database } from '../db/client.ts';
import { TOKEN_PROTOCOL_PREFIX } from './protocol.ts';

/**
 * App secrets for token checks, cached briefly: a reconnect storm must not become one app lookup per
 * socket. A rotated secret key takes effect within `ttlMs`.
 */
export function cachedAppSecrets(database: Database, ttlMs = 30_000): AppSecrets {
  type Entry = { at: number; value: Promise<{ id: string; secretKey: string } | undefined> };
  const byId = new Map<string, Entry>();
  const bySdk = new Map<number, Entry>();
  const cached = <K>(
    map: Map<K, Entry>,
    key: K,
    load: () => Promise<{ id: string; secretKey: string } | undefined>,
  ) => {
    const hit = map.get(key);
    if (hit && Date.now() - hit.at < ttlMs) return hit.value;
    if (map.size > 10_000) map.clear();
    const value = load().catch((err) => {
      map.delete(key);
      throw err;
    });
    map.set(key, { at: Date.now(), value });
    return value;
  };
  const pick = (a: { id: string; secretKey: string } | undefined) =>
    a ? { id: a.id, secretKey: a.secretKey } : undefined;
  return {
    byId: (appId) => cached(byId, appId, async () => pick(await findAppById(database.db, appId))),
    bySdkAppId: (sdkAppId) =>
      cached(bySdk, sdkAppId, async () => pick(await findAppBySdkAppId(database.db, sdkAppId))),
  };
}

/**
 * Where a connecting client put its token, in this order: the `herald.token.<token>` subprotocol (what
 * browsers can do without putting it in the URL), the `token` query parameter, else nothing (the client
 * sends an `auth` frame first).
 */
export function tokenFromRequest(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers['sec-websocket-protocol'];
  const offered = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((p) => p.trim());
  const fromProtocol = offered.find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX));
  if (fromProtocol) return fromProtocol.slice(TOKEN_PROTOCOL_PREFIX.length);
  return url.searchParams.get('token') ?? undefined;
}

/** Verifies a token and checks that the account id it names is one Herald can store. */
export async function authenticate(
  token: string,
  secrets: AppSecrets,
  verifiers: readonly UserTokenVerifier[],
): Promise<UserIdentity> {
  const identity = await verifyUserToken(token, secrets, verifiers);
  const id = identity.accountId;
  const problem = accountIdProblem(id);
  if (problem) throw new UserTokenError('forbidden', `account_invalid: sub: ${problem}`);
  if (identity.expiresAt && identity.expiresAt.getTime() <= Date.now())
    throw new UserTokenError('expired', 'token_expired');
  return identity;
}
