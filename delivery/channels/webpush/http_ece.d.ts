/** The part of http_ece (Encrypted Content-Encoding for HTTP, RFC 8188; by the RFC's author) Herald uses. */
declare module 'http_ece' {
  import type { ECDH } from 'node:crypto';

  export interface EceParams {
    version: 'aes128gcm';
    /** The receiver's ECDH public key (Web Push: the subscription's p256dh). */
    dh: Buffer | string;
    /** The sender's ECDH key pair; its public key becomes the header's keyid. */
    privateKey: ECDH;
    /** 16 bytes; random when absent. */
    salt?: Buffer | string;
    /** Web Push: the subscription's auth secret (RFC 8291 §3.3). */
    authSecret: Buffer | string;
    /** Record size; default 4096. */
    rs?: number;
  }

  export function encrypt(buffer: Buffer, params: EceParams): Buffer;
}
