import { createHash, randomBytes } from 'node:crypto';
import {
  type FailureKind,
  header,
  type InjectedFailure,
  jsonOf,
  retryAfter,
  startVendorServer,
  type VendorReply,
} from './vendor-server.ts';

/**
 * A local stand-in for vivo Push (api-push.vivo.com.cn): `POST /message/auth` checks the sign (lower-case
 * md5(appId + appKey + timestamp + appSecret), timestamp within 10 minutes) and issues authTokens for 24 hours;
 * `/message/send`, `/message/saveListPayload` and `/message/pushToList` want a live `authToken` header and the
 * app's `appId` in the body, check the fields and limits of vivo's document, and answer `{result, desc, …}`:
 * 10302 with `invalidUser` for a dead regId on a single send, `invalidUsers` on a list send, 10000 for an
 * invalid authToken, 10072 (too frequent), 10070 (daily total) and 500 when told to fail.
 */
export interface FakeVivoOptions {
  appId: string;
  appKey: string;
  appSecret: string;
  latencyMs?: number;
}

export interface ReceivedVivo {
  token: string;
  /** The message fields: the single send's body, or the saved list payload. */
  message: Record<string, unknown>;
  via: 'send' | 'list';
  authToken: string;
}

export interface FakeVivo {
  url: string;
  ca: string;
  received: ReceivedVivo[];
  /** regIds answered as invalid (status 2: uninstalled or notifications off). */
  invalid: Set<string>;
  readonly authRequests: number;
  /** send and pushToList requests, answered or failed. */
  readonly requests: number;
  /** saveListPayload requests that saved a payload. */
  readonly savedPayloads: number;
  readonly batchSizes: number[];
  readonly arrivals: number[];
  readonly maxInFlight: number;
  failNext(n: number, kind: FailureKind, retryAfterSeconds?: number): void;
  /** authTokens issued so far stop working (result 10000). */
  revokeTokens(): void;
  close(): Promise<void>;
}

const TIMESTAMP_SKEW_MS = 10 * 60_000;
const TOKEN_LIFETIME_MS = 24 * 3600_000;
const EMOJI = /\p{Extended_Pictographic}/u;
const width = (s: string) =>
  [...s].reduce((w, ch) => w + ((ch.codePointAt(0) ?? 0) < 0x80 || EMOJI.test(ch) ? 1 : 2), 0);

/** A plausible regId: 23 digits. */
export function fakeVivoToken(): string {
  return `1${Array.from(randomBytes(22), (b) => String(b % 10)).join('')}`;
}

const result = (code: number, desc: string, extra: Record<string, unknown> = {}): VendorReply => ({
  body: { result: code, desc, ...extra },
});

