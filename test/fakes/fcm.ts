import { createPublicKey, type KeyObject, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { jwtVerify } from 'jose';

/** A local stand-in for oauth2.googleapis.com/token and fcm.googleapis.com/v1 messages:send. */
export interface FakeFcmOptions {
  projectId: string;
  clientEmail: string;
  /** SPKI PEM (or KeyObject) of the service account's RSA key. */
  publicKey: KeyObject | string;
  /** expires_in of issued access tokens; default 3600. */
  tokenLifetimeSeconds?: number;
  /** Delay before answering each send, so concurrent requests really overlap. */
  latencyMs?: number;
}

export interface ReceivedFcm {
  token: string;
  message: Record<string, unknown>;
  accessToken: string;
}

export interface FakeFcm {
  url: string;
  tokenUri: string;
  received: ReceivedFcm[];
  /** Tokens answered with 404 UNREGISTERED. */
  unregistered: Set<string>;
  readonly tokenRequests: number;
  /** messages:send requests, answered or failed. */
  readonly sendRequests: number;
  readonly maxInFlight: number;
  /** The next `n` sends are answered `status` (429, 500, 503…) with Retry-After when given. */
  failNext(n: number, status: number, retryAfterSeconds?: number): void;
  /** Access tokens issued so far stop working (401), as after a key rotation. */
  revokeAccessTokens(): void;
  close(): Promise<void>;
}

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const MESSAGE_FIELDS = new Set([
  'name',
  'token',
  'topic',
  'condition',
  'notification',
  'data',
  'android',
  'apns',
  'webpush',
  'fcm_options',
  'fcmOptions',
]);
// Proto JSON accepts both spellings of field names.
const ANDROID_FIELDS = [
  'ttl',
  'priority',
  'collapse_key',
  'collapseKey',
  'restricted_package_name',
  'restrictedPackageName',
];
const ANDROID_NOTIFICATION_FIELDS = [
  'channel_id',
  'channelId',
  'sound',
  'title',
  'body',
  'icon',
  'color',
  'tag',
  'image',
];
const RESERVED_DATA_KEYS = /^(from|notification|message_type|google\..*|gcm\..*)$/;
const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};
const FCM_ERROR_CODES: Record<number, string> = {
  429: 'QUOTA_EXCEEDED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

class GoogleError {
  constructor(
    readonly code: number,
    readonly message: string,
    readonly details: Record<string, unknown>[] = [],
    readonly retryAfterSeconds?: number,
  ) {}
}

const fcmError = (errorCode: string) => ({
  '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError',
  errorCode,
});
const badRequest = (field: string, description: string) => ({
  '@type': 'type.googleapis.com/google.rpc.BadRequest',
  fieldViolations: [{ field, description }],
});

/** A plausible FCM registration token: `<instance id>:APA91b<…>`. */
export function fakeFcmToken(): string {
  return `${randomBytes(16).toString('base64url')}:APA91b${randomBytes(96).toString('base64url')}`;
}

export async function startFakeFcm(opts: FakeFcmOptions): Promise<FakeFcm> {
  const publicKey = typeof opts.publicKey === 'string' ? createPublicKey(opts.publicKey) : opts.publicKey;
  const lifetime = opts.tokenLifetimeSeconds ?? 3600;
  const issued = new Map<string, number>();
  const injected: GoogleError[] = [];
  let tokenRequests = 0;
  let sendRequests = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let tokenUri = '';

  /** RFC 7523 JWT bearer grant, checked like Google: RS256 by the account's key, iss, aud, scope. */
  async function issueToken(form: URLSearchParams): Promise<{ status: number; body: object }> {
    tokenRequests++;
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return {
        status: 400,
        body: { error: 'unsupported_grant_type', error_description: 'Invalid grant_type' },
      };
    }
    try {
      const { payload } = await jwtVerify(form.get('assertion') ?? '', publicKey, {
        algorithms: ['RS256'],
        issuer: opts.clientEmail,
        audience: tokenUri,
        requiredClaims: ['iat', 'exp'],
        maxTokenAge: '1h',
      });
      if (typeof payload.scope !== 'string' || !payload.scope.split(' ').includes(SCOPE)) {
        return { status: 400, body: { error: 'invalid_scope', error_description: 'Invalid OAuth scope' } };
      }
    } catch (err) {
      return {
        status: 400,
        body: { error: 'invalid_grant', error_description: `Invalid JWT: ${String(err)}` },
      };
    }
    const accessToken = `ya29.fake-${randomBytes(24).toString('base64url')}`;
    issued.set(accessToken, Date.now() + lifetime * 1000);
    return { status: 200, body: { access_token: accessToken, expires_in: lifetime, token_type: 'Bearer' } };
  }

  function authorize(header: string | undefined): string {
    const token = header?.match(/^Bearer (.+)$/)?.[1];
    const expiresAt = token ? issued.get(token) : undefined;
    if (!token || expiresAt === undefined || expiresAt <= Date.now()) {
      throw new GoogleError(
        401,
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
      );
    }
    return token;
  }

  function validate(body: string): { token: string; message: Record<string, unknown> } {
    const message = objectAt(parseJson(body), 'message');
    if (!message) throw new GoogleError(400, 'Invalid JSON payload received. Missing "message".');
    for (const field of Object.keys(message)) {
      if (!MESSAGE_FIELDS.has(field)) {
        throw new GoogleError(400, `Invalid JSON payload received. Unknown name "${field}" at 'message'`);
      }
    }
    const token = message.token;
    if (typeof token !== 'string' || token === '')
      throw new GoogleError(400, 'Recipient of the message is not set.');
    if (!/^[\w-]{10,}:[\w-]{20,}$/.test(token)) {
      throw new GoogleError(400, 'The registration token is not a valid FCM registration token', [
        fcmError('INVALID_ARGUMENT'),
        badRequest('message.token', 'The registration token is not a valid FCM registration token'),
      ]);
    }
    checkObject(message, 'notification', 'message', ['title', 'body', 'image']);
    const data = checkObject(message, 'data', 'message');
    for (const key of Object.keys(data ?? {})) {
      if (RESERVED_DATA_KEYS.test(key)) {
        throw new GoogleError(400, `Invalid data payload key: ${key}`, [
          fcmError('INVALID_ARGUMENT'),
          badRequest('message.data', `Invalid data payload key: ${key}`),
        ]);
      }
    }
    const android = checkObject(message, 'android', 'message', ANDROID_FIELDS, ['notification', 'data']);
    if (android) {
      if (android.ttl !== undefined && !/^\d+(\.\d{1,9})?s$/.test(String(android.ttl))) {
        throw new GoogleError(
          400,
          `Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration)`,
        );
      }
      if (android.priority !== undefined && !['HIGH', 'NORMAL'].includes(String(android.priority))) {
        throw new GoogleError(
          400,
          `Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority)`,
        );
      }
      checkObject(android, 'notification', 'message.android', ANDROID_NOTIFICATION_FIELDS);
    }
    if (fake.unregistered.has(token)) {
      throw new GoogleError(404, 'Requested entity was not found.', [fcmError('UNREGISTERED')]);
    }
    return { token, message };
  }

  async function handleSend(
    req: http.IncomingMessage,
    body: string,
  ): Promise<{ status: number; body: object }> {
    sendRequests++;
    const injectedError = injected.shift();
    if (injectedError) throw injectedError;
    const project = req.url?.match(/^\/v1\/projects\/([^/]+)\/messages:send$/)?.[1];
    const accessToken = authorize(req.headers.authorization);
    if (project !== opts.projectId) {
      throw new GoogleError(
        403,
        `Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/${project}'`,
      );
    }
    const { token, message } = validate(body);
    fake.received.push({ token, message, accessToken });
    return {
      status: 200,
      body: { name: `projects/${opts.projectId}/messages/0:${Date.now()}%${randomBytes(8).toString('hex')}` },
    };
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    let status: number;
    let answer: object;
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=UTF-8' };
    if (req.method === 'POST' && req.url === '/token') {
      ({ status, body: answer } = await issueToken(new URLSearchParams(body)));
    } else if (req.method === 'POST' && req.url?.startsWith('/v1/projects/')) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        if (opts.latencyMs) await new Promise((r) => setTimeout(r, opts.latencyMs));
        ({ status, body: answer } = await handleSend(req, body));
      } catch (err) {
        const e = err instanceof GoogleError ? err : new GoogleError(500, 'Internal error encountered.');
        status = e.code;
        const statusName = STATUS_NAMES[e.code] ?? 'UNKNOWN';
        answer = { error: { code: e.code, message: e.message, status: statusName, details: e.details } };
        if (e.retryAfterSeconds !== undefined) headers['retry-after'] = String(e.retryAfterSeconds);
        if (e.code === 401) headers['www-authenticate'] = 'Bearer realm="https://accounts.google.com/"';
      } finally {
        inFlight--;
      }
    } else {
      status = 404;
      answer = { error: { code: 404, message: 'Not Found', status: 'NOT_FOUND' } };
    }
    res.writeHead(status, headers).end(JSON.stringify(answer));
  }

  const server = http.createServer((req, res) => void route(req, res));
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  tokenUri = `${url}/token`;

  const fake: FakeFcm = {
    url,
    tokenUri,
    received: [],
    unregistered: new Set(),
    get tokenRequests() {
      return tokenRequests;
    },
    get sendRequests() {
      return sendRequests;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    failNext(n, status, retryAfterSeconds) {
      const code = FCM_ERROR_CODES[status];
      const message =
        status === 429 ? 'Quota exceeded for quota metric.' : 'The service is currently unavailable.';
      for (let i = 0; i < n; i++) {
        injected.push(new GoogleError(status, message, code ? [fcmError(code)] : [], retryAfterSeconds));
      }
    },
    revokeAccessTokens() {
      issued.clear();
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}

/**
 * `parent[key]`, when present, must be an object. With `fields`: only those string fields plus the `nested`
 * objects (a proto message); without: any keys, all with string values (a proto map).
 */
function checkObject(
  parent: Record<string, unknown>,
  key: string,
  path: string,
  fields?: string[],
  nested: string[] = [],
): Record<string, unknown> | undefined {
  if (parent[key] === undefined) return undefined;
  const value = objectAt(parent, key);
  if (!value) throw new GoogleError(400, `Invalid value at '${path}.${key}'`);
  for (const [field, v] of Object.entries(value)) {
    if (nested.includes(field)) continue;
    if (fields && !fields.includes(field)) {
      throw new GoogleError(
        400,
        `Invalid JSON payload received. Unknown name "${field}" at '${path}.${key}'`,
      );
    }
    if (typeof v !== 'string') {
      throw new GoogleError(
        400,
        `Invalid value at '${path}.${key}.${field}' (TYPE_STRING), ${JSON.stringify(v)}`,
      );
    }
  }
  return value;
}

function objectAt(parent: unknown, key: string): Record<string, unknown> | undefined {
  if (typeof parent !== 'object' || parent === null) return undefined;
  const value = (parent as Record<string, unknown>)[key];
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
