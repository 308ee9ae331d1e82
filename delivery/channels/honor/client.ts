import { VENDOR_BATCH_CONCURRENCY } from '../../../core/tunables.ts';
import { createBatchSender } from '../../batch-sender.ts';
import type { ChannelClient, DeviceTarget, SendOutcome } from '../../channel.ts';
import { createClientCredentialsToken } from '../../client-credentials.ts';
import { createHttp1Pool } from '../../http1-pool.ts';
import { readHonorAnswer } from './answers.ts';
import type { HonorCredentials } from './credentials.ts';
import { type HonorNotification, honorMessage } from './payload.ts';

export const HONOR_PUSH_URL = 'https://push-api.cloud.honor.com';
export const HONOR_TOKEN_URL = 'https://iam.developer.honor.com/auth/token';
/** Tokens per sendMessage: Honor documents a `token` array without a limit here; Huawei's 1,000 is used. */
export const HONOR_MAX_TOKENS = 1000;

export interface HonorClientOptions {
  credentials: HonorCredentials;
  /** Default https://push-api.cloud.honor.com (HONOR_URL). */
  baseUrl?: string;
  /** Default Honor's token endpoint (HONOR_TOKEN_URL). */
  tokenUrl?: string;
  /** Requests in flight; default VENDOR_BATCH_CONCURRENCY. */
  concurrency?: number;
  /** Retries after throttling, 5xx and network errors; default 3. */
  maxRetries?: number;
  /** Tokens per request; default (and at most) 1000. */
  maxTokens?: number;
  /** Extra trusted CA, for sendMessage and the token endpoint (tests). */
  ca?: string | Buffer;
}

const REQUEST_TIMEOUT_MS = 15_000;
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * The Honor Push client: each page's devices in requests of up to 1,000 tokens (the documentation this follows,
 * and what stayed unconfirmed, is in ./index.ts).
 */
export function createHonorClient(opts: HonorClientOptions): ChannelClient<HonorNotification> {
  const { credentials } = opts;
  const concurrency = opts.concurrency ?? VENDOR_BATCH_CONCURRENCY;
  const base = (opts.baseUrl ?? HONOR_PUSH_URL).replace(/\/+$/, '');
  const url = new URL(`${base}/api/v1/${encodeURIComponent(credentials.appId)}/sendMessage`);
  const pool = createHttp1Pool({ maxSockets: concurrency, ca: opts.ca });
  const accessToken = createClientCredentialsToken({
    tokenUrl: opts.tokenUrl ?? HONOR_TOKEN_URL,
    clientId: credentials.clientId,
    clientSecret: credentials.clientSecret,
    pool,
  });
  // A page's request body up to its tokens, stringified once: each batch splices its tokens in.
  const sender = createBatchSender<string>({
    pool,
    accessToken,
    maxTokens: Math.min(HONOR_MAX_TOKENS, opts.maxTokens ?? HONOR_MAX_TOKENS),
    concurrency,
    maxRetries: opts.maxRetries ?? 3,
    maxRetryAfterMs: MAX_RETRY_AFTER_MS,
    timeoutMs: REQUEST_TIMEOUT_MS,
    request: (tokens, bearer, prefix) => ({
      url,
      headers: {
        authorization: bearer.authorization,
        'content-type': 'application/json; charset=UTF-8',
        timestamp: String(Date.now()),
      },
      body: `${prefix}${JSON.stringify(tokens)}}`,
    }),
    read: readHonorAnswer,
  });

  return {
    async send(targets: readonly DeviceTarget[], notification: HonorNotification): Promise<SendOutcome[]> {
      // {…,"token":[…]}
      const whole = JSON.stringify(honorMessage(notification));
      return sender.send(targets, `${whole.slice(0, -1)},"token":`);
    },
    async close() {
      sender.close();
      await pool.close();
    },
  };
}
