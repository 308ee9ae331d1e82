import type { ChannelClient, DeviceTarget, SendOutcome } from '../../channel.ts';
import { chunked, createDailyQuota, createVendorHttp, sendChunk } from '../batch-http.ts';
import { readXiaomiAnswer } from './answers.ts';
import type { XiaomiCredentials } from './credentials.ts';
import { type XiaomiNotification, xiaomiBody, xiaomiFields } from './payload.ts';

export interface XiaomiClientOptions {
  credentials: XiaomiCredentials;
  /** Default https://api.xmpush.xiaomi.com (mainland China); a global region's host for devices abroad. */
  baseUrl?: string;
  /** Registration ids per request; default (and at most) 1000. */
  batchSize?: number;
  /** Retries of a chunk after throttling, 5xx and network errors; default 3. */
  maxRetries?: number;
  /** Extra trusted CA (tests). */
  ca?: string | Buffer;
}

export const XIAOMI_URL = 'https://api.xmpush.xiaomi.com';
export const XIAOMI_BATCH = 1000;
const PATH = '/v3/message/regid';

/** MiPush: one form POST carries one notification to up to 1,000 registration ids. */
export function createXiaomiClient(opts: XiaomiClientOptions): ChannelClient<XiaomiNotification> {
  const http = createVendorHttp(opts.baseUrl ?? XIAOMI_URL, { ca: opts.ca });
  const headers = {
    authorization: `key=${opts.credentials.appSecret}`,
    'content-type': 'application/x-www-form-urlencoded;charset=UTF-8',
  };
  const maxRetries = opts.maxRetries ?? 3;
  const batchSize = Math.min(XIAOMI_BATCH, opts.batchSize ?? XIAOMI_BATCH);
  const quota = createDailyQuota();
  let closed = false;

  return {
    async send(targets: readonly DeviceTarget[], n: XiaomiNotification): Promise<SendOutcome[]> {
      if (targets.length === 0) return [];
      const fields = xiaomiFields(n, opts.credentials.packageName);
      const chunks = chunked(targets, batchSize);
      const results = await Promise.all(
        chunks.map((chunk) => {
          const body = xiaomiBody(
            fields,
            chunk.map((t) => t.token),
          );
          return sendChunk(chunk, async () => readXiaomiAnswer(await http.post(PATH, headers, body), chunk), {
            maxRetries,
            closed: () => closed,
            quota,
          });
        }),
      );
      return results.flat();
    },
    async close() {
      closed = true;
      await http.close();
    },
  };
}
