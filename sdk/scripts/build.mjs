// Builds dist/: tsc emits one ESM module plus its .d.ts per source file (the package's entry points), then
// esbuild bundles the universal entry into one file for a plain <script type="module">.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dist = path.join(root, 'dist');
const require = createRequire(import.meta.url);

rmSync(dist, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')],
  {
    // Its messages go to stderr: `npm pack --json` prints the package's listing on stdout.
    stdio: ['ignore', 2, 2],
  },
);
// tsc rewrites `./x.ts` to `./x.js` in JavaScript but not in declarations; consumers resolve `.js`.
for (const f of readdirSync(dist).filter((f) => f.endsWith('.d.ts'))) {
  const file = path.join(dist, f);
  writeFileSync(
    file,
    readFileSync(file, 'utf8').replace(/(from\s+['"]\.{1,2}\/[^'"]+)\.ts(['"])/g, '$1.js$2'),
  );
}
const { build } = await import('esbuild');
await build({
  entryPoints: [path.join(root, 'src/index.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  // The file a page loads as it is: small; the per-module build next to it is the readable one.
  minify: true,
  outfile: path.join(dist, 'herald.browser.js'),
  logLevel: 'warning',
});
process.stderr.write(`built ${dist}\n`);
