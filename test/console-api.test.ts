/**
 * What the console adds to the REST API and its own guards, over plain HTTP: the root key acting as an app
 * (X-Herald-App), the list of apps, an account's pushes, sign-in throttling, the CSRF token, the bound on live
 * streams per session, key rotation from the console, and the assets' cache headers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';

let stack: TestStack;
let app: CreatedApp;
let api: ReturnType<typeof client>;
const ROOT_KEY = 'test-root-key-0123456789abcdefghijklmn';

beforeAll(async () => {
  // Sign-ins come from several addresses (X-Forwarded-For), as through a proxy.
  stack = await startTestStack({ env: { HERALD_TRUST_PROXY: 'true' } });
  app = await stack.newApp();
  api = client(stack.url, app.apiKey);
  await api('POST', '/v1/accounts', { accounts: [{ id: 'ana' }, { id: 'bo' }] });
});
afterAll(async () => stack?.stop());

/** Signs in through the form (as a browser would, same origin) and returns the cookie and CSRF token. */
async function signIn(
  key: string,
  from = '203.0.113.1',
): Promise<{ cookie: string; csrf: string; status: number }> {
  const res = await fetch(`${stack.url}/console/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': from },
    body: new URLSearchParams({ key }).toString(),
  });
  const cookie = res.headers.get('set-cookie')?.split(';')[0] ?? '';
  if (!cookie) return { cookie, csrf: '', status: res.status };
  const page = await (await fetch(`${stack.url}/console/settings`, { headers: { cookie } })).text();
  const csrf = page.match(/name="_csrf" value="([^"]+)"/)?.[1] ?? '';
  return { cookie, csrf, status: res.status };
}

describe('the root key acting as an app', () => {
  const root = () => client(stack.url, ROOT_KEY);
  it('reads and changes an app with X-Herald-App, as that app’s key would', async () => {
    const current = await root()('GET', '/v1/apps/current', undefined, { 'x-herald-app': app.id });
    expect(current).toMatchObject({ status: 200, body: { id: app.id, name: app.name } });
    const preview = await root()(
      'POST',
      '/v1/audience/preview',
      { audience: 'all' },
      { 'x-herald-app': app.id },
    );
    expect(preview.body).toMatchObject({ count: 2 });
  });
  it('refuses X-Herald-App with an app key, and names an app that does not exist', async () => {
    const other = await stack.newApp();
    const asOther = await api('GET', '/v1/apps/current', undefined, { 'x-herald-app': other.id });
    expect(asOther).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    const missing = await root()('GET', '/v1/apps/current', undefined, { 'x-herald-app': 'no-such-app' });
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
  });
  it('lists the apps for the root key only, without keys, a page at a time', async () => {
    const first = await root()<{ apps: { id: string }[]; nextCursor: string | null }>(
      'GET',
      '/v1/apps?limit=1',
    );
    expect(first.status).toBe(200);
    expect(first.body.apps).toHaveLength(1);
    expect(JSON.stringify(first.body)).not.toMatch(/apiKey|secretKey/);
    const all = await root()<{ apps: { id: string }[] }>('GET', '/v1/apps?limit=500');
    expect(all.body.apps.map((a) => a.id)).toContain(app.id);
    expect((await api('GET', '/v1/apps')).status).toBe(401);
  });
});

describe('GET /v1/accounts/{id}/pushes', () => {
  it('lists the pushes an account is in and whether a copy waits for it', async () => {
    const push = await api<{ id: string }>('POST', '/v1/pushes', {
      audience: 'all',
      message: { elements: [{ type: 'text', text: 'hi' }] },
      retentionSeconds: 600,
    });
    await waitFor(
      () => api<{ status: string }>('GET', `/v1/pushes/${push.body.id}`),
      (r) => r.body.status === 'completed',
      30_000,
      'completed',
    );
    const got = await api<{ pushes: { id: string; state: string; waiting: boolean }[] }>(
      'GET',
      '/v1/accounts/ana/pushes',
    );
    expect(got.status).toBe(200);
    expect(got.body.pushes).toEqual([
      expect.objectContaining({ id: push.body.id, state: 'pending', waiting: true, status: 'completed' }),
    ]);
    expect((await api('GET', '/v1/accounts/nobody/pushes')).status).toBe(404);
  });
});

describe('console guards', () => {
  it('throttles failed sign-ins per client address', async () => {
    const from = '198.51.100.7';
    for (let i = 0; i < 10; i++) expect((await signIn('wrong-key', from)).status).toBe(400);
    expect((await signIn('wrong-key', from)).status).toBe(429);
    // Even the right key waits; another address does not.
    expect((await signIn(app.apiKey, from)).status).toBe(429);
    expect((await signIn(app.apiKey, '198.51.100.8')).status).toBe(303);
  });

  it('allows a few live streams per session and refuses more', async () => {
    const { cookie } = await signIn(app.apiKey);
    const push = await api<{ id: string }>('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text: 'later' }] },
      sendAt: new Date(Date.now() + 3600_000).toISOString(),
    });
    const url = `${stack.url}/console/pushes/${push.body.id}/events`;
    const open: AbortController[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const ctl = new AbortController();
        open.push(ctl);
        const res = await fetch(url, {
          headers: { cookie, accept: 'text/event-stream' },
          signal: ctl.signal,
        });
        expect(res.status).toBe(200);
        const reader = res.body?.getReader();
        const first = new TextDecoder().decode((await reader?.read())?.value);
        expect(first).toContain('event: push');
      }
      const fifth = await fetch(url, { headers: { cookie, accept: 'text/event-stream' } });
      expect(fifth.status).toBe(429);
    } finally {
      for (const c of open) c.abort();
    }
  });

  it('needs the session’s CSRF token; rotating the API key keeps the session on the new key', async () => {
    const own = await stack.newApp();
    const { cookie, csrf } = await signIn(own.apiKey);
    expect(csrf).toMatch(/^[\w-]{32}$/);
    const rotate = (token: string) =>
      fetch(`${stack.url}/console/settings/keys/rotate`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: token, kind: 'api', overlapSeconds: '0' }).toString(),
      });
    expect((await rotate('not-the-token')).status).toBe(403);
    const rotated = await rotate(csrf);
    expect(rotated.status).toBe(200);
    const key = (await rotated.text()).match(/data-testid="new-key">([^<]+)</)?.[1] ?? '';
    expect((await client(stack.url, key)('GET', '/v1/apps/current')).status).toBe(200);
    expect((await client(stack.url, own.apiKey)('GET', '/v1/apps/current')).status).toBe(401);
    const after = await fetch(`${stack.url}/console/settings`, { headers: { cookie }, redirect: 'manual' });
    expect(after.status).toBe(200);
    expect(await after.text()).not.toContain(key);
  });

  it('serves its assets from the installation with cache headers, and a strict CSP', async () => {
    const { cookie } = await signIn(app.apiKey);
    const page = await fetch(`${stack.url}/console/pushes`, { headers: { cookie } });
    expect(page.headers.get('content-security-policy')).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    expect(page.headers.get('cache-control')).toBe('no-store');
    const html = await page.text();
    const src = html.match(/src="(\/console\/assets\/htmx\.min\.js\?v=[\w-]+)"/)?.[1];
    expect(src).toBeDefined();
    const asset = await fetch(`${stack.url}${src}`);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await asset.text()).toContain('htmx');
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
  });
});
