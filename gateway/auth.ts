import type { IncomingMessage } from 'node:http';
import {
  type AppSecrets,
  USER_TOKEN_CLOCK_TOLERANCE_SECONDS,
  type UserIdentity,
  UserTokenError,
  type UserTokenVerifier,
  verifyUserToken,
} from '../core/user-token.ts';
import { MAX_USERSIG_LIFETIME_SECONDS } from '../core/usersig.ts';
import { accountIdProblem } from '../db/accounts.ts';
import { findAppById, findAppBySdkAppId } from '../db/apps.ts';
import type { Database } from '../db/client.ts';
import { Lru } from './limits.ts';
import { TOKEN_PROTOCOL_PREFIX } from './protocol.ts';

type AppKey = { id: string; secretKey: string };

/** Where the cache reads an app from (the database, or a test's counter). */
export interface AppLoaders {
  byId(appId: string): Promise<AppKey | undefined>;
  bySdkAppId(sdkAppId: number): Promise<AppKey | undefined>;
}

/**
 * App secrets for token checks, cached: a reconnect storm must not become one app lookup per socket, and a
 * flood of tokens naming made-up apps must not become one lookup per token. Answers, found or not, are kept
 * `ttlMs` (a rotated secret key takes effect within it); known and unknown apps are kept apart, each at most
 * `size` entries, least recently used dropped first, so made-up issuers can never push real apps out.
 */
export function appSecretsCache(loaders: AppLoaders, opts: { ttlMs: number; size: number }): AppSecrets {
  type Entry = { at: number; value: Promise<AppKey | undefined> };
  const cache = <K>(load: (key: K) => Promise<AppKey | undefined>) => {
    const known = new Lru<K, Entry>(opts.size);
    const unknown = new Lru<K, Entry>(opts.size);
    const fresh = (e: Entry | undefined) => (e && Date.now() - e.at < opts.ttlMs ? e : undefined);
    return (key: K): Promise<AppKey | undefined> => {
      const hit = fresh(known.get(key)) ?? fresh(unknown.get(key));
      if (hit) return hit.value;
      const entry: Entry = { at: Date.now(), value: load(key) };
      // In flight it sits with the unknown ones; once found it moves to the known ones.
      unknown.set(key, entry);
      entry.value.then(
        (app) => {
          if (!app || unknown.get(key) !== entry) return;
          unknown.delete(key);
          known.set(key, entry);
        },
        () => unknown.delete(key),
      );
      return entry.value;
    };
  };
  const pick = (a: AppKey | undefined) => (a ? { id: a.id, secretKey: a.secretKey } : undefined);
  const byId = cache<string>(async (k) => pick(await loaders.byId(k)));
  const bySdk = cache<number>(async (k) => pick(await loaders.bySdkAppId(k)));
  return { byId, bySdkAppId: bySdk };
}

export function cachedAppSecrets(database: Database, opts = { ttlMs: 30_000, size: 10_000 }): AppSecrets {
  return appSecretsCache(
    {
      byId: (appId) => findAppById(database.db, appId),
      bySdkAppId: (sdkAppId) => findAppBySdkAppId(database.db, sdkAppId),
    },
    opts,
  );
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

/** The longest lifetime the gateway accepts from any verifier: a Tencent UserSig's 180 days, plus tolerance. */
const MAX_TOKEN_AHEAD_MS = (MAX_USERSIG_LIFETIME_SECONDS + USER_TOKEN_CLOCK_TOLERANCE_SECONDS) * 1000;

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
  if (identity.expiresAt) {
    const at = identity.expiresAt.getTime();
    // Whatever verifier accepted it: an expiry that is no date, or further ahead than any token Herald mints,
    // is refused before the socket counts anywhere.
    if (!Number.isFinite(at) || at - Date.now() > MAX_TOKEN_AHEAD_MS)
      throw new UserTokenError('invalid', 'token_invalid: exp is too far ahead');
    if (at <= Date.now()) throw new UserTokenError('expired', 'token_expired');
  }
  return identity;
}
