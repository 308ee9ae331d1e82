import { createHash } from 'node:crypto';
import { createBearerCache } from '../../bearer.ts';
import { parseObject, type VendorHttp } from '../batch-http.ts';
import type { VivoCredentials } from './credentials.ts';

/** vivo's authToken lives 24 hours; vivo asks senders to fetch a new one every 1–2 hours. */
const RENEW_AFTER_MS = 3600_000;

/** sign = lower-case hex md5(appId + appKey + timestamp + appSecret), timestamp in milliseconds. */
export function vivoSign(credentials: VivoCredentials, timestamp: number): string {
  const { appId, appKey, appSecret } = credentials;
  return createHash('md5').update(`${appId}${appKey}${timestamp}${appSecret}`).digest('hex');
}

/** The auth request's JSON body. */
export function vivoAuthBody(credentials: VivoCredentials, timestamp = Date.now()): Record<string, unknown> {
  return {
    appId: Number(credentials.appId),
    appKey: credentials.appKey,
    timestamp,
    sign: vivoSign(credentials, timestamp),
  };
}

/** One authToken per client (header `authToken`), renewed hourly or when vivo refuses it. */
export function createVivoAuthToken(credentials: VivoCredentials, http: VendorHttp) {
  return createBearerCache('', async () => {
    const res = await http.post(
      '/message/auth',
      { 'content-type': 'application/json' },
      JSON.stringify(vivoAuthBody(credentials)),
    );
    const body = parseObject(res.body);
    if (res.status !== 200 || body?.result !== 0 || typeof body.authToken !== 'string') {
      throw new Error(
        `vivo auth answered ${res.status} result ${String(body?.result)} ${String(body?.desc ?? '')}`.trim(),
      );
    }
    return { token: body.authToken, renewAt: Date.now() + RENEW_AFTER_MS };
  });
}
