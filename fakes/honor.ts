import { randomBytes } from 'node:crypto';
import { clientCredentialsIssuer, type FakeAnswer, type FakeRequest, startHttp1Fake } from './http1.ts';

/**
 * A local stand-in for Honor Push: the token endpoint (client credentials, refused the way Honor's
 * Keycloak-based IAM refuses: `invalid_client`) and POST /api/v1/{appId}/sendMessage, which checks the Bearer
 * token, the `timestamp` header (epoch ms), a `token` array and the android notification (title, body,
 * clickAction, importance LOW|NORMAL, ttl ≤ 15 days), and answers `{code: 200, message, data: {sendResult,
 * requestId, failTokens, expireTokens}}`. What Honor's error table (not read) would say is modelled on
 * Huawei's codes: 80200001 / 80200003 for a missing / expired access token, 80100003 for a bad message,
 * 80300010 for the token count, HTTP 503 for throttling.
 */
export interface FakeHonorOptions {
  appId: string;
  clientId: string;
  clientSecret: string;
  tokenLifetimeSeconds?: number;
  latencyMs?: number;
  plaintext?: boolean;
}

export interface ReceivedHonor {
  tokens: string[];
  /** The body without its `token` list. */
  message: Record<string, unknown>;
  headers: Record<string, string>;
  accessToken: string;
}

export interface HonorExchange {
  status: number;
  code: number;
  at: number;
  tokens: number;
}

export interface FakeHonor {
  url: string;
  tokenUrl: string;
  ca: string;
  received: ReceivedHonor[];
  exchanges: HonorExchange[];
  /** Tokens of uninstalled apps: answered in `data.expireTokens`. */
  expiredTokens: Set<string>;
  readonly tokenRequests: number;
  failNext(n: number, status: number, retryAfterSeconds?: number): void;
  revokeAccessTokens(): void;
  close(): Promise<void>;
}

const MAX_TOKENS = 1000;
const MAX_TTL_SECONDS = 15 * 24 * 3600;
const TIMESTAMP_SKEW_MS = 10 * 60_000;
const BODY_FIELDS = new Set(['data', 'notification', 'android', 'token']);
const ANDROID_FIELDS = new Set(['ttl', 'biTag', 'data', 'notification', 'targetUserType']);
const NOTIFICATION_FIELDS = new Set([
  'title',
  'body',
  'clickAction',
  'image',
  'style',
  'bigTitle',
  'bigBody',
  'importance',
  'when',
  'buttons',
  'badge',
  'notifyId',
  'tag',
  'group',
]);

/** A plausible Honor push token. */
export function fakeHonorToken(): string {
  return `${randomBytes(40).toString('hex')}${randomBytes(8).toString('hex').toUpperCase()}`;
}

class HonorError {
  constructor(
    readonly status: number,
    readonly code: number,
    readonly message: string,
  ) {}
}

const illegal = (message: string) => new HonorError(400, 80100003, `Illegal message, ${message}`);

