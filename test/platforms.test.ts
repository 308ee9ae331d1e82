import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { PLATFORMS_FILE, platformsModule } from '../scripts/generate-platforms.ts';

it('the SDK’s platforms are the registered channels (run `npm run generate:platforms` when this fails)', async () => {
  expect(await readFile(PLATFORMS_FILE, 'utf8')).toBe(platformsModule());
});
