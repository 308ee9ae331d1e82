import { randomBytes } from 'node:crypto';
import { clientCredentialsIssuer, type FakeAnswer, type FakeRequest, startHttp1Fake } from './http1.ts';

/**
 * A local stand-in for Huawei Push Kit: the OAuth 2.0 token endpoint (oauth2/v3/token, client credentials)
 * and messages:send (v1 by app, v2 by project), checked and answered as Huawei documents them ("Sending
 * Downlink Messages", HMSCore-References): a Bearer token of this app, a `message` with 1–1,000 tokens and at
 * most 4,096 bytes without them, the android fields' types and ranges; business codes 80000000, 80100000 with
 * `illegal_tokens` in `msg`, 80300007, 80300010, 80300008, 80100003, 80200001, 80200003, and HTTP 503 for
 * flow control. The OAuth error body and the HTTP status of each business code are as open-source senders
 * report them (Huawei's pages name the codes only).
 */
export interface FakeHmsOptions {
  /** App ID (OAuth 2.0 client ID) and secret the token endpoint accepts. */
  clientId: string;
  clientSecret: string;
  /** When set, /v2/{projectId}/messages:send is served too. */
  projectId?: string;
  /** expires_in of issued access tokens; default 3600. */
  tokenLifetimeSeconds?: number;
  /** Delay before answering each send. */
  latencyMs?: number;
  plaintext?: boolean;
}

/** One accepted messages:send: the tokens it reached and the message without them. */
export interface ReceivedHms {
  tokens: string[];
  message: Record<string, unknown>;
  path: string;
  accessToken: string;
}

/** Every messages:send the fake answered, in arrival order. */
export interface HmsExchange {
  status: number;
  code: string;
  at: number;
  tokens: number;
}

export interface FakeHms {
  url: string;
  tokenUrl: string;
  ca: string;
  received: ReceivedHms[];
  exchanges: HmsExchange[];
  /** Tokens Huawei no longer knows: listed in 80100000's `illegal_tokens`, or 80300007 when all are. */
  invalidTokens: Set<string>;
  readonly tokenRequests: number;
  readonly maxInFlight: number;
  /** The next `n` sends get HTTP `status` (503 flow control, 500…), with Retry-After when given. */
  failNext(n: number, status: number, retryAfterSeconds?: number): void;
  /** Access tokens issued so far stop working (80200003), as after a secret rotation. */
  revokeAccessTokens(): void;
  close(): Promise<void>;
}

const MAX_TOKENS = 1000;
const MAX_MESSAGE_BYTES = 4096;
const MAX_TTL_SECONDS = 15 * 24 * 3600;
const MESSAGE_FIELDS = new Set([
  'data',
  'notification',
  'android',
  'apns',
  'webpush',
  'token',
  'topic',
  'condition',
]);
const ANDROID_FIELDS = new Set([
  'collapse_key',
  'urgency',
  'category',
  'ttl',
  'bi_tag',
  'fast_app_target',
  'data',
  'notification',
]);
const NOTIFICATION_FIELDS = new Set([
  'title',
  'body',
  'icon',
  'color',
  'sound',
  'default_sound',
  'tag',
  'click_action',
  'body_loc_key',
  'body_loc_args',
  'title_loc_key',
  'title_loc_args',
  'multi_lang_key',
  'channel_id',
  'notify_summary',
  'image',
  'style',
  'big_title',
  'big_body',
  'auto_clear',
  'notify_id',
  'group',
  'badge',
  'ticker',
  'auto_cancel',
  'when',
  'importance',
  'use_default_vibrate',
  'use_default_light',
  'vibrate_config',
  'visibility',
  'light_settings',
  'foreground_show',
]);

/** A plausible Huawei push token. */
export function fakeHmsToken(): string {
  return `IQAAAACy0${randomBytes(96).toString('base64url')}`;
}

class HmsError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly msg: string,
  ) {}
}

const illegal = (msg: string) => new HmsError(400, '80100003', `Illegal payload, ${msg}`);

