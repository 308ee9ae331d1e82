import { decodeJwt, errors, jwtVerify, SignJWT } from 'jose';

/**
 * User tokens: what a device shows the WebSocket gateway to say which account of which app it is.
 *
 * Herald's own token is a JWT signed HS256 with the app's secret key (the UTF-8 bytes of `apps.secret_key`):
 *   header  {"alg":"HS256","typ":"JWT"}
 *   claims  {"iss": <app id>, "sub": <account id>, "exp": <epoch seconds>, "iat": …}
 * App servers mint them with any JWT library; `POST /v1/accounts/{id}/token` mints one for convenience.
 *
 * Verification is pluggable: a verifier recognises its own kind of token (or says it is not its kind) and
 * answers who the token names. The gateway tries each verifier in turn, so a Tencent TLSSigAPIv2 UserSig
 * verifier can sit beside the JWT one.
 */

/** Who a verified token names. */
export interface UserIdentity {
  appId: string;
  accountId: string;
  /** When the token stops being valid; the gateway closes the connection then (close code 4001). */
  expiresAt: Date | null;
  /** When the token was issued (JWT `iat`, UserSig `TLS.time`), if it says; checked against a kick. */
  issuedAt?: Date | null;
}

/** Why a token was refused; the gateway turns `expired` / `invalid` into close 4001, `forbidden` into 4003. */
export class UserTokenError extends Error {
  constructor(
    readonly reason: 'invalid' | 'expired' | 'forbidden',
    message: string,
  ) {
    super(message);
    this.name = 'UserTokenError';
  }
}

/**
 * An app's secret keys: the newest, and during a rotation's overlap the one it replaced, which still verifies
 * (tokens are minted with the newest only).
 */
export interface AppSecret {
  id: string;
  secretKey: string;
  previousSecretKey?: string;
}

/** Every key a token of the app may be signed with, newest first. */
export const secretKeysOf = (app: AppSecret): string[] =>
  app.previousSecretKey === undefined ? [app.secretKey] : [app.secretKey, app.previousSecretKey];

/** What a verifier may look up: the secret keys of an app, by Herald app id or by Tencent sdkAppId. */
export interface AppSecrets {
  byId(appId: string): Promise<AppSecret | undefined>;
  bySdkAppId(sdkAppId: number): Promise<AppSecret | undefined>;
}

/**
 * A kind of user token. Returns `undefined` when the token is not of this kind (the next verifier is
 * tried), the identity when it is valid, and throws `UserTokenError` when it is of this kind but refused.
 */
export type UserTokenVerifier = (token: string, secrets: AppSecrets) => Promise<UserIdentity | undefined>;

/** The longest lifetime a Herald user token may have (what `POST /v1/accounts/{id}/token` mints at most). */
export const MAX_USER_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
/** Clock skew allowed between the app server that minted a token and Herald. */
export const USER_TOKEN_CLOCK_TOLERANCE_SECONDS = 5;

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const encoder = new TextEncoder();
const keyOf = (secretKey: string) => encoder.encode(secretKey);

/** Mints a Herald user token for an account of an app, valid `ttlSeconds` from now. */
export async function mintUserToken(input: {
  appId: string;
  secretKey: string;
  accountId: string;
  ttlSeconds: number;
  now?: Date;
}): Promise<{ token: string; expiresAt: Date }> {
  const iat = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const exp = iat + input.ttlSeconds;
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(input.appId)
    .setSubject(input.accountId)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(keyOf(input.secretKey));
  return { token, expiresAt: new Date(exp * 1000) };
}

/** Herald's JWT: HS256, `iss` = app id, `sub` = account id, `exp` required. */
export const jwtVerifier: UserTokenVerifier = async (token, secrets) => {
  if (!JWT_SHAPE.test(token)) return undefined;
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss;
  } catch {
    throw new UserTokenError('invalid', 'token_invalid: not a readable JWT');
  }
  if (typeof iss !== 'string' || !iss) throw new UserTokenError('invalid', 'token_invalid: no iss (app id)');
  const app = await secrets.byId(iss);
  if (!app) throw new UserTokenError('forbidden', 'unknown_app: iss names no app');
  try {
    const payload = await verifyWithAny(token, app);
    if (typeof payload.sub !== 'string' || !payload.sub)
      throw new UserTokenError('invalid', 'token_invalid: no sub (account id)');
    // `exp: 1e300` is a valid JSON number and a valid JWT; it is no date a connection can be timed by.
    const latest = Date.now() / 1000 + MAX_USER_TOKEN_TTL_SECONDS + USER_TOKEN_CLOCK_TOLERANCE_SECONDS;
    if (typeof payload.exp !== 'number' || !(payload.exp <= latest))
      throw new UserTokenError('invalid', 'token_invalid: exp is more than 30 days ahead');
    return {
      appId: app.id,
      accountId: payload.sub,
      expiresAt: new Date(payload.exp * 1000),
      issuedAt: typeof payload.iat === 'number' ? new Date(payload.iat * 1000) : null,
    };
  } catch (err) {
    if (err instanceof UserTokenError) throw err;
    if (err instanceof errors.JWTExpired) throw new UserTokenError('expired', 'token_expired');
    if (err instanceof errors.JWSSignatureVerificationFailed)
      throw new UserTokenError('invalid', 'token_invalid: bad signature');
    throw new UserTokenError('invalid', `token_invalid: ${(err as Error).message}`.slice(0, 100));
  }
};

/** Verifies with each of the app's keys in turn: only a bad signature moves on to the next key. */
async function verifyWithAny(token: string, app: AppSecret) {
  const keys = secretKeysOf(app);
  for (let i = 0; ; i++) {
    try {
      const { payload } = await jwtVerify(token, keyOf(keys[i] as string), {
        algorithms: ['HS256'],
        issuer: app.id,
        requiredClaims: ['sub', 'exp'],
        clockTolerance: USER_TOKEN_CLOCK_TOLERANCE_SECONDS,
      });
      return payload;
    } catch (err) {
      if (!(err instanceof errors.JWSSignatureVerificationFailed) || i === keys.length - 1) throw err;
    }
  }
}

/** Tries each verifier in turn; a token no verifier recognises is invalid. */
export async function verifyUserToken(
  token: string,
  secrets: AppSecrets,
  verifiers: readonly UserTokenVerifier[] = [jwtVerifier],
): Promise<UserIdentity> {
  for (const verify of verifiers) {
    const identity = await verify(token, secrets);
    if (identity) return identity;
  }
  throw new UserTokenError('invalid', 'token_invalid: not a token this server knows');
}
