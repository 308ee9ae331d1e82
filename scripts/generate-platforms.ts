/**
 * Writes sdk/src/platforms.ts from the channel registry: the SDK is a package of its own and cannot import the
 * server, so its `Platform` type is generated. Run `npm run generate:platforms` after adding a channel;
 * test/platforms.test.ts fails while the file is out of date.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CHANNEL_NAMES } from '../delivery/registry.ts';

export const PLATFORMS_FILE = fileURLToPath(new URL('../sdk/src/platforms.ts', import.meta.url));

/** The file's text, formatted as Biome would leave it. */
export function platformsModule(): string {
  return `// Generated from delivery/registry.ts by \`npm run generate:platforms\`: do not edit by hand.

/** The device platforms the server accepts (its registered channels). */
export const PLATFORMS = [${CHANNEL_NAMES.map((name) => `'${name}'`).join(', ')}] as const;
export type Platform = (typeof PLATFORMS)[number];
`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(PLATFORMS_FILE, platformsModule());
  process.stdout.write(`wrote ${PLATFORMS_FILE}\n`);
}
