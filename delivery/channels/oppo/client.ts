import type { Bearer } from '../../bearer.ts';
import type { ChannelClient, DeviceTarget, SendOutcome } from '../../channel.ts';
import { type ChunkAnswer, chunked, createDailyQuota, createVendorHttp, sendChunk } from '../batch-http.ts';
import { readOppoAnswer } from './answers.ts';
import { createOppoAuthToken } from './auth-token.ts';
import type { OppoCredentials } from './credentials.ts';
import { type OppoNotification, oppoMessages, oppoNotification } from './payload.ts';

export interface OppoClientOptions {
  credentials: OppoCredentials;
  /** Default https://api.push.oppomobile.com (devices in China; api-intl.push.oppomobile.com abroad). */
  baseUrl?: string;
  /** Messages per unicast_batch; default (and at most) 1000. */
  batchSize?: number;
  /** Retries of a chunk after throttling, 5xx and network errors; default 3. */
  maxRetries?: number;
  /** Extra trusted CA (tests). */
  ca?: string | Buffer;
}

export const OPPO_URL = 'https://api.push.oppomobile.com';
export const OPPO_BATCH = 1000;
const PATH = '/server/v1/message/notification/unicast_batch';
const FORM = { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' };

/** OPPO Push: `unicast_batch` sends up to 1,000 messages (one per registration id) in one form POST. */
export function createOppoClient(opts: OppoClientOptions): ChannelClient<OppoNotification> {
  const http = createVendorHttp(opts.baseUrl ?? OPPO_URL, { ca: opts.ca });
  const authToken = createOppoAuthToken(opts.credentials, http);
  const maxRetries = opts.maxRetries ?? 3;
  const batchSize = Math.min(OPPO_BATCH, opts.batchSize ?? OPPO_BATCH);
  const quota = createDailyQuota();
  let closed = false;

  async function attempt(chunk: readonly DeviceTarget[], messages: string): Promise<ChunkAnswer> {
    const bearer: Bearer = authToken.current() ?? (await authToken.get().catch(authError));
    const body = `auth_token=${encodeURIComponent(bearer.token)}&messages=${encodeURIComponent(messages)}`;
    const answer = readOppoAnswer(await http.post(PATH, FORM, body), chunk);
    if (answer.outcome === 'reauthorize') authToken.expire(bearer);
    return answer;
  }

  return {
    async send(targets: readonly DeviceTarget[], n: OppoNotification): Promise<SendOutcome[]> {
      if (targets.length === 0) return [];
      const notification = JSON.stringify(oppoNotification(n));
      const results = await Promise.all(
        chunked(targets, batchSize).map((chunk) => {
          const messages = oppoMessages(
            notification,
            chunk.map((t) => t.token),
          );
          return sendChunk(chunk, () => attempt(chunk, messages), {
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

function authError(err: unknown): never {
  throw new Error(`AuthError: ${err instanceof Error ? err.message : String(err)}`);
}
