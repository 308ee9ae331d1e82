/**
 * Headless Chromium for the console's tests, driven by playwright-core (as sdk/test/package.test.ts does). The
 * network beyond the test's own server is cut off: any request to another host is aborted and recorded.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Whether the browser tests run: Chromium is there, or CI requires it (HERALD_REQUIRE_CHROMIUM=1 fails without). */
export const browserAvailable = existsSync(CHROMIUM) || process.env.HERALD_REQUIRE_CHROMIUM === '1';

export interface Browser {
  context: BrowserContext;
  /** Requests the page tried to send anywhere but `allowedOrigin`, all refused. */
  blocked: string[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

export async function openBrowser(allowedOrigin: string): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const profile = await mkdtemp(path.join(os.tmpdir(), 'herald-console-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
    ],
  });
  const blocked: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${allowedOrigin}/`) || url.startsWith('data:')) return route.continue();
    blocked.push(url);
    return route.abort('blockedbyclient');
  });
  return {
    context,
    blocked,
    newPage: () => context.newPage(),
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Screenshots go to docs/images only when HERALD_CONSOLE_SCREENSHOTS=1 (so `npm test` rewrites nothing). */
export async function screenshot(page: Page, name: string): Promise<void> {
  const out = path.resolve(import.meta.dirname, '../../docs/images');
  if (process.env.HERALD_CONSOLE_SCREENSHOTS === '1') {
    await mkdir(out, { recursive: true });
    await page.screenshot({ path: path.join(out, `console-${name}.png`), fullPage: true });
  }
}
