/** What every console page shares: the API's dependencies, the in-process REST caller, assets, rendering. */
import type { Context } from 'hono';
import type { Child } from 'hono/jsx';
import type { AssetStore } from '../assets.ts';
import type { ApiDeps } from '../context.ts';
import { assetUrls, Layout, type Shell } from './layout.tsx';
import { type Fetch, type Rest, restFor } from './rest.ts';
import { type ConsoleEnv, endSession, redirect } from './session.ts';

export interface ConsoleOptions {
  /** The Temporal Web UI's base URL, for the deep links to workflows (HERALD_TEMPORAL_UI_URL). */
  temporalUiUrl?: string | undefined;
  /** Aborted when the api process stops: the live-progress streams end. */
  closing?: AbortSignal | undefined;
}

export interface Cx {
  deps: ApiDeps;
  fetch: Fetch;
  assets: AssetStore;
  options: ConsoleOptions;
}

export type ConsoleContext = Context<ConsoleEnv>;

export const restOf = (cx: Cx, c: ConsoleContext): Rest => restFor(cx.fetch, c, c.get('session'));

/** A whole page, after reading the signed-in app's name; a key that stopped working ends the session. */
export async function render(
  cx: Cx,
  c: ConsoleContext,
  title: string,
  current: string | undefined,
  body: Child,
  status: 200 | 400 | 403 | 404 | 409 | 429 | 500 = 200,
): Promise<Response> {
  const session = c.get('session');
  const shell: Shell = { root: session.kind === 'root', csrf: session.csrfToken, current };
  if (session.kind === 'app' || session.appId) {
    const app = await restOf(cx, c)<{ name: string }>('GET', '/v1/apps/current');
    if (!app.ok && app.status === 401) {
      await endSession(c, cx.deps.database.db, session);
      return redirect(c, '/console/sign-in?ended=1');
    }
    if (app.ok) shell.appName = app.body.name;
  }
  return html(
    c,
    <Layout title={title} shell={shell} assets={await assetUrls(cx.assets)}>
      {body}
    </Layout>,
    status,
  );
}

/** A page outside a session (sign-in). */
export async function renderPublic(
  cx: Cx,
  c: Context,
  title: string,
  body: Child,
  status: 200 | 400 | 429 = 200,
) {
  return html(
    c,
    <Layout title={title} shell={{}} assets={await assetUrls(cx.assets)}>
      {body}
    </Layout>,
    status,
  );
}

async function html(c: Context, page: Child, status: number): Promise<Response> {
  c.header('cache-control', 'no-store');
  const text = await Promise.resolve(
    String(await (page as { toString(): string | Promise<string> }).toString()),
  );
  return c.html(`<!doctype html>${text}`, status as 200);
}

/** An HTML fragment (htmx swaps, server-sent events). */
export async function fragment(node: Child): Promise<string> {
  return String(await (node as { toString(): string | Promise<string> }).toString());
}

/** A form field of a parsed body as text ('' when absent or a file). */
export const field = (form: Record<string, unknown>, name: string): string => {
  const v = form[name];
  return typeof v === 'string' ? v : '';
};
