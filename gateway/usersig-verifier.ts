import { inflateSync } from 'node:zlib';
import { secretKeysOf, UserTokenError, type UserTokenVerifier } from '../core/user-token.ts';
import { verifyUserSigWithAny } from '../core/usersig.ts';

/** UserSigs are base64 of deflated JSON with `+/=` written as `*-_`: no dots, so never a JWT. */
const USERSIG_SHAPE = /^[A-Za-z0-9*_-]{16,}$/;

/** A UserSig's JSON is ~200 bytes; a token inflating past this is not one (and no inflate bomb gets through). */
const MAX_DOC_BYTES = 4096;

/** The sdkappid a UserSig names, or undefined when the token does not decode as one. */
function sdkAppIdOf(token: string): unknown {
  if (!USERSIG_SHAPE.test(token)) return undefined;
  try {
    const b64 = token.replaceAll('*', '+').replaceAll('-', '/').replaceAll('_', '=');
    const doc: unknown = JSON.parse(
      inflateSync(Buffer.from(b64, 'base64'), { maxOutputLength: MAX_DOC_BYTES }).toString('utf8'),
    );
    if (typeof doc !== 'object' || doc === null || !('TLS.sig' in doc)) return undefined;
    return (doc as Record<string, unknown>)['TLS.sdkappid'] ?? null;
  } catch {
    return undefined;
  }
}

/**
 * Tencent's TLSSigAPIv2 UserSig as a user token: minted by the app server for the account (the identifier)
 * with the app's secret key, exactly as for Tencent's SDKs; the sdkappid inside it names the app. A UserSig
 * the app's key does not verify is `invalid` (close 4001), an expired one `expired` (4001); one naming an
 * sdkappid no app has is `forbidden` (4003, as the JWT's unknown app). Tokens that are not UserSigs are left to
 * the other verifiers.
 */
export const userSigVerifier: UserTokenVerifier = async (token, secrets) => {
  const sdkAppId = sdkAppIdOf(token);
  if (sdkAppId === undefined) return undefined;
  if (typeof sdkAppId !== 'number' || !Number.isSafeInteger(sdkAppId))
    throw new UserTokenError('invalid', 'token_invalid: the UserSig has no sdkappid');
  const app = await secrets.bySdkAppId(sdkAppId);
  if (!app) throw new UserTokenError('forbidden', 'unknown_app: no app has the UserSig’s sdkappid');
  const check = verifyUserSigWithAny(token, secretKeysOf(app), { sdkAppId });
  if (!check.ok) {
    if (check.reason === 'expired') throw new UserTokenError('expired', 'token_expired');
    throw new UserTokenError('invalid', `token_invalid: UserSig ${check.reason.replaceAll('_', ' ')}`);
  }
  return { appId: app.id, accountId: check.identifier, expiresAt: check.expiresAt, issuedAt: check.issuedAt };
};
