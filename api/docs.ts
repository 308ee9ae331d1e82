/**
 * `/docs`: the interactive API reference of `/openapi.json`, rendered by Scalar from the installation's own
 * copy of its script (node_modules/@scalar/api-reference), with the system's fonts: the page works on a
 * machine with no way out to the internet.
 */
import { Scalar } from '@scalar/hono-api-reference';
import { Hono } from 'hono';
import { assetStore, JS } from './assets.ts';

const SCRIPT = '/docs/scalar.js';

export function docsRoutes() {
  const assets = assetStore({
    [SCRIPT]: { from: { module: '@scalar/api-reference/browser/standalone.js' }, type: JS },
  });
  const r = new Hono();
  r.get(
    '/docs',
    Scalar(async () => ({
      url: '/openapi.json',
      pageTitle: 'Herald API',
      cdn: await assets.url(SCRIPT),
      // The default fonts come from Scalar's font host; the system's serve as well.
      withDefaultFonts: false,
      // The assistant talks to Scalar's servers (through their proxy); a self-hosted reference has no use for it.
      agent: { disabled: true },
    })),
  );
  r.get(SCRIPT, async (c) => (await assets.serve(c)) ?? c.notFound());
  return r;
}
