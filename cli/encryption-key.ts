import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Config, ConfigError } from '../core/config.ts';
import {
  generateEncryptionKey,
  type Keyring,
  makeKeyring,
  parseEncryptionKey,
  useKeyring,
} from '../core/secrets.ts';

export const keyFileOf = (config: Config) => path.join(config.dataDir, 'encryption.key');

/**
 * Installs the key that seals app secret keys and provider credentials (docs/security.md): HERALD_ENCRYPTION_KEY,
 * else the key file in the data folder. `herald start` (`generate`) writes that file (mode 0600) the first
 * time; every other command refuses to run without a key rather than store secrets in the clear.
 */
export async function installEncryptionKey(
  config: Config,
  command: string,
  opts: { generate?: boolean } = {},
): Promise<Keyring> {
  const older = config.HERALD_ENCRYPTION_KEYS_OLD.map((k) => parseEncryptionKey(k) as Buffer);
  const file = keyFileOf(config);
  let current = config.HERALD_ENCRYPTION_KEY && parseEncryptionKey(config.HERALD_ENCRYPTION_KEY);
  if (!current && existsSync(file)) {
    current = parseEncryptionKey(await readFile(file, 'utf8'));
    if (!current) throw new ConfigError(`Invalid configuration: ${file} does not hold a 32-byte key`);
  }
  if (!current && opts.generate) {
    await mkdir(config.dataDir, { recursive: true });
    const text = generateEncryptionKey();
    // 'wx': never overwrite a key another start wrote meanwhile (the secrets it sealed would be lost).
    await writeFile(file, `${text}\n`, { mode: 0o600, flag: 'wx' });
    current = parseEncryptionKey(text);
  }
  if (!current)
    throw new ConfigError(
      `Invalid configuration: HERALD_ENCRYPTION_KEY is not set: herald ${command} needs the key that encrypts app secrets (32 bytes, base64 or hex: openssl rand -base64 32; herald start generates ${file})`,
    );
  const keyring = makeKeyring(current, older);
  useKeyring(keyring);
  return keyring;
}