export async function startFakeHonor(opts: FakeHonorOptions): Promise<FakeHonor> {
  const oauth = clientCredentialsIssuer({
    clientId: opts.clientId,
    clientSecret: opts.clientSecret,
    lifetimeSeconds: opts.tokenLifetimeSeconds ?? 3600,
    refuse: (reason) =>
      reason === 'grant'
        ? {
            status: 400,
            body: { error: 'unsupported_grant_type', error_description: 'Unsupported grant_type' },
          }
        : {
            status: 401,
            body: {
              error: 'invalid_client',
              error_description: 'Invalid client or Invalid client credentials',
            },
          },
  });
  const injected: { status: number; retryAfterSeconds?: number | undefined }[] = [];
  let counted = 0;

  function send(request: FakeRequest): FakeAnswer {
    counted = 0;
    const injectedError = injected.shift();
    if (injectedError) {
      return {
        status: injectedError.status,
        body: { code: injectedError.status, message: 'too many requests, please retry later' },
        ...(injectedError.retryAfterSeconds === undefined
          ? {}
          : { headers: { 'retry-after': String(injectedError.retryAfterSeconds) } }),
      };
    }
    const auth = oauth.check(request.headers.authorization);
    if (auth.state !== 'ok')
      throw auth.state === 'expired'
        ? new HonorError(401, 80200003, 'access token expired')
        : new HonorError(401, 80200001, 'authentication failed');
    if (request.path !== `/api/v1/${opts.appId}/sendMessage`)
      throw new HonorError(401, 80200001, 'the access token is not for this app');
    const stamp = String(request.headers.timestamp ?? '');
    if (!/^\d{13}$/.test(stamp) || Math.abs(Number(stamp) - Date.now()) > TIMESTAMP_SKEW_MS)
      throw new HonorError(400, 80100001, 'timestamp header must be the current time in milliseconds');
    const { message, tokens } = validate(request.body);
    counted = tokens.length;
    const expired = tokens.filter((t) => fake.expiredTokens.has(t));
    const good = tokens.filter((t) => !fake.expiredTokens.has(t));
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(request.headers)) if (typeof v === 'string') headers[k] = v;
    if (good.length) fake.received.push({ tokens: good, message, headers, accessToken: auth.token });
    return {
      status: 200,
      body: {
        code: 200,
        message: 'success',
        data: {
          sendResult: good.length > 0,
          requestId: `${Date.now()}${randomBytes(6).toString('hex')}`,
          failTokens: [],
          expireTokens: expired,
        },
      },
    };
  }

  function validate(body: string): { message: Record<string, unknown>; tokens: string[] } {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw illegal('the body is not JSON');
    }
    const root = asObject(parsed);
    if (!root) throw illegal('the body is not an object');
    for (const key of Object.keys(root)) if (!BODY_FIELDS.has(key)) throw illegal(`unknown field ${key}`);
    const tokens = root.token;
    if (
      !Array.isArray(tokens) ||
      tokens.length < 1 ||
      tokens.length > MAX_TOKENS ||
      !tokens.every((t) => typeof t === 'string' && t !== '')
    )
      throw new HonorError(400, 80300010, 'the number of tokens must be 1-1000');
    if (root.data !== undefined && typeof root.data !== 'string') throw illegal('data must be a string');
    const android = asObject(root.android);
    if (!android) throw illegal('android must be an object');
    for (const key of Object.keys(android))
      if (!ANDROID_FIELDS.has(key)) throw illegal(`unknown field android.${key}`);
    if (android.ttl !== undefined) {
      const ttl = String(android.ttl).match(/^(\d+)s$/);
      if (!ttl || Number(ttl[1]) > MAX_TTL_SECONDS)
        throw illegal('ttl must be "<seconds>s", at most "1296000s"');
    }
    const n = asObject(android.notification);
    if (!n) throw illegal('android.notification must be an object');
    for (const key of Object.keys(n))
      if (!NOTIFICATION_FIELDS.has(key)) throw illegal(`unknown field notification.${key}`);
    for (const key of ['title', 'body'])
      if (typeof n[key] !== 'string' || n[key] === '') throw illegal(`notification.${key} must not be empty`);
    if (n.importance !== undefined && !['LOW', 'NORMAL'].includes(String(n.importance)))
      throw illegal('importance must be LOW or NORMAL');
    const click = asObject(n.clickAction);
    if (!click) throw illegal('clickAction is mandatory for a notification message');
    if (click.type === 1) {
      if (typeof click.intent !== 'string' && typeof click.action !== 'string')
        throw illegal('clickAction type 1 needs intent or action');
    } else if (click.type === 2) {
      if (typeof click.url !== 'string' || !click.url.startsWith('https://'))
        throw illegal('clickAction type 2 needs an https url');
    } else if (click.type !== 3) throw illegal('clickAction type must be 1, 2 or 3');
    const { token: _, ...message } = root;
    return { message, tokens: tokens as string[] };
  }

  const server = await startHttp1Fake(
    async (request) => {
      if (request.method === 'POST' && request.path === '/auth/token') return oauth.issue(request);
      if (request.method !== 'POST' || !request.path.endsWith('/sendMessage'))
        return { status: 404, body: { code: 404, message: 'Not Found' } };
      if (opts.latencyMs) await new Promise((r) => setTimeout(r, opts.latencyMs));
      let answer: FakeAnswer;
      try {
        answer = send(request);
      } catch (err) {
        if (!(err instanceof HonorError)) throw err;
        answer = { status: err.status, body: { code: err.code, message: err.message } };
      }
      fake.exchanges.push({
        status: answer.status,
        code: (answer.body as { code: number }).code,
        at: Date.now(),
        tokens: counted,
      });
      return answer;
    },
    { plaintext: opts.plaintext },
  );

  const fake: FakeHonor = {
    url: server.url,
    tokenUrl: `${server.url}/auth/token`,
    ca: server.ca,
    received: [],
    exchanges: [],
    expiredTokens: new Set(),
    get tokenRequests() {
      return oauth.requests;
    },
    failNext(n, status, retryAfterSeconds) {
      for (let i = 0; i < n; i++) injected.push({ status, retryAfterSeconds });
    },
    revokeAccessTokens: () => oauth.revoke(),
    close: () => server.close(),
  };
  return fake;
}

function asObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}
