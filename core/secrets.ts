import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Encryption at rest of app secret keys and provider credentials: AES-256-GCM under the installation's key
 * (HERALD_ENCRYPTION_KEY). The only module that sees ciphertext: db/apps.ts seals before writing and unseals
 * after reading, everything else handles plaintext.
 *
 * A sealed value is one string: `hsec1:<key id>:<iv>:<ciphertext>:<tag>` (base64url parts). The key id is
 * derived from the key itself, so older keys (HERALD_ENCRYPTION_KEYS_OLD) still open what they sealed and
 * `herald keys reencrypt` knows which rows to rewrite. The caller's context (app id and field) is bound as
 * additional data: a sealed value copied to another app's row or field does not open there.
 */

const PREFIX = 'hsec1';

export interface Keyring {
  /** The id of the key new values are sealed with. */
  currentId: string;
  keys: ReadonlyMap<string, Buffer>;
}

export class SecretsError extends Error {
  override name = 'SecretsError';
}

/** 32 bytes as 64 hex digits or base64 (standard or url-safe); undefined when it is neither. */
export function parseEncryptionKey(text: string): Buffer | undefined {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    const key = Buffer.from(t, 'base64');
    if (key.length === 32) return key;
  }
  return undefined;
}

export const generateEncryptionKey = (): string => randomBytes(32).toString('base64');

/** A short public name for a key: not the key, and the same wherever the key is configured. */
export const keyIdOf = (key: Buffer): string =>
  createHash('sha256').update('herald-encryption-key-id\0').update(key).digest('hex').slice(0, 12);

export function makeKeyring(current: Buffer, older: readonly Buffer[] = []): Keyring {
  const keys = new Map<string, Buffer>();
  for (const key of older) keys.set(keyIdOf(key), key);
  const currentId = keyIdOf(current);
  keys.set(currentId, current);
  return { currentId, keys };
}

let installed: Keyring | undefined;

/** Installs the process's keyring (at start, from HERALD_ENCRYPTION_KEY or the data folder's key file). */
export function useKeyring(keyring: Keyring): void {
  installed = keyring;
}

function keyring(): Keyring {
  if (!installed) throw new SecretsError('no encryption key installed (HERALD_ENCRYPTION_KEY)');
  return installed;
}

export const isSealed = (value: string): boolean => value.startsWith(`${PREFIX}:`);

/** Whether a stored value is already sealed under the current key (what `reencrypt` skips). */
export const sealedUnderCurrentKey = (value: string): boolean =>
  isSealed(value) && value.split(':')[1] === keyring().currentId;

export function seal(plaintext: string, context: string): string {
  const { currentId, keys } = keyring();
  const key = keys.get(currentId) as Buffer;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const parts = [iv, ciphertext, cipher.getAuthTag()].map((b) => b.toString('base64url'));
  return [PREFIX, currentId, ...parts].join(':');
}

/**
 * The plaintext of a stored value. A value that is not sealed was written before encryption at rest and is
 * returned as it is (the next write or `herald keys reencrypt` seals it).
 */
export function unseal(stored: string, context: string): string {
  if (!isSealed(stored)) return stored;
  const [, id, iv, ciphertext, tag] = stored.split(':');
  const key = id === undefined ? undefined : keyring().keys.get(id);
  if (!key || iv === undefined || ciphertext === undefined || tag === undefined)
    throw new SecretsError(
      `a secret is sealed under key id ${id ?? '?'}, which is neither HERALD_ENCRYPTION_KEY nor in HERALD_ENCRYPTION_KEYS_OLD`,
    );
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    throw new SecretsError(`a secret sealed under key id ${id} does not open (${context}): altered or moved`);
  }
}
