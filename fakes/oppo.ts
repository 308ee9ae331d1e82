import { createHash, randomBytes } from 'node:crypto';
import {
  chars,
  type FailureKind,
  formOf,
  type InjectedFailure,
  retryAfter,
  startVendorServer,
  type VendorReply,
} from './vendor-server.ts';

/**
 * A local stand-in for OPPO Push (api.push.oppomobile.com): `POST /server/v1/auth` checks the sign
 * (sha256(appKey + timestamp + masterSecret), timestamp within 10 minutes) and issues auth_tokens for 24 hours;
 * `POST /server/v1/message/notification/unicast_batch` wants a live auth_token form field and `messages` (a JSON
 * array of 1–1,000 messages) and answers `{code, message, data:[{messageId, registrationId, errorCode?}]}` with
 * errorCode 10000 for an invalid registration id. OPPO's own codes: 11 (invalid auth token), 14 / 16 / 18 / 19
 * (auth request), 41 (bad arguments), -2 (flow control), 33 (daily quota), -1 (unavailable).
 */
export interface FakeOppoOptions {
  appKey: string;
  masterSecret: string;
  latencyMs?: number;
}

export interface ReceivedOppo {
  token: string;
  notification: Record<string, unknown>;
  authToken: string;
}

export interface FakeOppo {
  url: string;
  ca: string;
  received: ReceivedOppo[];
  /** Registration ids answered with errorCode 10000. */
  invalid: Set<string>;
  readonly authRequests: number;
  /** unicast_batch requests, answered or failed. */
  readonly requests: number;
  readonly batchSizes: number[];
  readonly arrivals: number[];
  readonly maxInFlight: number;
  failNext(n: number, kind: FailureKind, retryAfterSeconds?: number): void;
  /** auth_tokens issued so far stop working (code 11). */
  revokeTokens(): void;
  close(): Promise<void>;
}

const MAX_MESSAGES = 1000;
const TIMESTAMP_SKEW_MS = 10 * 60_000;
const TOKEN_LIFETIME_MS = 24 * 3600_000;

/** A plausible registration id: `CN_` and 32 hex digits. */
export function fakeOppoToken(): string {
  return `CN_${randomBytes(16).toString('hex')}`;
}

const code = (c: number, message: string): VendorReply => ({ body: { code: c, message } });

