/** `/docs` renders its operations in headless Chromium with every outside host unreachable. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, browserAvailable, openBrowser } from './console/browser.ts';
import { startTestStack, type TestStack } from './support/stack.ts';

let stack: TestStack;
let browser: Browser;

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
  if (browserAvailable) browser = await openBrowser(stack.url);
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe('/docs', () => {
  it('serves the reference script from the installation, cached by its hash', async () => {
    const html = await (await fetch(`${stack.url}/docs`)).text();
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)[^"']*\.js/);
    const src = html.match(/<script src="(\/docs\/scalar\.js\?v=[\w-]+)"/)?.[1];
    expect(src).toBeDefined();
    const script = await fetch(`${stack.url}${src}`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect(script.headers.get('cache-control')).toContain('immutable');
    const again = await fetch(`${stack.url}${src}`, {
      headers: { 'if-none-match': script.headers.get('etag') ?? '' },
    });
    expect(again.status).toBe(304);
  });

  it.skipIf(!browserAvailable)(
    'renders its operations with the network to outside hosts blocked',
    async () => {
      const page = await browser.newPage();
      await page.goto(`${stack.url}/docs`);
      // The reference lists every tag of the document, each operation by its summary.
      await page
        .getByText('List the apps, oldest first', { exact: false })
        .first()
        .waitFor({ timeout: 60_000 });
      await page.getByRole('button', { name: 'Pushes' }).first().click();
      await page
        .getByText('Create a push to all users, or to those a condition selects')
        .first()
        .waitFor({ timeout: 30_000 });
      expect(browser.blocked).toEqual([]);
      await page.close();
    },
    120_000,
  );
});