export async function startFakeVivo(opts: FakeVivoOptions): Promise<FakeVivo> {
  const issued = new Map<string, number>();
  const payloads = new Map<string, Record<string, unknown>>();
  const injected: InjectedFailure[] = [];
  let authRequests = 0;
  let requests = 0;
  const batchSizes: number[] = [];
  const arrivals: number[] = [];

  function auth(body: Record<string, unknown>): VendorReply {
    authRequests++;
    const { appId, appKey, timestamp, sign } = body;
    if (appId === undefined || appId === '') return result(10200, 'appId不能为空');
    if (String(appId) !== opts.appId) return result(10205, 'appId不合法');
    if (appKey !== opts.appKey) return result(10206, 'appKey不合法');
    if (typeof timestamp !== 'number' || Math.abs(timestamp - Date.now()) > TIMESTAMP_SKEW_MS)
      return result(10203, 'timestamp不合法');
    const expected = createHash('md5')
      .update(`${opts.appId}${opts.appKey}${timestamp}${opts.appSecret}`)
      .digest('hex');
    if (sign !== expected) return result(10204, 'sign不合法');
    const token = randomBytes(20).toString('hex');
    issued.set(token, Date.now() + TOKEN_LIFETIME_MS);
    return result(0, '请求成功', { authToken: token });
  }

  /** The authToken header, or the refusal. */
  function authorize(request: Parameters<Parameters<typeof startVendorServer>[0]>[0]): string | VendorReply {
    const token = header(request, 'authtoken');
    const expires = token ? issued.get(token) : undefined;
    if (!token || expires === undefined || expires <= Date.now()) return result(10000, 'authToken不合法');
    return token;
  }

  function send(body: Record<string, unknown>, token: string): VendorReply {
    const regId = body.regId;
    if (typeof regId !== 'string' || !regId) return result(10101, 'regId不能为空');
    const problem = invalidMessage(body) ?? invalidRequestId(body);
    if (problem) return result(10050, problem);
    if (fake.invalid.has(regId))
      return result(10302, 'regId不合法', { invalidUser: { status: 2, userid: regId } });
    fake.received.push({ token: regId, message: body, via: 'send', authToken: token });
    return result(0, '请求成功', { taskId: String(Date.now()) });
  }

  function saveListPayload(body: Record<string, unknown>): VendorReply {
    const problem = invalidMessage(body) ?? invalidRequestId(body);
    if (problem) return result(10050, problem);
    const taskId = String(100000000 + payloads.size);
    payloads.set(taskId, body);
    return result(0, '请求成功', { taskId });
  }

  function pushToList(body: Record<string, unknown>, token: string): VendorReply {
    const { regIds, taskId } = body;
    if (!Array.isArray(regIds) || regIds.length < 2 || regIds.length > 1000)
      return result(10050, 'regIds: 2–1000 regIds');
    const problem = invalidRequestId(body);
    if (problem) return result(10050, problem);
    const message = payloads.get(String(taskId));
    if (!message) return result(10050, 'taskId不合法');
    batchSizes.push(regIds.length);
    const invalidUsers: { status: number; userid: string }[] = [];
    for (const id of regIds.map(String)) {
      if (fake.invalid.has(id)) invalidUsers.push({ status: 2, userid: id });
      else fake.received.push({ token: id, message, via: 'list', authToken: token });
    }
    return result(0, '请求成功', { taskId: String(taskId), invalidUsers });
  }

  const server = await startVendorServer(
    (request) => {
      if (request.method !== 'POST') return { status: 405, body: 'Method Not Allowed' };
      const body = jsonOf(request);
      if (!body) return result(10050, '请求体不是JSON');
      if (request.path === '/message/auth') return auth(body);
      const routes: Record<string, true> = {
        '/message/send': true,
        '/message/saveListPayload': true,
        '/message/pushToList': true,
      };
      if (!routes[request.path]) return { status: 404, body: 'Not Found' };
      const token = authorize(request);
      if (typeof token !== 'string') return token;
      if (String(body.appId) !== opts.appId) return result(10094, 'appId与鉴权信息不一致');
      if (request.path === '/message/saveListPayload') return saveListPayload(body);
      requests++;
      arrivals.push(Date.now());
      const failure = injected.shift();
      if (failure) return { ...failureReply(failure.kind), headers: retryAfter(failure) };
      return request.path === '/message/send' ? send(body, token) : pushToList(body, token);
    },
    { latencyMs: opts.latencyMs },
  );

  const fake: FakeVivo = {
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
    get savedPayloads() {
      return payloads.size;
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
  if (kind === 'throttle') return result(10072, '发送频率过快');
  if (kind === 'quota') return result(10070, '发送总量超出限制');
  return { status: 500, body: 'Internet server error!' };
}

function invalidRequestId(body: Record<string, unknown>): string | undefined {
  const id = body.requestId;
  return typeof id === 'string' && id.length >= 1 && id.length <= 64
    ? undefined
    : 'requestId: 1–64 characters';
}

/** vivo's rules for the notification fields of send and saveListPayload. */
function invalidMessage(body: Record<string, unknown>): string | undefined {
  const { notifyType, title, content, timeToLive, skipType, classification, clientCustomMap } = body;
  if (![1, 2, 3, 4].includes(notifyType as number)) return 'notifyType: 1–4';
  if (typeof title !== 'string' || !title || width(title) > 40) return 'title不合法: at most 40';
  if (typeof content !== 'string' || !content || width(content) > 100) return 'content不合法: at most 100';
  if (
    timeToLive !== undefined &&
    (!Number.isInteger(timeToLive) || (timeToLive as number) < 60 || (timeToLive as number) > 7 * 24 * 3600)
  )
    return 'timeToLive: 60 s to 7 days';
  if (![1, 2, 3, 4].includes(skipType as number)) return 'skipType: 1–4';
  if (classification !== undefined && classification !== 0 && classification !== 1)
    return 'classification: 0 or 1';
  if (clientCustomMap !== undefined) {
    if (typeof clientCustomMap !== 'object' || clientCustomMap === null)
      return 'clientCustomMap is an object';
    const entries = Object.entries(clientCustomMap);
    const size = entries.reduce((n, [k, v]) => n + k.length + String(v).length, 0);
    if (entries.length > 10 || size > 1024) return 'clientCustomMap: at most 10 pairs and 1024 characters';
    if (entries.some(([, v]) => typeof v !== 'string')) return 'clientCustomMap values are strings';
  }
  return undefined;
}
