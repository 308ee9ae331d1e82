// Every test process (and the processes it spawns with its environment) seals app secrets under one test
// key, as `herald api` / `herald worker` do under HERALD_ENCRYPTION_KEY (vitest setupFiles).
import { makeKeyring, parseEncryptionKey, useKeyring } from '../../core/secrets.ts';

export const TEST_ENCRYPTION_KEY = 'dGVzdC1lbmNyeXB0aW9uLWtleS0wMTIzNDU2Nzg5YWI=';

process.env.HERALD_ENCRYPTION_KEY ||= TEST_ENCRYPTION_KEY;
const key = parseEncryptionKey(process.env.HERALD_ENCRYPTION_KEY);
if (!key) throw new Error('HERALD_ENCRYPTION_KEY of the test run is not 32 bytes');
useKeyring(makeKeyring(key));
