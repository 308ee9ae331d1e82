import { VENDOR_BATCH_CONCURRENCY } from '../../../core/tunables.ts';
import { createBatchSender } from '../../batch-sender.ts';
import type { ChannelClient, DeviceTarget, SendOutcome } from '../../channel.ts';
import { createClientCredentialsToken } from '../../client-credentials.ts';
import { createHttp1Pool } from '../../http1-pool.ts';
import { failed } from '../../limits.ts';
import { readHmsAnswer } from './answers.ts';
import type { HmsCredentials } from './credentials.ts';
import { HMS_MAX_MESSAGE_BYTES, type HmsNotification, hmsMessage } from './payload.ts';

export const HMS_PUSH_URL = 'https://push-api.cloud.huawei.com';
export const HMS_TOKEN_URL = 'https://oauth-login.cloud.huawei.com/oauth2/v3/token';
/** Tokens per messages:send ("the maximum number of tokens cannot exceed 1000"). */
export const HMS_MAX_TOKENS = 1000;

export interface HmsClientOptions {
  credentials: HmsCredentials;
  /** Default https://push-api.cloud.huawei.com (HMS_URL). */
  baseUrl?: string;
  /** Default Huawei's OAuth 2.0 token endpoint (HMS_TOKEN_URL). */
  tokenUrl?: string;
  /** Requests in flight; default VENDOR_BATCH_CONCURRENCY. */
  concurrency?: number;
  /** Retries after flow control, 5xx and network errors; default 3. */
  maxRetries?: number;
  /** Tokens per request; default (and at most) 1000. */
  maxTokens?: number;
  /** Extra trusted CA, for messages:send and the token endpoint (tests). */
  ca?: string | Buffer;
}

const REQUEST_TIMEOUT_MS = 15_000;
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * The Huawei Push Kit client: each page's devices in requests of up to 1,000 tokens (the documentation this
 * follows, and what stayed unconfirmed, is in ./index.ts).
 */
export function createHmsClient(opts: HmsClientOptions): ChannelClient<HmsNotification> {
  const { credentials } = opts;
  const concurrency = opts.concurrency ?? VENDOR_BATCH_CONCURRENCY;
  const base = (opts.baseUrl ?? HMS_PUSH_URL).replace(/\/+$/, '');
  const url = new URL(
    credentials.projectId
      ? `${base}/v2/${encodeURIComponent(credentials.projectId)}/messages:send`
      : `${base}/v1/${encodeURIComponent(credentials.clientId)}/messages:send`,
  );
  const pool = createHttp1Pool({ maxSockets: concurrency, ca: opts.ca });
  const accessToken = createClientCredentialsToken({
    tokenUrl: opts.tokenUrl ?? HMS_TOKEN_URL,
    clientId: credentials.clientId,
    clientSecret: credentials.clientSecret,
    pool,
  });
  // A page's request body up to its tokens, stringified once: each batch splices its tokens in.
  const sender = createBatchSender<string>({
    pool,
    accessToken,
    maxTokens: Math.min(HMS_MAX_TOKENS, opts.maxTokens ?? HMS_MAX_TOKENS),
    concurrency,
    maxRetries: opts.maxRetries ?? 3,
    maxRetryAfterMs: MAX_RETRY_AFTER_MS,
    timeoutMs: REQUEST_TIMEOUT_MS,
    request: (tokens, bearer, prefix) => ({
      url,
      headers: { authorization: bearer.authorization, 'content-type': 'application/json; charset=UTF-8' },
      body: `${prefix}${JSON.stringify(tokens)}}}`,
    }),
    read: readHmsAnswer,
  });

  return {
    async send(targets: readonly DeviceTarget[], notification: HmsNotification): Promise<SendOutcome[]> {
      const message = hmsMessage(notification, credentials.clickAction);
      const whole = JSON.stringify({ validate_only: false, message });
      // Checked before sending: Huawei would refuse it (80300008) for every batch of the page.
      if (Buffer.byteLength(whole) > HMS_MAX_MESSAGE_BYTES)
        return targets.map((t) => failed(t.token, 'PayloadTooLarge'));
      // {"validate_only":false,"message":{…,"token":[…]}}
      return sender.send(targets, `${whole.slice(0, -2)},"token":`);
    },
    async close() {
      sender.close();
      await pool.close();
    },
  };
}
