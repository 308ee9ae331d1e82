import type { MiddlewareHandler } from 'hono';
import { verifyUserSigWithAny } from '../../core/usersig.ts';
import { type App, findAppBySdkAppId, validSecretKeys } from '../../db/apps.ts';
import type { ApiDeps } from '../context.ts';
import { type Family, failBody, TencentFailure } from './errors.ts';

export type V4Env = { Variables: { app: App; identifier: string } };

/** What is wrong with the `usersig` of the URL. */
const REASONS = {
  malformed: 'not a TLSSigAPIv2 UserSig (it does not decode)',
  sdkappid_mismatch: 'made for another SDKAppID than the sdkappid of the URL',
  bad_signature: 'the signature does not verify with this app’s secret key',
  identifier_mismatch: 'made for another identifier than the identifier of the URL',
  expired: 'expired; sign a new one',
} as const;

/**
 * Tencent's authentication, from the query string: `sdkappid` names the app, `usersig` is a TLSSigAPIv2
 * signature (checked with the app's secret key, including its expiry) for `identifier`, which must be the app's
 * admin account (`administrator` unless set otherwise). `random` is not checked; `contenttype`, when given,
 * must be `json`. A refusal is answered here, as HTTP 200 with the family's Tencent code.
 */
export function tencentAuth(deps: ApiDeps, family: Family): MiddlewareHandler<V4Env> {
  return async (c, next) => {
    try {
      const sdkappid = c.req.query('sdkappid');
      if (!sdkappid || !/^\d{1,10}$/.test(sdkappid))
        throw new TencentFailure('sdkappid_missing', ['sdkappid'], 'give the app’s SDKAppID in the URL');
      const contentType = c.req.query('contenttype');
      if (contentType !== undefined && contentType.toLowerCase() !== 'json')
        throw new TencentFailure('contenttype_not_json', ['contenttype'], 'must be json');
      const app = await findAppBySdkAppId(deps.database.db, Number(sdkappid));
      if (!app) throw new TencentFailure('unknown_sdkappid', ['sdkappid'], `no app has SDKAppID ${sdkappid}`);
      const usersig = c.req.query('usersig');
      if (!usersig) throw new TencentFailure('malformed', ['usersig'], 'missing from the URL');
      const identifier = c.req.query('identifier') ?? '';
      // During a secret key rotation's overlap, a UserSig signed with the previous key still verifies.
      const check = verifyUserSigWithAny(usersig, validSecretKeys(app), {
        sdkAppId: app.sdkAppId,
        identifier,
      });
      if (!check.ok) throw new TencentFailure(check.reason, ['usersig'], REASONS[check.reason]);
      if (identifier !== app.adminIdentifier)
        throw new TencentFailure(
          'admin_required',
          ['identifier'],
          `this API is for the app’s admin account (${JSON.stringify(app.adminIdentifier)}), not ${JSON.stringify(identifier)}`,
        );
      c.set('app', app);
      c.set('identifier', identifier);
    } catch (err) {
      return c.json(failBody(err, family, deps.log), 200);
    }
    await next();
  };
}
