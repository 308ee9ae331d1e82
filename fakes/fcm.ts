import { createPublicKey, type KeyObject, randomBytes } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo, Server, Socket } from 'node:net';
import { jwtVerify } from 'jose';
import { testCertificate } from './keys.ts';

/**
 * A local stand-in for oauth2.googleapis.com/token and fcm.googleapis.com/v1 messages:send. Like Google it
 * speaks HTTP/2 over TLS (the test certificate of ./keys.ts), and HTTP/1.1 on the same port to clients that
 * do not negotiate h2; both protocols serve both paths.
 */
export interface FakeFcmOptions {
  projectId: string;
  clientEmail: string;
  /** SPKI PEM (or KeyObject) of the service account's RSA key. */
  publicKey: KeyObject | string;
  /** expires_in of issued access tokens; default 3600. */
  tokenLifetimeSeconds?: number;
  /** Delay before answering each send, so concurrent requests really overlap. */
  latencyMs?: number;
  /**
   * No TLS: messages:send over HTTP/2 with prior knowledge (h2c, what the client speaks to an http:// URL) and
   * the token endpoint on a plain HTTP/1.1 server of its own.
   */
  plaintext?: boolean;
}

export interface ReceivedFcm {
  token: string;
  message: Record<string, unknown>;
  accessToken: string;
  /** When it arrived (ms since the epoch): what a throttle is measured by. */
  receivedAt: number;
}

export interface FakeFcm {
  url: string;
  tokenUri: string;
  /** PEM of the certificate the fake serves; pass it as the client's `ca`. */
  ca: string;
  received: ReceivedFcm[];
  /** Tokens answered with 404 UNREGISTERED. */
  unregistered: Set<string>;
  readonly tokenRequests: number;
  /** messages:send requests, answered or failed. */
  readonly sendRequests: number;
  readonly maxInFlight: number;
  /** HTTP/2 sessions opened so far. */
  readonly sessions: number;
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

/** One request, whichever protocol carried it. */
interface Request {
  method: string | undefined;
  path: string | undefined;
  authorization: string | undefined;
  body: string;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What the HTTP/1.1 handler needs of node:http's request and response (and of http2's compatibility ones). */
type Http1Request = AsyncIterable<unknown> & {
  method?: string | undefined;
  url?: string | undefined;
  headers: { authorization?: string | undefined };
};
interface Http1Response {
  writeHead(status: number, headers: Record<string, string>): { end(body: string): unknown };
}

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

  async function handleSend(request: Request): Promise<{ status: number; body: object }> {
    sendRequests++;
    const injectedError = injected.shift();
    if (injectedError) throw injectedError;
    const project = request.path?.match(/^\/v1\/projects\/([^/]+)\/messages:send$/)?.[1];
    const accessToken = authorize(request.authorization);
    if (project !== opts.projectId) {
      throw new GoogleError(
        403,
        `Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/${project}'`,
      );
    }
    const { token, message } = validate(request.body);
    fake.received.push({ token, message, accessToken, receivedAt: Date.now() });
    return {
      status: 200,
      body: { name: `projects/${opts.projectId}/messages/0:${Date.now()}%${randomBytes(8).toString('hex')}` },
    };
  }

  async function route(request: Request): Promise<Answer> {
    let status: number;
    let answer: object;
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=UTF-8' };
    if (request.method === 'POST' && request.path === '/token') {
      ({ status, body: answer } = await issueToken(new URLSearchParams(request.body)));
    } else if (request.method === 'POST' && request.path?.startsWith('/v1/projects/')) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        if (opts.latencyMs) await new Promise((r) => setTimeout(r, opts.latencyMs));
        ({ status, body: answer } = await handleSend(request));
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
    return { status, headers, body: JSON.stringify(answer) };
  }

  /** HTTP/2 streams, answered without the compatibility layer (the fake's CPU is measured in the bench). */
  async function onStream(
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
  ): Promise<void> {
    stream.on('error', () => {}); // the client went away; nothing to answer
    const answer = await route({
      method: headers[':method'],
      path: headers[':path'],
      authorization: headers.authorization,
      body: await readBody(stream),
    });
    if (stream.destroyed) return;
    stream.respond({ ':status': answer.status, ...answer.headers });
    stream.end(answer.body);
  }

  /** HTTP/1.1 requests: node:http's, or those of the TLS server when the client did not negotiate h2. */
  async function onRequest(req: Http1Request, res: Http1Response): Promise<void> {
    const answer = await route({
      method: req.method,
      path: req.url,
      authorization: req.headers.authorization,
      body: await readBody(req),
    });
    res.writeHead(answer.status, answer.headers).end(answer.body);
  }

  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  let sessions = 0;
  const listen = async (server: Server): Promise<string> => {
    servers.push(server);
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const { key, cert } = await testCertificate();
  let url: string;
  if (opts.plaintext) {
    const h2c = http2.createServer();
    h2c.on('session', () => sessions++);
    h2c.on('stream', (stream, headers) => void onStream(stream, headers));
    url = `http://${await listen(h2c)}`;
    tokenUri = `http://${await listen(http.createServer((req, res) => void onRequest(req, res)))}/token`;
  } else {
    const server = http2.createSecureServer({ key, cert, allowHTTP1: true });
    // Node puts every h2 stream through its compatibility layer too once a 'request' listener is added; this
    // listener (installed by the constructor) is what does that, and the 'request' listener is for HTTP/1.1.
    server.removeAllListeners('newListener');
    server.on('request', (req, res) => void onRequest(req, res));
    server.on('session', () => sessions++);
    server.on('stream', (stream, headers) => void onStream(stream, headers));
    url = `https://${await listen(server)}`;
    tokenUri = `${url}/token`;
  }

  const fake: FakeFcm = {
    url,
    tokenUri,
    ca: cert,
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
    get sessions() {
      return sessions;
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
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
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

async function readBody(body: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of body) chunks.push(chunk as Buffer);
  } catch {
    // a reset stream yields what arrived; the answer is never seen anyway
  }
  return Buffer.concat(chunks).toString('utf8');
}