export async function startFakeOppo(opts: FakeOppoOptions): Promise<FakeOppo> {
  const issued = new Map<string, number>();
  const injected: InjectedFailure[] = [];
  let authRequests = 0;
  let requests = 0;
  const batchSizes: number[] = [];
  const arrivals: number[] = [];

  function auth(form: URLSearchParams): VendorReply {
    authRequests++;
    const appKey = form.get('app_key');
    const timestamp = form.get('timestamp');
    const sign = form.get('sign');
    if (!appKey) return code(15, 'Missing App Key');
    if (appKey !== opts.appKey) return code(14, 'Invalid App Key');
    if (!sign) return code(17, 'Missing Signature');
    if (!timestamp) return code(18, 'Missing Timestamp');
    if (!/^\d{13}$/.test(timestamp) || Math.abs(Number(timestamp) - Date.now()) > TIMESTAMP_SKEW_MS)
      return code(19, 'Invalid Timestamp');
    const expected = createHash('sha256').update(`${appKey}${timestamp}${opts.masterSecret}`).digest('hex');
    if (sign !== expected) return code(16, 'Invalid Signature');
    const token = randomBytes(18).toString('hex');
    const created = Date.now();
    issued.set(token, created + TOKEN_LIFETIME_MS);
    return { body: { code: 0, message: 'success', data: { auth_token: token, create_time: created } } };
  }

  function unicastBatch(form: URLSearchParams): VendorReply {
    requests++;
    arrivals.push(Date.now());
    const token = form.get('auth_token');
    if (!token) return code(29, 'Missing Auth Token');
    const expires = issued.get(token);
    if (expires === undefined || expires <= Date.now()) return code(11, 'Invalid AuthToken');
    const failure = injected.shift();
    if (failure) return { ...failureReply(failure.kind), headers: retryAfter(failure) };
    let messages: unknown;
    try {
      messages = JSON.parse(form.get('messages') ?? '');
    } catch {
      return code(41, 'Invalid Arguments: messages is not JSON');
    }
    if (!Array.isArray(messages) || messages.length === 0)
      return code(40, 'Missing Required Arguments: messages');
    if (messages.length > MAX_MESSAGES)
      return code(41, `Invalid Arguments: at most ${MAX_MESSAGES} messages`);
    batchSizes.push(messages.length);
    const data: Record<string, unknown>[] = [];
    for (const message of messages as Record<string, unknown>[]) {
      const problem = invalidMessage(message);
      if (problem) return code(41, `Invalid Arguments: ${problem}`);
      const target = String(message.target_value);
      const messageId = `${opts.appKey}-1-1-${randomBytes(12).toString('hex')}`;
      if (fake.invalid.has(target)) {
        data.push({
          messageId,
          registrationId: target,
          errorCode: 10000,
          errorMessage: 'Invalid Registration_id',
        });
      } else {
        data.push({ messageId, registrationId: target });
        fake.received.push({
          token: target,
          notification: message.notification as Record<string, unknown>,
          authToken: token,
        });
      }
    }
    return { body: { code: 0, message: '', data } };
  }

  const server = await startVendorServer(
    (request) => {
      const form = formOf(request);
      if (request.method !== 'POST') return code(12, 'Http Action Not Allowed');
      if (!form) return code(25, 'Invalid Encoding');
      if (request.path === '/server/v1/auth') return auth(form);
      if (request.path === '/server/v1/message/notification/unicast_batch') return unicastBatch(form);
      return code(20, 'Invalid Method');
    },
    { latencyMs: opts.latencyMs },
  );

  const fake: FakeOppo = {
    url: server.url,
    ca: server.ca,
    received: [],
    invalid: new Set(),
    get authRequests() {
      return authRequests;
    },
    get requests() {
      return requests;
    },
    batchSizes,
    arrivals,
    get maxInFlight() {
      return server.maxInFlight;
    },
    failNext(n, kind, retryAfterSeconds) {
      for (let i = 0; i < n; i++) injected.push({ kind, retryAfterSeconds });
    },
    revokeTokens() {
      issued.clear();
    },
    close: () => server.close(),
  };
  return fake;
}

function failureReply(kind: FailureKind): VendorReply {
  if (kind === 'throttle') return code(-2, 'Service in Flow Control');
  if (kind === 'quota') return code(33, 'The number of messages exceeds the daily limit');
  return code(-1, 'Service Currently Unavailable');
}

const NOTIFICATION_FIELDS = new Set([
  'app_message_id',
  'style',
  'title',
  'sub_title',
  'content',
  'click_action_type',
  'click_action_activity',
  'click_action_url',
  'action_parameters',
  'show_time_type',
  'off_line',
  'off_line_ttl',
  'channel_id',
  'category',
  'notify_level',
  'notify_id',
]);

/** OPPO's rules for one message of unicast_batch and its notification (standard style). */
function invalidMessage(message: Record<string, unknown>): string | undefined {
  if (message.target_type !== 2 && message.target_type !== 5) return 'target_type must be 2 or 5';
  if (typeof message.target_value !== 'string' || !message.target_value) return 'target_value is required';
  const n = message.notification;
  if (typeof n !== 'object' || n === null || Array.isArray(n)) return 'notification is required';
  const notification = n as Record<string, unknown>;
  for (const key of Object.keys(notification))
    if (!NOTIFICATION_FIELDS.has(key)) return `notification.${key} is not a field`;
  const { title, content } = notification;
  if (typeof title !== 'string' || !title || chars(title) > 50) return 'title: 1–50 characters';
  if (typeof content !== 'string' || !content || chars(content) > 200) return 'content: 1–200 characters';
  if (notification.action_parameters !== undefined) {
    try {
      JSON.parse(String(notification.action_parameters));
    } catch {
      return 'action_parameters must be a JSON string';
    }
  }
  const ttl = notification.off_line_ttl;
  if (ttl !== undefined && (!Number.isInteger(ttl) || (ttl as number) < 3600 || (ttl as number) > 864000))
    return 'off_line_ttl: 3600–864000 seconds';
  if (notification.notify_level !== undefined && ![1, 2, 16].includes(notification.notify_level as number))
    return 'notify_level: 1, 2 or 16';
  return undefined;
}
