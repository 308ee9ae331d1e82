/**
 * The operator console end to end, in headless Chromium against the real API, worker, PostgreSQL and Temporal:
 * sign in, compose a push to a tag with a live count, watch it complete with its counters moving, cancel a
 * scheduled push, reschedule a campaign step, look up an account; the root key choosing an app; the session
 * cookie, CSRF and CSP. Outside hosts are unreachable throughout (test/console/browser.ts).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import { generateApnsKey, generateServiceAccount } from '../fakes/keys.ts';
import { type Browser, browserAvailable, openBrowser, screenshot } from './console/browser.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';

let stack: TestStack;
let browser: Browser;
let app: CreatedApp;
let api: ReturnType<typeof client>;
const ROOT_KEY = 'test-root-key-0123456789abcdefghijklmn';

beforeAll(async () => {
  stack = await startTestStack({ env: { HERALD_TEMPORAL_UI_URL: 'http://127.0.0.1:8233' } });
  app = await stack.newApp();
  api = client(stack.url, app.apiKey);
  await api('POST', '/v1/accounts', {
    accounts: ['ana', 'bo', 'cy', 'dee', 'eli'].map((id) => ({ id, nick: id.toUpperCase() })),
  });
  await api('POST', '/v1/tags/add', {
    accounts: ['ana', 'bo', 'cy'].map((id) => ({ id, tags: ['vip'] })),
  });
  await api('PATCH', '/v1/attributes', { names: { '0': 'city' } });
  await api('POST', '/v1/attributes/set', { accounts: [{ id: 'ana', attributes: { city: 'Lisbon' } }] });
  if (browserAvailable) browser = await openBrowser(stack.url);
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function signIn(page: Page, key: string): Promise<void> {
  await page.goto(`${stack.url}/console`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** The value of a datetime-local field, `seconds` from now in the page's own time zone. */
const localTime = (page: Page, seconds: number) =>
  page.evaluate((s) => {
    const d = new Date(Date.now() + s * 1000);
    const pad = (n: number) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }, seconds);

const tile = (page: Page, counter: string) => page.locator(`#live [data-counter="${counter}"] .n`);

