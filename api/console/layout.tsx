/**
 * The page shell: header with the app and the navigation, the main landmark, and the assets (all from this
 * installation). No inline script or style anywhere: the Content-Security-Policy (security.ts) forbids them.
 */
import type { Child } from 'hono/jsx';
import type { AssetStore } from '../assets.ts';

export interface Shell {
  /** The signed-in app's name (undefined on the sign-in page, or a root session before it chose an app). */
  appName?: string | undefined;
  root?: boolean;
  csrf?: string | undefined;
  /** The nav entry of this page. */
  current?: string;
}

/** The navigation. Schedules and other sections join here (a `{ href, label }` line each). */
export const NAV: { href: string; label: string; root?: boolean; needsApp?: boolean }[] = [
  { href: '/console/pushes', label: 'Pushes', needsApp: true },
  { href: '/console/compose', label: 'Compose', needsApp: true },
  { href: '/console/campaigns', label: 'Campaigns', needsApp: true },
  { href: '/console/accounts', label: 'Accounts', needsApp: true },
  { href: '/console/settings', label: 'Settings', needsApp: true },
  { href: '/console/apps', label: 'Apps', root: true },
];

export interface AssetUrls {
  css: string;
  htmx: string;
  sse: string;
  js: string;
}

export const ASSET_PATHS = {
  css: '/console/assets/console.css',
  htmx: '/console/assets/htmx.min.js',
  sse: '/console/assets/sse.min.js',
  js: '/console/assets/console.js',
} as const;

export async function assetUrls(store: AssetStore): Promise<AssetUrls> {
  const [css, htmx, sse, js] = await Promise.all([
    store.url(ASSET_PATHS.css),
    store.url(ASSET_PATHS.htmx),
    store.url(ASSET_PATHS.sse),
    store.url(ASSET_PATHS.js),
  ]);
  return { css, htmx, sse, js };
}

const HTMX_CONFIG = JSON.stringify({
  includeIndicatorStyles: false,
  allowEval: false,
  allowScriptTags: false,
  selfRequestsOnly: true,
  historyCacheSize: 0,
});

export function Layout(props: { title: string; shell: Shell; assets: AssetUrls; children?: Child }) {
  const { shell, assets } = props;
  const signedIn = shell.csrf !== undefined;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="htmx-config" content={HTMX_CONFIG} />
        <title>{`${props.title} · Herald console`}</title>
        <link rel="stylesheet" href={assets.css} />
        <script src={assets.htmx} defer />
        <script src={assets.sse} defer />
        <script src={assets.js} defer />
      </head>
      <body hx-headers={signedIn ? JSON.stringify({ 'X-CSRF-Token': shell.csrf }) : undefined}>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <a class="brand" href="/console">
            Herald
          </a>
          {shell.appName !== undefined && (
            <span class="app-name" title="The app this console acts on">
              {shell.appName}
            </span>
          )}
          {signedIn && (
            <nav aria-label="Console">
              <ul>
                {NAV.filter((n) => (n.root ? shell.root : !n.needsApp || shell.appName !== undefined)).map(
                  (n) => (
                    <li>
                      <a href={n.href} aria-current={shell.current === n.href ? 'page' : undefined}>
                        {n.label}
                      </a>
                    </li>
                  ),
                )}
                <li>
                  <a href="/docs">API docs</a>
                </li>
              </ul>
            </nav>
          )}
          {signedIn && (
            <form method="post" action="/console/sign-out" class="sign-out">
              <input type="hidden" name="_csrf" value={shell.csrf} />
              <button type="submit">Sign out</button>
            </form>
          )}
        </header>
        <main id="main" tabindex={-1}>
          <h1>{props.title}</h1>
          {props.children}
        </main>
      </body>
    </html>
  );
}

/** A refusal of the API (or of the form), announced to screen readers. */
export function ErrorBox(props: { error?: { code: string; message: string } | undefined }) {
  if (!props.error) return null;
  return (
    <div class="error" role="alert">
      <strong>{props.error.code}</strong>: {props.error.message}
    </div>
  );
}

export function Notice(props: { text?: string | undefined }) {
  if (!props.text) return null;
  return (
    <div class="notice" role="status">
      {props.text}
    </div>
  );
}

/** An ISO time, shown in the browser's zone by console.js (UTC until then). */
export function Time(props: { at: string | null | undefined; empty?: string }) {
  if (!props.at) return <span class="muted">{props.empty ?? '—'}</span>;
  return <time datetime={props.at}>{props.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>;
}
