import { importJWK, SignJWT } from 'jose';
import type { WebPushCredentials } from './credentials.ts';

/**
 * VAPID (RFC 8292): `Authorization: vapid t=<JWT>, k=<public key>`, the JWT an ES256 signature over `aud` (the
 * push service's origin), `exp` (at most 24 h ahead; 12 h here) and `sub` (the contact). One token per push
 * service origin is signed and reused for an hour (the RFC asks senders to reuse tokens so push services can
 * cache their check), then replaced: a token is never sent with less than 11 hours left.
 */
export const VAPID_LIFETIME_SECONDS = 12 * 3600;
const REUSE_MS = 3600_000;

export interface VapidSigner {
  /** The header for `origin` when a fresh one is at hand (nearly always), without a promise. */
  current(origin: string): string | undefined;
  /** Signs (once, however many ask at the same moment) and returns the header for `origin`. */
  get(origin: string): Promise<string>;
}

export function createVapidSigner(credentials: WebPushCredentials): VapidSigner {
  const cache = new Map<string, { header: string; renewAt: number }>();
  const pending = new Map<string, Promise<string>>();
  let key: ReturnType<typeof importJWK> | undefined;

  const sign = async (origin: string): Promise<string> => {
    key ??= importJWK(vapidJwk(credentials), 'ES256');
    const now = Date.now();
    const exp = Math.floor(now / 1000) + VAPID_LIFETIME_SECONDS;
    const jwt = await new SignJWT({ aud: origin, exp, sub: credentials.subject })
      .setProtectedHeader({ typ: 'JWT', alg: 'ES256' })
      .sign(await key);
    const header = vapidAuthorization(jwt, credentials.publicKey);
    cache.set(origin, { header, renewAt: now + REUSE_MS });
    return header;
  };

  return {
    current(origin) {
      const hit = cache.get(origin);
      return hit && Date.now() < hit.renewAt ? hit.header : undefined;
    },
    get(origin) {
      let p = pending.get(origin);
      if (!p) {
        p = sign(origin).finally(() => pending.delete(origin));
        pending.set(origin, p);
      }
      return p;
    },
  };
}

/** The `vapid` authentication scheme's credentials (RFC 8292 §3). */
export const vapidAuthorization = (jwt: string, publicKey: string): string =>
  `vapid t=${jwt}, k=${publicKey}`;

/** The private key as a JWK: the raw public point split into x and y, the scalar as d. */
function vapidJwk(c: WebPushCredentials) {
  const point = Buffer.from(c.publicKey, 'base64url');
  return {
    kty: 'EC',
    crv: 'P-256',
    x: point.subarray(1, 33).toString('base64url'),
    y: point.subarray(33, 65).toString('base64url'),
    d: c.privateKey,
  };
}
