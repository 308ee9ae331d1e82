import { createHmac, timingSafeEqual } from 'node:crypto';
import { inflateSync } from 'node:zlib';

/**
 * Tencent's TLSSigAPIv2 UserSig: zlib-deflated JSON whose `TLS.sig` is an HMAC-SHA256 over the identifier,
 * sdkappid, time and expiry with the app's secret key, base64 with `+/=` written as `*-_`.
 */
export type UserSigCheck =
  | { ok: true; identifier: string; sdkAppId: number; expiresAt: Date; issuedAt: Date }
  | {
      ok: false;
      reason: 'malformed' | 'bad_signature' | 'expired' | 'sdkappid_mismatch' | 'identifier_mismatch';
    };

interface SigDoc {
  'TLS.ver'?: string;
  'TLS.identifier'?: string;
  'TLS.sdkappid'?: number;
  'TLS.time'?: number;
  'TLS.expire'?: number;
  'TLS.userbuf'?: string;
  'TLS.sig'?: string;
}

/** The longest UserSig lifetime accepted: Tencent's default (180 days); the clock tolerance on top. */
export const MAX_USERSIG_LIFETIME_SECONDS = 180 * 24 * 3600;
const TOLERANCE_MS = 5 * 60_000;

const fromUrlSafe = (s: string) => s.replaceAll('*', '+').replaceAll('-', '/').replaceAll('_', '=');

function hmac(
  key: string,
  d: Required<Pick<SigDoc, 'TLS.identifier' | 'TLS.time' | 'TLS.expire'>>,
  sdkAppId: number,
  userbuf?: string,
) {
  let content = `TLS.identifier:${d['TLS.identifier']}\nTLS.sdkappid:${sdkAppId}\nTLS.time:${d['TLS.time']}\nTLS.expire:${d['TLS.expire']}\n`;
  if (userbuf !== undefined) content += `TLS.userbuf:${userbuf}\n`;
  return createHmac('sha256', key).update(content).digest('base64');
}

export function verifyUserSig(
  userSig: string,
  expect: { sdkAppId: number; secretKey: string; identifier?: string; now?: number },
): UserSigCheck {
  let doc: SigDoc;
  // A real UserSig inflates to a few hundred bytes; the bound keeps a hostile one from inflating to megabytes.
  try {
    doc = JSON.parse(
      inflateSync(Buffer.from(fromUrlSafe(userSig), 'base64'), { maxOutputLength: 4096 }).toString('utf8'),
    ) as SigDoc;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const identifier = doc['TLS.identifier'];
  const time = doc['TLS.time'];
  const expire = doc['TLS.expire'];
  const sig = doc['TLS.sig'];
  if (
    typeof identifier !== 'string' ||
    typeof time !== 'number' ||
    typeof expire !== 'number' ||
    typeof sig !== 'string'
  ) {
    return { ok: false, reason: 'malformed' };
  }
  if (Number(doc['TLS.sdkappid']) !== expect.sdkAppId) return { ok: false, reason: 'sdkappid_mismatch' };
  const wanted = Buffer.from(
    hmac(
      expect.secretKey,
      { 'TLS.identifier': identifier, 'TLS.time': time, 'TLS.expire': expire },
      expect.sdkAppId,
      doc['TLS.userbuf'],
    ),
  );
  const given = Buffer.from(sig);
  if (wanted.length !== given.length || !timingSafeEqual(wanted, given))
    return { ok: false, reason: 'bad_signature' };
  if (expect.identifier !== undefined && expect.identifier !== identifier)
    return { ok: false, reason: 'identifier_mismatch' };
  const expiresAt = new Date((time + expire) * 1000);
  const now = expect.now ?? Date.now();
  // An expiry that is no date (`TLS.expire: 1e300`) or beyond any lifetime Tencent mints is not a UserSig.
  if (
    !Number.isFinite(expiresAt.getTime()) ||
    expiresAt.getTime() > now + MAX_USERSIG_LIFETIME_SECONDS * 1000 + TOLERANCE_MS
  )
    return { ok: false, reason: 'malformed' };
  if (expiresAt.getTime() <= now) return { ok: false, reason: 'expired' };
  return { ok: true, identifier, sdkAppId: expect.sdkAppId, expiresAt, issuedAt: new Date(time * 1000) };
}

/** Verifies with each of an app's secret keys (newest first, during a rotation's overlap): the first that signed it. */
export function verifyUserSigWithAny(
  userSig: string,
  secretKeys: readonly string[],
  expect: { sdkAppId: number; identifier?: string; now?: number },
): UserSigCheck {
  let check: UserSigCheck = { ok: false, reason: 'bad_signature' };
  for (const secretKey of secretKeys) {
    check = verifyUserSig(userSig, { ...expect, secretKey });
    if (check.ok || check.reason !== 'bad_signature') return check;
  }
  return check;
}
