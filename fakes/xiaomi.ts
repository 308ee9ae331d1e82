import { randomBytes } from 'node:crypto';
import {
  chars,
  type FailureKind,
  formOf,
  header,
  type InjectedFailure,
  retryAfter,
  startVendorServer,
  type VendorReply,
} from './vendor-server.ts';

/**
 * A local stand-in for MiPush's `POST /v3/message/regid` (api.xmpush.xiaomi.com): checks
 * `Authorization: key=<AppSecret>`, the form fields and their limits as Xiaomi documents them, and answers as
 * Xiaomi does: `{result, code, description, reason, trace_id, data:{id, bad_regids}}`; 20301 when no target is
 * valid, 21301 for a wrong AppSecret, 10027 (too frequent), 10034 (daily quota) and 10001 (system error) when
 * told to fail.
 */
export interface FakeXiaomiOptions {
  appSecret: string;
  packageName: string;
  latencyMs?: number;
}

export interface ReceivedXiaomi {
  token: string;
  /** Every form field but registration_id. */
  fields: Record<string, string>;
}

export interface FakeXiaomi {
  url: string;
  ca: string;
  received: ReceivedXiaomi[];
  /** Registration ids answered as bad_regids. */
  invalid: Set<string>;
  /** `/v3/message/regid` requests, answered or failed. */
  readonly requests: number;
  /** Registration ids per request, in arrival order. */
  readonly batchSizes: number[];
  /** When each request arrived (ms since epoch), in order. */
  readonly arrivals: number[];
  readonly maxInFlight: number;
  /** The next `n` requests are answered with that failure, with Retry-After when given. */
  failNext(n: number, kind: FailureKind, retryAfterSeconds?: number): void;
  close(): Promise<void>;
}

const MAX_REGIDS = 1000;

/** A plausible registration id: 64 characters of base64 with `/` and `+`. */
export function fakeXiaomiToken(): string {
  return randomBytes(48).toString('base64');
}

const error = (code: number, reason: string, description = '发送消息失败'): VendorReply => ({
  body: { result: 'error', code, reason, description, trace_id: traceId() },
});
const traceId = () => `Xlm${randomBytes(10).toString('hex')}`;

export async function startFakeXiaomi(opts: FakeXiaomiOptions): Promise<FakeXiaomi> {
  const injected: InjectedFailure[] = [];
  let requests = 0;
  const batchSizes: number[] = [];
  const arrivals: number[] = [];

  const server = await startVendorServer(
    (request) => {
      if (request.method !== 'POST' || request.path !== '/v3/message/regid')
        return { status: 404, body: { result: 'error', code: 404, reason: 'Not Found' } };
      requests++;
      arrivals.push(Date.now());
      if (header(request, 'authorization') !== `key=${opts.appSecret}`)
        return error(21301, 'Authentication failed', '认证失败');
      const failure = injected.shift();
      if (failure) {
        const reply = failureReply(failure.kind);
        return { ...reply, headers: retryAfter(failure) };
      }
      const form = formOf(request);
      if (!form) return error(10017, 'Content-Type must be application/x-www-form-urlencoded');
      const ids = (form.get('registration_id') ?? '').split(',').filter(Boolean);
      batchSizes.push(ids.length);
      const problem = invalidFields(form, opts.packageName, ids.length);
      if (problem) return error(10017, problem, '参数不合法');
      const bad = ids.filter((id) => fake.invalid.has(id));
      if (bad.length === ids.length) return error(20301, 'No valid targets!');
      const fields = Object.fromEntries([...form].filter(([k]) => k !== 'registration_id'));
      for (const token of ids) if (!fake.invalid.has(token)) fake.received.push({ token, fields });
      const data: Record<string, string> = { id: `slm${randomBytes(10).toString('hex')}`, day_quota: '0' };
      if (bad.length) data.bad_regids = bad.join(',');
      return {
        body: {
          result: 'ok',
          trace_id: traceId(),
          code: 0,
          data,
          description: '成功',
          info: `Received push messages for ${ids.length} REGID`,
        },
      };
    },
    { latencyMs: opts.latencyMs },
  );

  const fake: FakeXiaomi = {
    url: server.url,
    ca: server.ca,
    received: [],
    invalid: new Set(),
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
    close: () => server.close(),
  };
  return fake;
}

function failureReply(kind: FailureKind): VendorReply {
  if (kind === 'throttle') return error(10027, 'Request too frequent', '请求过于频繁');
  if (kind === 'quota') return error(10034, 'Daily push quota exceeded', '超过每日推送上限');
  return error(10001, 'System error', '系统错误');
}

/** Xiaomi's documented rules for a notification message to registration ids. */
function invalidFields(form: URLSearchParams, packageName: string, ids: number): string | undefined {
  if (ids === 0) return 'registration_id is required';
  if (ids > MAX_REGIDS) return `at most ${MAX_REGIDS} registration ids`;
  if (form.get('restricted_package_name') !== packageName) return 'restricted_package_name is not the app';
  if (form.get('pass_through') !== '0') return 'pass_through must be 0 for a notification';
  const title = form.get('title') ?? '';
  const description = form.get('description') ?? '';
  if (!title.trim() || chars(title) >= 50) return 'title: not blank, under 50 characters';
  if (!description.trim() || chars(description) >= 128) return 'description: not blank, under 128 characters';
  const ttl = form.get('time_to_live');
  if (ttl !== null && !/^\d+$/.test(ttl)) return 'time_to_live is milliseconds';
  const notifyId = form.get('notify_id');
  if (notifyId !== null && !/^\d+$/.test(notifyId)) return 'notify_id is a number';
  const payload = form.get('payload');
  if (payload !== null) {
    try {
      decodeURIComponent(payload);
    } catch {
      return 'payload must be URL-encoded';
    }
  }
  const extras = [...form.keys()].filter((k) => k.startsWith('extra.'));
  if (extras.some((k) => (form.get(k) ?? '').length > 1024)) return 'an extra value is over 1024 characters';
  return undefined;
}
