/**
 * Static files served from the installation itself (node_modules and api/console/assets/), never from a CDN:
 * the API reference's script, htmx and the console's styles. Each file is read once, on its first request,
 * and answered with an ETag; a URL carrying the file's hash (`?v=<hash>`, as `assetUrl` writes it) is cached
 * for a year, any other for five minutes.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Context } from 'hono';

const require = createRequire(import.meta.url);

export interface Asset {
  /** Where the file is: a package export (`pkg/path`) or a path relative to api/. */
  from: { module: string } | { local: string };
  type: string;
}

interface Loaded {
  body: Uint8Array<ArrayBuffer>;
  hash: string;
}

const fileOf = (asset: Asset): string =>
  'module' in asset.from
    ? require.resolve(asset.from.module)
    : path.join(import.meta.dirname, asset.from.local);

/** A set of assets by URL path, loaded lazily and kept in memory. */
export function assetStore(assets: Record<string, Asset>) {
  const loaded = new Map<string, Promise<Loaded>>();
  const load = (urlPath: string, asset: Asset): Promise<Loaded> => {
    let p = loaded.get(urlPath);
    if (!p) {
      p = readFile(fileOf(asset)).then((body) => ({
        body: Uint8Array.from(body),
        hash: createHash('sha256').update(body).digest('base64url').slice(0, 16),
      }));
      p.catch(() => loaded.delete(urlPath));
      loaded.set(urlPath, p);
    }
    return p;
  };
  return {
    /** The URL of an asset with its content hash, so it can be cached for good. */
    async url(urlPath: string): Promise<string> {
      const asset = assets[urlPath];
      if (!asset) throw new Error(`no asset ${urlPath}`);
      return `${urlPath}?v=${(await load(urlPath, asset)).hash}`;
    },
    /** Answers a GET of one of the assets (undefined when the path is none of them). */
    async serve(c: Context): Promise<Response | undefined> {
      const asset = assets[c.req.path];
      if (!asset) return undefined;
      const { body, hash } = await load(c.req.path, asset);
      const etag = `"${hash}"`;
      const cache = c.req.query('v') === hash ? 'public, max-age=31536000, immutable' : 'public, max-age=300';
      const headers = {
        etag,
        'cache-control': cache,
        'content-type': asset.type,
        'x-content-type-options': 'nosniff',
      };
      if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
      return c.body(body, 200, headers);
    },
  };
}

export type AssetStore = ReturnType<typeof assetStore>;

export const JS = 'text/javascript; charset=utf-8';
export const CSS = 'text/css; charset=utf-8';
