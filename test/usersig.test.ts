import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { verifyUserSig } from '../core/usersig.ts';

// The signer Tencent's own Node server SDK uses.
const { Api } = createRequire(import.meta.url)('tls-sig-api-v2') as {
  Api: new (sdkAppId: number, key: string) => { genUserSig(id: string, expire: number): string };
};

const sdkAppId = 1400123456;
const secretKey = 'a'.repeat(64);

describe('TLSSigAPIv2 UserSig', () => {
  it('accepts a signature made by tls-sig-api-v2 and reads its identifier and expiry', () => {
    const sig = new Api(sdkAppId, secretKey).genUserSig('administrator', 3600);
    const check = verifyUserSig(sig, { sdkAppId, secretKey });
    expect(check).toMatchObject({ ok: true, identifier: 'administrator', sdkAppId });
    if (check.ok) expect(check.expiresAt.getTime()).toBeGreaterThan(Date.now() + 3500_000);
  });

  it.each([
    ['another key', () => new Api(sdkAppId, 'b'.repeat(64)).genUserSig('u1', 60), {}, 'bad_signature'],
    ['another app', () => new Api(1400000001, secretKey).genUserSig('u1', 60), {}, 'sdkappid_mismatch'],
    [
      'an expired one',
      () => new Api(sdkAppId, secretKey).genUserSig('u1', 60),
      { now: Date.now() + 61_000 },
      'expired',
    ],
    [
      'someone else’s',
      () => new Api(sdkAppId, secretKey).genUserSig('u1', 60),
      { identifier: 'u2' },
      'identifier_mismatch',
    ],
    ['garbage', () => 'not-a-sig', {}, 'malformed'],
  ])('refuses %s', (_what, make, extra, reason) => {
    expect(verifyUserSig(make(), { sdkAppId, secretKey, ...extra })).toEqual({ ok: false, reason });
  });
});
