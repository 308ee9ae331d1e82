import { createHash } from 'node:crypto';
import { createBearerCache } from '../../bearer.ts';
import { parseObject, type VendorHttp } from '../batch-http.ts';
import type { OppoCredentials } from './credentials.ts';

/** OPPO's auth_token lives 24 hours; a fresh one is fetched an hour before. */
const TOKEN_LIFETIME_MS = 24 * 3600_000;
const RENEW_EARLY_MS = 3600_000;

/** sign = hex sha256(appKey + timestamp + masterSecret), timestamp in milliseconds. */
export function oppoSign(appKey: string, timestamp: number, masterSecret: string): string {
  return createHash('sha256').update(`${appKey}${timestamp}${masterSecret}`).digest('hex');
}

/** The auth request's form body. */
export function oppoAuthForm(credentials: OppoCredentials, timestamp = Date.now()): string {
  return new URLSearchParams({
    app_key: credentials.appKey,
    sign: oppoSign(credentials.appKey, timestamp, credentials.masterSecret),
    timestamp: String(timestamp),
  }).toString();
}

/** One auth_token per client, shared by every request, renewed before it expires or when OPPO refuses it. */
export function createOppoAuthToken(credentials: OppoCredentials, http: VendorHttp) {
  return createBearerCache('', async () => {
    const res = await http.post(
      '/server/v1/auth',
      { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
      oppoAuthForm(credentials),
    );
    const body = parseObject(res.body);
    const data = body?.data as { auth_token?: unknown } | undefined;
    if (res.status !== 200 || body?.code !== 0 || typeof data?.auth_token !== 'string') {
      throw new Error(
        `OPPO auth answered ${res.status} code ${String(body?.code)} ${String(body?.message ?? '')}`.trim(),
      );
    }
    // Timed from now rather than from create_time, whose unit the document leaves open.
    return { token: data.auth_token, renewAt: Date.now() + TOKEN_LIFETIME_MS - RENEW_EARLY_MS };
  });
}
