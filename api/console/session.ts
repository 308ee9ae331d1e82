/**
 * Console sessions: an HttpOnly, SameSite=Strict cookie (Secure over https) holding a random token; the session
 * itself is a row (db/console-sessions.ts), so signing out ends it everywhere. Sessions last at most
 * SESSION_HOURS and end after IDLE_MINUTES without a request.
 *
 * Forgery: every POST must carry the session's CSRF token (form field `_csrf`, or the `X-CSRF-Token` header
 * htmx sends), and a browser's `Origin` / `Sec-Fetch-Site` must say the request came from this origin. The
 * cookie being SameSite=Strict already keeps other sites' requests from carrying it; the token and the origin
 * check keep that true behind proxies and old browsers too.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Config } from '../../core/config.ts';
import { SecretsError } from '../../core/secrets.ts';
import type { Db } from '../../db/client.ts';
import {
  type ConsoleSession,
  type ConsoleSessionKind,
  createConsoleSession,
  deleteConsoleSession,
  findConsoleSession,
} from '../../db/console-sessions.ts';
import { clientIp } from '../../gateway/limits.ts';

export const COOKIE = 'herald_console';
export const SESSION_HOURS = 12;
export const IDLE_MINUTES = 60;
const COOKIE_PATH = '/console';

export type ConsoleEnv = { Variables: { session: ConsoleSession; csrf: string } };

/** Whether the browser reached us over https (directly, or through a trusted proxy that says so). */
export function isHttps(c: Context, trustProxy: boolean): boolean {
  if (new URL(c.req.url).protocol === 'https:') return true;
  return trustProxy && c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() === 'https';
}

export async function startSession(
  c: Context,
  db: Db,
  config: Config,
  s: { kind: ConsoleSessionKind; appId: string | null; key: string },
): Promise<void> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + SESSION_HOURS * 3600_000);
  await createConsoleSession(db, {
    ...s,
    token,
    csrfToken: randomBytes(24).toString('base64url'),
    expiresAt,
  });
  setCookie(c, COOKIE, token, {
    path: COOKIE_PATH,
    httpOnly: true,
    sameSite: 'Strict',
    secure: isHttps(c, config.HERALD_TRUST_PROXY),
    expires: expiresAt,
  });
}

export async function endSession(c: Context, db: Db, session: ConsoleSession | undefined): Promise<void> {
  if (session) await deleteConsoleSession(db, session.tokenHash);
  deleteCookie(c, COOKIE, { path: COOKIE_PATH });
}

/** The request's session, or undefined (no cookie, expired, idle too long, signed out). */
export async function currentSession(c: Context, db: Db): Promise<ConsoleSession | undefined> {
  const token = getCookie(c, COOKIE);
  if (!token || !/^[\w-]{43}$/.test(token)) return undefined;
  try {
    return await findConsoleSession(db, token, IDLE_MINUTES * 60);
  } catch (err) {
    // Sealed under an encryption key this installation no longer has: sign in again.
    if (err instanceof SecretsError) return undefined;
    throw err;
  }
}

/** An htmx request is answered with HX-Redirect (it would otherwise swap the page into a fragment). */
export function redirect(c: Context, to: string): Response {
  if (c.req.header('hx-request') === 'true') {
    c.header('hx-redirect', to);
    return c.body(null, 204);
  }
  return c.redirect(to, 303);
}

/** Pages need a session; without one, back to sign-in. */
export function requireSession(db: Db): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    const session = await currentSession(c, db);
    if (!session) {
      if (c.req.method === 'GET' && c.req.header('accept')?.includes('text/event-stream'))
        return c.body('signed out', 401);
      return redirect(c, '/console/sign-in');
    }
    c.set('session', session);
    c.set('csrf', session.csrfToken);
    await next();
  };
}

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** Refusal text when a state-changing request did not come from this origin's pages, else undefined. */
export function crossSiteProblem(c: Context, trustProxy: boolean): string | undefined {
  const site = c.req.header('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin') return `the request came from another site (${site})`;
  const origin = c.req.header('origin');
  if (origin === undefined || origin === new URL(c.req.url).origin) return undefined;
  const host = (trustProxy ? c.req.header('x-forwarded-host') : undefined) ?? c.req.header('host');
  let originHost: string | undefined;
  try {
    originHost = new URL(origin).host;
  } catch {
    originHost = undefined; // `Origin: null` and the like
  }
  return host && originHost === host ? undefined : 'the request came from another origin';
}

/**
 * Every POST of a signed-in page: from this origin, with the session's CSRF token. The body is read (form)
 * only after the session was found, and only up to the console's body limit (mounted before this).
 */
export function checkCsrf(trustProxy: boolean): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    if (c.req.method !== 'POST') return next();
    const problem = crossSiteProblem(c, trustProxy);
    if (problem) return c.text(`Refused: ${problem}`, 403);
    let token = c.req.header('x-csrf-token');
    if (token === undefined) {
      const form = await c.req.parseBody();
      token = typeof form._csrf === 'string' ? form._csrf : undefined;
    }
    if (!token || !same(token, c.get('csrf')))
      return c.text('Refused: the form is stale or not from this console; reload the page', 403);
    await next();
  };
}

/** Failed sign-ins per client address and window, per api process: a key cannot be guessed at speed. */
export function signInLimiter(config: Config, maxFailures = 10, windowMs = 5 * 60_000, maxClients = 10_000) {
  const failures = new Map<string, { count: number; since: number }>();
  const ipOf = (c: Context) => {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    return clientIp(
      Object.fromEntries(Object.entries(c.req.header())),
      incoming?.socket.remoteAddress,
      config.HERALD_TRUST_PROXY,
    );
  };
  const entry = (ip: string, now: number) => {
    const e = failures.get(ip);
    if (e && now - e.since < windowMs) return e;
    failures.delete(ip);
    return undefined;
  };
  return {
    /** Seconds until this client may try again, or 0. */
    retryAfter(c: Context, now = Date.now()): number {
      const e = entry(ipOf(c), now);
      return e && e.count >= maxFailures ? Math.ceil((e.since + windowMs - now) / 1000) : 0;
    },
    failed(c: Context, now = Date.now()): void {
      const ip = ipOf(c);
      const e = entry(ip, now);
      if (e) e.count++;
      else {
        // The oldest entry makes room: the map never grows past maxClients.
        if (failures.size >= maxClients) failures.delete(failures.keys().next().value as string);
        failures.set(ip, { count: 1, since: now });
      }
    },
  };
}
