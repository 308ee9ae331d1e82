import { createECDH, type ECDH } from 'node:crypto';
import { encrypt } from 'http_ece';

/**
 * Message encryption for Web Push (RFC 8291) with the `aes128gcm` content coding (RFC 8188), by http_ece — the
 * reference implementation of RFC 8188, the library web-push itself uses. Each message gets a fresh sender key
 * pair and salt; one record of at most 4096 bytes.
 */

/** RFC 8291 §4: 4096 bytes of body, less the 86-byte header, 16-byte tag and 1-byte padding delimiter. */
export const MAX_PLAINTEXT_BYTES = 3993;
const RECORD_SIZE = 4096;

export interface SenderKeys {
  /** The application server's ephemeral ECDH key pair (fresh per message unless a test fixes it). */
  ecdh: ECDH;
  salt: Buffer;
}

/** The `aes128gcm` body of one push message to one subscription (`p256dh`, `auth` as base64url). */
export function encryptPayload(
  plaintext: Buffer,
  keys: { p256dh: string; auth: string },
  sender?: SenderKeys,
): Buffer {
  let ecdh = sender?.ecdh;
  if (!ecdh) {
    ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
  }
  return encrypt(plaintext, {
    version: 'aes128gcm',
    dh: keys.p256dh,
    privateKey: ecdh,
    authSecret: keys.auth,
    rs: RECORD_SIZE,
    ...(sender ? { salt: sender.salt } : {}),
  });
}
