/**
 * The browser console's sessions (api/console/session.ts): created at sign-in, read and touched on every
 * console request, deleted at sign-out. The key the session acts with is sealed under the installation's
 * encryption key, bound to the session's row, so a copied value opens nowhere else.
 */
import { createHash } from 'node:crypto';
import { and, eq, gt, sql } from 'drizzle-orm';
import { seal, unseal } from '../core/secrets.ts';
import type { Db } from './client.ts';
import { consoleSessions } from './schema.ts';

export type ConsoleSessionKind = 'app' | 'root';

export interface ConsoleSession {
  tokenHash: string;
  kind: ConsoleSessionKind;
  /** The app the session acts as (for a root session: the app chosen; null before one is). */
  appId: string | null;
  /** The API key or the root key, opened. */
  key: string;
  csrfToken: string;
  expiresAt: Date;
}

export const hashSessionToken = (token: string): string => createHash('sha256').update(token).digest('hex');
const keyContext = (tokenHash: string) => `console_sessions:${tokenHash}:sealed_key`;

export async function createConsoleSession(
  db: Db,
  s: {
    token: string;
    kind: ConsoleSessionKind;
    appId: string | null;
    key: string;
    csrfToken: string;
    expiresAt: Date;
  },
): Promise<void> {
  const tokenHash = hashSessionToken(s.token);
  // Sessions long over are dropped as new ones begin, a few at a time (no sweeper needed).
  await db.execute(sql`
    delete from console_sessions where token_hash in (
      select token_hash from console_sessions where expires_at < now() limit 100)`);
  await db.insert(consoleSessions).values({
    tokenHash,
    kind: s.kind,
    appId: s.appId,
    sealedKey: seal(s.key, keyContext(tokenHash)),
    csrfToken: s.csrfToken,
    expiresAt: s.expiresAt,
  });
}

/**
 * The live session of a cookie's token, touched (its idle clock restarted) at most once a minute; undefined
 * when there is none, it expired, or it sat idle longer than `idleSeconds`.
 */
export async function findConsoleSession(
  db: Db,
  token: string,
  idleSeconds: number,
): Promise<ConsoleSession | undefined> {
  const tokenHash = hashSessionToken(token);
  const [row] = await db
    .select()
    .from(consoleSessions)
    .where(
      and(
        eq(consoleSessions.tokenHash, tokenHash),
        gt(consoleSessions.expiresAt, sql`now()`),
        gt(consoleSessions.lastSeenAt, sql`now() - make_interval(secs => ${idleSeconds})`),
      ),
    )
    .limit(1);
  if (!row) return undefined;
  if (Date.now() - row.lastSeenAt.getTime() > 60_000) {
    await db
      .update(consoleSessions)
      .set({ lastSeenAt: sql`now()` })
      .where(eq(consoleSessions.tokenHash, tokenHash));
  }
  return {
    tokenHash,
    kind: row.kind,
    appId: row.appId,
    key: unseal(row.sealedKey, keyContext(tokenHash)),
    csrfToken: row.csrfToken,
    expiresAt: row.expiresAt,
  };
}

/** A root session's chosen app, or a session's new key after the console rotated it. */
export async function updateConsoleSession(
  db: Db,
  tokenHash: string,
  change: { appId?: string | null; key?: string },
): Promise<void> {
  await db
    .update(consoleSessions)
    .set({
      ...(change.appId !== undefined ? { appId: change.appId } : {}),
      ...(change.key !== undefined ? { sealedKey: seal(change.key, keyContext(tokenHash)) } : {}),
    })
    .where(eq(consoleSessions.tokenHash, tokenHash));
}

export async function deleteConsoleSession(db: Db, tokenHash: string): Promise<void> {
  await db.delete(consoleSessions).where(eq(consoleSessions.tokenHash, tokenHash));
}
