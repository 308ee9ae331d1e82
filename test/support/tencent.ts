import { createRequire } from 'node:module';
import { expect } from 'vitest';
import type { CreatedApp } from '../../db/apps.ts';

/** The signer of Tencent's own Node server SDK. */
export const { Api } = createRequire(import.meta.url)('tls-sig-api-v2') as {
  Api: new (sdkAppId: number, key: string) => { genUserSig(id: string, expire: number): string };
};

/** A v4 answer: Tencent's envelope and the command's fields. */
export type TencentBody = { ActionStatus: string; ErrorCode: number; ErrorInfo: string } & Record<
  string,
  unknown
>;

export interface TencentCallOptions {
  identifier?: string;
  usersig?: string;
  /** null: leave the parameter out. */
  sdkappid?: string | null;
  contenttype?: string;
}

/**
 * A Tencent REST call as a Tencent server SDK makes it: POST to `/v4/<command>`, authentication in the query
 * string (a UserSig of the admin identifier signed with the app's secret key), a JSON body; always HTTP 200.
 */
export function tencentClient(baseUrl: string, app: CreatedApp, defaults: TencentCallOptions = {}) {
  return async (command: string, body: unknown, opts: TencentCallOptions = {}): Promise<TencentBody> => {
    const o = { ...defaults, ...opts };
    const identifier = o.identifier ?? 'administrator';
    const q = new URLSearchParams();
    if (o.sdkappid !== null) q.set('sdkappid', o.sdkappid ?? String(app.sdkAppId));
    q.set('identifier', identifier);
    q.set('usersig', o.usersig ?? new Api(app.sdkAppId, app.secretKey).genUserSig(identifier, 86400));
    q.set('random', String(Math.floor(Math.random() * 2 ** 32)));
    q.set('contenttype', o.contenttype ?? 'json');
    const res = await fetch(`${baseUrl}/v4/${command}?${q}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as TencentBody;
  };
}