describe.skipIf(!browserAvailable)('the console in a browser', () => {
  let page: Page;
  let pushId: string;

  it('refuses a wrong key, signs in with the app key into an HttpOnly, SameSite=Strict session', async () => {
    page = await browser.newPage();
    await signIn(page, 'not-a-key');
    await expect(page.getByRole('alert').textContent()).resolves.toContain(
      'neither an app’s API key nor the root key',
    );
    await page.getByLabel('API key').fill(app.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL('**/console/pushes');
    expect(await page.locator('.app-name').textContent()).toBe(app.name);
    const [cookie] = (await browser.context.cookies(`${stack.url}/console`)).filter(
      (c) => c.name === 'herald_console',
    );
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console' });
    // The key is nowhere in the page.
    expect(await page.content()).not.toContain(app.apiKey);
  });

  it('composes a push to a tag with a live count, confirms the count, and watches it complete live', async () => {
    await page.getByRole('link', { name: 'Compose' }).click();
    await page.getByLabel('Text', { exact: true }).fill('Doors open at nine');
    await page.getByLabel('Title').fill('Herald Live');
    await page.getByLabel('Accounts matching tags and attributes').check();
    await expect(page.getByTestId('audience-count').textContent()).resolves.toBe('5');
    await page.getByLabel('Has any of these tags').fill('vip');
    await waitFor(
      () => page.getByTestId('audience-count').textContent(),
      (t) => t === '3',
      10_000,
      'live count',
    );
    await expect(page.locator('#preview').textContent()).resolves.toContain('ana');
    await expect(page.locator('.phone.ios .title').textContent()).resolves.toBe('Herald Live');
    await expect(page.locator('.phone.android .body').textContent()).resolves.toBe('Doors open at nine');
    await page.getByLabel('At a time').check();
    await page.getByLabel('Send at').fill(await localTime(page, 8));
    await page.getByLabel('Retention', { exact: false }).first().fill('1');
    await screenshot(page, 'compose');
    await page.getByRole('button', { name: 'Review' }).click();
    await expect(page.getByTestId('confirm-count').textContent()).resolves.toBe('Schedule to 3 accounts');
    await page.getByRole('button', { name: 'Schedule to 3 accounts' }).click();
    await page.waitForURL(/\/console\/pushes\/[0-9a-f-]{36}/);
    pushId = page.url().match(/pushes\/([0-9a-f-]{36})/)?.[1] ?? '';
    const push = await api<{ status: string; audience: unknown; sendAt: string }>(
      'GET',
      `/v1/pushes/${pushId}`,
    );
    expect(push.body).toMatchObject({ status: 'scheduled', audience: { TagsOr: ['vip'] } });
    expect(await tile(page, 'audience').textContent()).toBe('0');
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    // Server-sent events move the figures on this same page: scheduled → running → completed.
    await page.locator('#live .status-completed').waitFor({ timeout: 40_000 });
    expect(await tile(page, 'audience').textContent()).toBe('3');
    expect(await tile(page, 'storedOffline').textContent()).toBe('3');
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(
      true,
    );
    expect(await page.locator('#live .timeline').textContent()).toContain('Snapshot taken: 3 accounts');
    const link = await page.getByRole('link', { name: 'Workflow in the Temporal UI' }).getAttribute('href');
    expect(link).toBe(
      `http://127.0.0.1:8233/namespaces/default/workflows/${encodeURIComponent(`push-${app.id}-${pushId}`)}`,
    );
    await screenshot(page, 'push');
  });

  it('cancels a scheduled push', async () => {
    const sendAt = new Date(Date.now() + 3600_000).toISOString();
    const created = await api<{ id: string }>('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text: 'later' }] },
      sendAt,
    });
    await page.goto(`${stack.url}/console/pushes/${created.body.id}`);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Cancel push' }).click();
    await expect(page.getByRole('status').first().textContent()).resolves.toContain('Cancel requested');
    const push = await waitFor(
      () => api<{ status: string }>('GET', `/v1/pushes/${created.body.id}`),
      (r) => r.body.status === 'canceled',
      20_000,
      'canceled',
    );
    expect(push.body.status).toBe('canceled');
    // The list filters by status.
    await page.goto(`${stack.url}/console/pushes?status=canceled`);
    expect(await page.locator(`a[href="/console/pushes/${created.body.id}"]`).count()).toBe(1);
    expect(await page.locator(`a[href="/console/pushes/${pushId}"]`).count()).toBe(0);
  });

  it('reschedules a campaign step', async () => {
    const at = (h: number) => new Date(Date.now() + h * 3600_000).toISOString();
    const step = (text: string, h: number) => ({
      at: at(h),
      message: { elements: [{ type: 'text', text }] },
    });
    const created = await api<{ id: string }>('POST', '/v1/campaigns', {
      name: 'Launch week',
      steps: [step('announcement', 1), step('blast', 2)],
    });
    expect(created.status).toBe(201);
    await page.goto(`${stack.url}/console/campaigns`);
    await page.getByRole('link', { name: 'Launch week' }).click();
    const wanted = await localTime(page, 3 * 3600);
    await page.getByLabel('New time for step 2').fill(wanted);
    await page.locator('[data-step="1"]').getByRole('button', { name: 'Reschedule' }).click();
    await expect(page.getByRole('status').first().textContent()).resolves.toContain('rescheduled');
    const campaign = await api<{ steps: { index: number; at: string }[] }>(
      'GET',
      `/v1/campaigns/${created.body.id}`,
    );
    const moved = campaign.body.steps.find((s) => s.index === 1)?.at ?? '';
    const expected = await page.evaluate((local) => new Date(local).toISOString(), wanted);
    expect(moved).toBe(expected);
  });

  it('looks up an account: tags, attributes, and the push waiting for it', async () => {
    await page.getByRole('link', { name: 'Accounts' }).click();
    await page.getByLabel('Account id').fill('ana');
    await page.getByRole('button', { name: 'Look up' }).click();
    const text = await page.locator('main').textContent();
    expect(text).toContain('vip');
    expect(text).toContain('Lisbon');
    expect(await page.locator(`a[href="/console/pushes/${pushId}"]`).count()).toBe(1);
    expect(text).toContain('waiting for a connect');
    await page.getByLabel('Account id').fill('nobody');
    await page.getByRole('button', { name: 'Look up' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('does not exist');
  });

  it('changes the quota and sets channel credentials, never showing a key back', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByLabel('Daily push quota').fill('500');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(page.getByRole('status').first().textContent()).resolves.toBe('Saved.');
    expect((await api<{ dailyPushQuota: number }>('GET', '/v1/apps/current')).body.dailyPushQuota).toBe(500);
    // Above the operator's ceiling: the API's own refusal.
    await page.getByLabel('Daily push quota').fill('999999');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('limit_above_ceiling');
    // The forms are made from each channel's credentials schema.
    const apns = generateApnsKey({ topic: 'com.example.console', keyId: 'CONSOLE123', teamId: 'TEAM123456' });
    const apnsForm = page.locator('form[action="/console/settings/credentials/apns"]');
    await apnsForm.getByLabel('keyId').fill(apns.credentials.keyId);
    await apnsForm.getByLabel('teamId').fill(apns.credentials.teamId);
    await apnsForm.getByLabel('topic').fill(apns.credentials.topic);
    await apnsForm.getByLabel('privateKey', { exact: true }).fill(apns.credentials.privateKey);
    await apnsForm.getByRole('button', { name: 'Save APNs credentials' }).click();
    await expect(page.getByRole('status').first().textContent()).resolves.toBe('Credentials saved.');
    const sa = generateServiceAccount('console-test');
    const fcmForm = page.locator('form[action="/console/settings/credentials/fcm"]');
    await fcmForm.getByLabel('…or upload the file').setInputFiles({
      name: 'service-account.json',
      mimeType: 'application/json',
      buffer: Buffer.from(
        JSON.stringify(sa.credentials('https://oauth2.googleapis.com/token').serviceAccount),
      ),
    });
    await fcmForm.getByRole('button', { name: 'Save FCM credentials' }).click();
    await expect(page.getByRole('status').first().textContent()).resolves.toBe('Credentials saved.');
    const shown = await api<{ credentials: Record<string, unknown> }>('GET', '/v1/apps/current');
    expect(shown.body.credentials).toMatchObject({
      apns: { keyId: 'CONSOLE123', topic: 'com.example.console' },
      fcm: { projectId: 'console-test' },
    });
    const html = await page.content();
    expect(html).toContain('CONSOLE123');
    for (const line of apns.credentials.privateKey.split('\n').filter((l) => l.length > 40))
      expect(html).not.toContain(line);
    expect(html).not.toContain('BEGIN PRIVATE KEY');
  });

  it('reads well at phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${stack.url}/console/pushes/${pushId}`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, 'phone');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('refuses a form without the session’s CSRF token, and from another origin', async () => {
    const cookies = await browser.context.cookies(`${stack.url}/console`);
    const cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    const post = (headers: Record<string, string>) =>
      fetch(`${stack.url}/console/pushes/${pushId}/recall`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: '_csrf=wrong',
      });
    expect((await post({})).status).toBe(403);
    expect((await post({ origin: 'https://evil.example' })).status).toBe(403);
    const page = await fetch(`${stack.url}/console/pushes`, { headers: { cookie } });
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).not.toMatch(/<script>|<style>| style="/);
    const stillThere = await api<{ recalledAt: string | null }>('GET', `/v1/pushes/${pushId}`);
    expect(stillThere.body.recalledAt).toBeNull();
  });

  it('signs out: the session ends on the server', async () => {
    const cookies = await browser.context.cookies(`${stack.url}/console`);
    const cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/console/sign-in');
    const replay = await fetch(`${stack.url}/console/pushes`, { headers: { cookie }, redirect: 'manual' });
    expect(replay.status).toBe(303);
    expect(replay.headers.get('location')).toBe('/console/sign-in');
  });

  it('signs the operator in with the root key to choose an app', async () => {
    await signIn(page, ROOT_KEY);
    await page.waitForURL('**/console/apps');
    // Other test files' apps share the database: choose by id (the list pages 100 at a time).
    await page.getByLabel('App id').fill(app.id);
    await page.getByRole('button', { name: 'Act as this app' }).click();
    await page.waitForURL('**/console/pushes');
    expect(await page.locator(`a[href="/console/pushes/${pushId}"]`).count()).toBe(1);
    await page.getByRole('link', { name: 'Settings' }).click();
    expect(await page.getByRole('heading', { name: 'Operator limits' }).count()).toBe(1);
    expect(browser.blocked).toEqual([]);
  });
});
