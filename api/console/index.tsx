/**
 * The operator console at /console: server-rendered pages (hono/jsx) with htmx for the live parts, all served
 * by the api process, no build step. Every read and change is a call of the REST API in process with the
 * session's key (rest.ts), so the console validates and refuses exactly as the API does.
 */
import { Hono } from 'hono';
import { assetStore, CSS, JS } from '../assets.ts';
import type { ApiDeps } from '../context.ts';
import { limitBody } from '../middleware.ts';
import type { ConsoleOptions, Cx } from './context.tsx';
import { ASSET_PATHS } from './layout.tsx';
import { accountsRoutes } from './pages/accounts.tsx';
import { appsRoutes } from './pages/apps.tsx';
import { campaignsRoutes } from './pages/campaigns.tsx';
import { composeRoutes } from './pages/compose.tsx';
import { pushesRoutes } from './pages/pushes.tsx';
import { settingsRoutes } from './pages/settings.tsx';
import { signInRoutes, signOutRoute } from './pages/sign-in.tsx';
import type { Fetch } from './rest.ts';
import { type ConsoleEnv, checkCsrf, redirect, requireSession } from './session.ts';

export type { ConsoleOptions };

/** No inline script or style, nothing from another origin, no framing. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Mount at /console; `fetch` is the API's own (the REST app, called in process). */
export function consoleRoutes(deps: ApiDeps, fetch: Fetch, options: ConsoleOptions = {}) {
  const assets = assetStore({
    [ASSET_PATHS.css]: { from: { local: 'console/assets/console.css' }, type: CSS },
    [ASSET_PATHS.js]: { from: { local: 'console/assets/console.js' }, type: JS },
    [ASSET_PATHS.htmx]: { from: { module: 'htmx.org/dist/htmx.min.js' }, type: JS },
    [ASSET_PATHS.sse]: { from: { module: 'htmx-ext-sse/dist/sse.min.js' }, type: JS },
  });
  const cx: Cx = { deps, fetch, assets, options };
  const r = new Hono<ConsoleEnv>();
  r.use('*', async (c, next) => {
    await next();
    c.header('content-security-policy', CONTENT_SECURITY_POLICY);
    c.header('x-frame-options', 'DENY');
    c.header('referrer-policy', 'same-origin');
    c.header('x-content-type-options', 'nosniff');
  });
  r.get('/assets/*', async (c) => (await assets.serve(c)) ?? c.text('Not found', 404));
  r.route('/', signInRoutes(cx));

  // Everything below needs a session; a POST's body is read only after it was found, and only so far.
  const signedIn = new Hono<ConsoleEnv>();
  signedIn.use('*', requireSession(deps.database.db));
  signedIn.use(
    '*',
    limitBody(() => deps.config.HERALD_MAX_BODY_BYTES),
  );
  signedIn.use('*', checkCsrf(deps.config.HERALD_TRUST_PROXY));
  signedIn.get('/', (c) => {
    const s = c.get('session');
    return redirect(c, s.kind === 'root' && !s.appId ? '/console/apps' : '/console/pushes');
  });
  signedIn.route('/', signOutRoute(cx));
  signedIn.route('/', appsRoutes(cx));
  // A root session acts on the app it chose; until it has, only /console/apps.
  signedIn.use('*', async (c, next) => {
    const s = c.get('session');
    if (s.kind === 'root' && !s.appId) return redirect(c, '/console/apps');
    await next();
  });
  signedIn.route('/', pushesRoutes(cx));
  signedIn.route('/', composeRoutes(cx));
  signedIn.route('/', campaignsRoutes(cx));
  signedIn.route('/', accountsRoutes(cx));
  signedIn.route('/', settingsRoutes(cx));
  r.route('/', signedIn);
  return r;
}