export async function startFakeHms(opts: FakeHmsOptions): Promise<FakeHms> {
  const oauth = clientCredentialsIssuer({
    clientId: opts.clientId,
    clientSecret: opts.clientSecret,
    lifetimeSeconds: opts.tokenLifetimeSeconds ?? 3600,
    refuse: (reason) =>
      reason === 'grant'
        ? { status: 400, body: { error: 1102, sub_error: 20001, error_description: 'invalid grant_type' } }
        : { status: 400, body: { error: 1101, sub_error: 20152, error_description: 'invalid client' } },
  });
  const injected: { status: number; retryAfterSeconds?: number | undefined }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  /** Tokens of the request being answered (0 when refused before they were read). */
  let counted = 0;

  function send(request: FakeRequest): FakeAnswer {
    counted = 0;
    const injectedError = injected.shift();
    if (injectedError) {
      return {
        status: injectedError.status,
        // Huawei documents HTTP 503 as flow control, without a business code.
        body: { msg: 'Traffic control, please retry later' },
        ...(injectedError.retryAfterSeconds === undefined
          ? {}
          : { headers: { 'retry-after': String(injectedError.retryAfterSeconds) } }),
      };
    }
    const auth = oauth.check(request.headers.authorization);
    if (auth.state !== 'ok')
      throw auth.state === 'expired'
        ? new HmsError(401, '80200003', 'Oauth Token expired.')
        : new HmsError(401, '80200001', 'Oauth authentication error');
    const [, version, id] = request.path.match(/^\/(v1|v2)\/([^/]+)\/messages:send$/) ?? [];
    // An access token of one app used for another app's URL is an authentication error.
    const owner = version === 'v2' ? opts.projectId : opts.clientId;
    if (!version || owner === undefined || id !== owner)
      throw new HmsError(401, '80200001', 'Oauth authentication error');
    const { message, tokens } = validate(request.body);
    counted = tokens.length;
    const bad = tokens.filter((t) => fake.invalidTokens.has(t));
    if (bad.length === tokens.length) throw new HmsError(400, '80300007', 'All the tokens are invalid');
    const good = tokens.filter((t) => !fake.invalidTokens.has(t));
    fake.received.push({ tokens: good, message, path: request.path, accessToken: auth.token });
    const requestId = `${Date.now()}${randomBytes(6).toString('hex')}`;
    if (bad.length === 0) return { status: 200, body: { code: '80000000', msg: 'Success', requestId } };
    const msg = JSON.stringify({ success: good.length, failure: bad.length, illegal_tokens: bad });
    return { status: 200, body: { code: '80100000', msg, requestId } };
  }

  function validate(body: string): { message: Record<string, unknown>; tokens: string[] } {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw illegal('the request body is not JSON');
    }
    const root = asObject(parsed);
    if (!root) throw illegal('the request body is not an object');
    if (root.validate_only !== undefined && typeof root.validate_only !== 'boolean')
      throw illegal('validate_only must be a boolean');
    const message = asObject(root.message);
    if (!message) throw illegal('message is missing');
    for (const key of Object.keys(message))
      if (!MESSAGE_FIELDS.has(key)) throw illegal(`unknown field message.${key}`);
    const tokens = message.token;
    if (
      !Array.isArray(tokens) ||
      tokens.length < 1 ||
      tokens.length > MAX_TOKENS ||
      !tokens.every((t) => typeof t === 'string' && t !== '')
    )
      throw new HmsError(
        400,
        '80300010',
        'The number of tokens in the message body exceeds the default value',
      );
    const { token: _, ...withoutTokens } = message;
    if (Buffer.byteLength(JSON.stringify({ ...root, message: withoutTokens })) > MAX_MESSAGE_BYTES)
      throw new HmsError(400, '80300008', 'The message body size exceeds the default value');
    if (message.data !== undefined && typeof message.data !== 'string')
      throw illegal('data must be a string');
    const android = message.android === undefined ? undefined : asObject(message.android);
    if (message.android !== undefined && !android) throw illegal('android must be an object');
    if (android) validateAndroid(android);
    return { message: withoutTokens, tokens: tokens as string[] };
  }

  function validateAndroid(android: Record<string, unknown>): void {
    for (const key of Object.keys(android))
      if (!ANDROID_FIELDS.has(key)) throw illegal(`unknown field android.${key}`);
    const collapse = android.collapse_key;
    if (
      collapse !== undefined &&
      (!Number.isInteger(collapse) || (collapse as number) < -1 || (collapse as number) > 100)
    )
      throw illegal('collapse_key must be in interval [-1 - 100]');
    if (android.urgency !== undefined && !['HIGH', 'NORMAL'].includes(String(android.urgency)))
      throw illegal("urgency must be 'HIGH' or 'NORMAL'");
    if (android.category !== undefined && typeof android.category !== 'string')
      throw illegal('category must be a string');
    if (android.ttl !== undefined) {
      const ttl = String(android.ttl).match(/^(\d+)(\.\d{1,9})?s?$/);
      if (!ttl) throw illegal('malformed ttl');
      if (Number(ttl[1]) > MAX_TTL_SECONDS) throw illegal('ttl exceeds 15 days');
    }
    const n = android.notification === undefined ? undefined : asObject(android.notification);
    if (android.notification !== undefined && !n) throw illegal('android.notification must be an object');
    if (!n) return;
    for (const key of Object.keys(n))
      if (!NOTIFICATION_FIELDS.has(key)) throw illegal(`unknown field notification.${key}`);
    for (const key of ['title', 'body'])
      if (typeof n[key] !== 'string' || n[key] === '') throw illegal(`notification.${key} must not be empty`);
    if (n.channel_id !== undefined && typeof n.channel_id !== 'string')
      throw illegal('channel_id must be a string');
    if (n.importance !== undefined && !['LOW', 'NORMAL', 'HIGH'].includes(String(n.importance)))
      throw illegal("Importance must be 'HIGH', 'NORMAL' or 'LOW'");
    if (n.default_sound !== undefined && typeof n.default_sound !== 'boolean')
      throw illegal('default_sound must be a boolean');
    if (n.default_sound !== true && (typeof n.sound !== 'string' || n.sound === ''))
      throw illegal('sound must not be empty when default_sound is false');
    const click = asObject(n.click_action);
    if (!click) throw illegal('click_action object must not be null');
    if (click.type === 1) {
      if (typeof click.intent !== 'string' && typeof click.action !== 'string')
        throw illegal('at least one of intent and action is not empty when type is 1');
    } else if (click.type === 2) {
      if (typeof click.url !== 'string' || !click.url.startsWith('https://'))
        throw illegal('url must be an https url when type is 2');
    } else if (click.type !== 3) throw illegal('type must be in the interval [1 - 4]');
  }

  const server = await startHttp1Fake(
    async (request) => {
      if (request.method === 'POST' && request.path === '/oauth2/v3/token') return oauth.issue(request);
      if (request.method !== 'POST' || !request.path.endsWith('/messages:send'))
        return { status: 404, body: { code: '404', msg: 'Not Found' } };
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      let answer: FakeAnswer;
      try {
        if (opts.latencyMs) await new Promise((r) => setTimeout(r, opts.latencyMs));
        answer = send(request);
      } catch (err) {
        if (!(err instanceof HmsError)) throw err;
        answer = {
          status: err.status,
          body: { code: err.code, msg: err.msg, requestId: String(Date.now()) },
        };
      } finally {
        inFlight--;
      }
      const code = (answer.body as { code?: string }).code ?? '';
      fake.exchanges.push({ status: answer.status, code, at: Date.now(), tokens: counted });
      return answer;
    },
    { plaintext: opts.plaintext },
  );

  const fake: FakeHms = {
    url: server.url,
    tokenUrl: `${server.url}/oauth2/v3/token`,
    ca: server.ca,
    received: [],
    exchanges: [],
    invalidTokens: new Set(),
    get tokenRequests() {
      return oauth.requests;
    },
    get maxInFlight() {
      return maxInFlight;
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
