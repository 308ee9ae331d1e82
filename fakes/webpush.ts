import { createDecipheriv, createECDH, createHmac, type ECDH, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { importJWK, type JWTPayload, jwtVerify } from 'jose';
import { testCertificate } from './keys.ts';

/**
 * A local push service (RFC 8030) with the browser's side of each subscription: `subscribe()` does what a browser
 * and its push service do together (the browser makes the P-256 key pair and auth secret, the service an
 * endpoint bound to the application server's key), and every message the fake accepts is DECRYPTED with the
 * subscription's private key (RFC 8291, with node:crypto, independently of the sender's library) as the browser
 * would. It checks the VAPID token (RFC 8292: ES256 signature by `k`, `aud` = its origin, `exp` within 24 h,
 * `sub`, `k` = the key the subscription was made with) and the RFC 8030 headers, and answers with the statuses
 * and autopush's error bodies (`{ code, errno, error, message, more_info }`). HTTP/1.1 over TLS (the test
 * certificate of ./keys.ts), or plain HTTP with `plaintext`.
 */
export interface FakeWebPushOptions {
  /** Delay before answering each message, so concurrent requests really overlap. */
  latencyMs?: number;
  /** Plain http:// (an operator may allow a local push service over http). */
  plaintext?: boolean;
}

/** What `PushSubscription.toJSON()` gives a page. */
export interface BrowserSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface ReceivedWebPush {
  endpoint: string;
  ttl: number;
  urgency: string | undefined;
  topic: string | undefined;
  /** The verified VAPID claims. */
  vapid: JWTPayload;
  /** The decrypted message. */
  plaintext: string;
  /** It parsed as JSON (Herald's payload), else null. */
  payload: Record<string, unknown> | null;
}

/** Every message the fake answered, accepted or not, in arrival order. */
export interface WebPushExchange {
  endpoint: string;
  status: number;
  errno?: number;
  message?: string;
  at: number;
}

export interface FakeWebPush {
  /** The push service's origin, which is also the VAPID `aud` it expects. */
  url: string;
  /** PEM of the certificate it serves; pass it as the client's `ca`. */
  ca: string;
  subscribe(applicationServerKey: string): BrowserSubscription;
  /** The user unsubscribed (or revoked permission): messages to this endpoint are answered 410. */
  unsubscribe(endpoint: string): void;
  received: ReceivedWebPush[];
  exchanges: WebPushExchange[];
  /** Messages accepted (201) that the browser could not decrypt: it would drop them. */
  undecryptable: { endpoint: string; error: string }[];
  /** arrived: messages that reached the fake; connections: TCP connections opened. */
  stats: { arrived: number; maxInFlight: number; connections: number };
  /** The next `n` messages are answered `status` (429, 500, 503…), with Retry-After when given. */
  failNext(n: number, status: number, retryAfterSeconds?: number): void;
  close(): Promise<void>;
}

/** The browser's side of one subscription. */
interface Subscription {
  ecdh: ECDH;
  auth: Buffer;
  applicationServerKey: string;
  gone: boolean;
}

const MAX_BODY = 4096;
const MAX_VAPID_SECONDS = 24 * 3600;
const MORE_INFO = 'http://autopush.readthedocs.io/en/latest/http.html#error-codes';
const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  410: 'Gone',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

class PushError {
  constructor(
    readonly status: number,
    readonly errno: number,
    readonly message: string,
    readonly retryAfterSeconds?: number,
  ) {}
}

export async function startFakeWebPush(opts: FakeWebPushOptions = {}): Promise<FakeWebPush> {
  const subscriptions = new Map<string, Subscription>();
  const injected: PushError[] = [];
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let url = '';

  async function verifyVapid(authorization: string | undefined, sub: Subscription): Promise<JWTPayload> {
    const params = /^vapid\s+(.+)$/i.exec(authorization ?? '')?.[1];
    if (!params) throw new PushError(401, 109, 'Missing authorization header: vapid t=…, k=…');
    const fields = new Map(
      params.split(',').map((p) => {
        const [name, ...value] = p.trim().split('=');
        return [name?.toLowerCase() ?? '', value.join('=')] as const;
      }),
    );
    const token = fields.get('t');
    const k = fields.get('k');
    if (!token || !k) throw new PushError(401, 109, 'vapid needs both t and k');
    const point = Buffer.from(k, 'base64url');
    if (point.length !== 65 || point[0] !== 4) throw new PushError(401, 109, 'k is not a P-256 public key');
    let payload: JWTPayload;
    try {
      const key = await importJWK(
        {
          kty: 'EC',
          crv: 'P-256',
          x: point.subarray(1, 33).toString('base64url'),
          y: point.subarray(33).toString('base64url'),
        },
        'ES256',
      );
      ({ payload } = await jwtVerify(token, key, { algorithms: ['ES256'], requiredClaims: ['exp'] }));
    } catch (err) {
      throw new PushError(401, 109, `Invalid VAPID token: ${String(err)}`);
    }
    if (payload.aud !== url) throw new PushError(401, 109, `aud must be the push service's origin ${url}`);
    if ((payload.exp ?? 0) - Date.now() / 1000 > MAX_VAPID_SECONDS)
      throw new PushError(401, 109, 'exp is more than 24 hours ahead');
    if (typeof payload.sub !== 'string' || !/^(mailto|https):/.test(payload.sub))
      throw new PushError(401, 109, 'sub must be a mailto: or https: contact');
    if (k !== sub.applicationServerKey)
      throw new PushError(
        403,
        109,
        'The key in the authorization header does not correspond to the key used to create the subscription',
      );
    return payload;
  }

  function checkHeaders(headers: http.IncomingHttpHeaders, length: number) {
    const ttlText = headers.ttl;
    if (ttlText === undefined) throw new PushError(400, 111, 'Missing TTL Header');
    if (!/^\d+$/.test(String(ttlText))) throw new PushError(400, 112, 'Invalid TTL header value');
    const urgency = headers.urgency;
    if (urgency !== undefined && !['very-low', 'low', 'normal', 'high'].includes(String(urgency)))
      throw new PushError(400, 111, 'Invalid Urgency header value');
    const topic = headers.topic;
    if (topic !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(String(topic)))
      throw new PushError(400, 113, 'Invalid Topic header value');
    if (length > 0 && headers['content-encoding'] !== 'aes128gcm')
      throw new PushError(400, 110, 'Content-Encoding must be aes128gcm');
    return {
      ttl: Number(ttlText),
      urgency: urgency === undefined ? undefined : String(urgency),
      topic: topic === undefined ? undefined : String(topic),
    };
  }

  /** `size`: the body's length as sent (a body over MAX_BODY is not kept). */
  async function handle(
    req: http.IncomingMessage,
    body: Buffer,
    size: number,
  ): Promise<{ status: number; headers: object }> {
    fake.stats.arrived++;
    const id = req.url?.match(/^\/wpush\/v2\/([\w-]+)$/)?.[1];
    const sub = id ? subscriptions.get(id) : undefined;
    const endpoint = `${url}${req.url ?? ''}`;
    const failure = injected.shift();
    if (failure) throw failure;
    if (req.method !== 'POST' || !sub)
      throw new PushError(404, 102, 'Request did not validate invalid token');
    if (sub.gone) throw new PushError(410, 106, 'Invalid subscription');
    const vapid = await verifyVapid(req.headers.authorization, sub);
    const { ttl, urgency, topic } = checkHeaders(req.headers, size);
    if (size > MAX_BODY) throw new PushError(413, 104, 'Data payload too large');
    let plaintext = '';
    try {
      plaintext = body.length ? decryptWebPush(body, sub.ecdh, sub.auth).toString('utf8') : '';
    } catch (err) {
      // The push service cannot tell (it has no keys): it accepts, and the browser drops the message.
      fake.undecryptable.push({ endpoint, error: String(err) });
      return { status: 201, headers: { location: `${url}/m/${randomUUID()}`, ttl: String(ttl) } };
    }
    let payload: Record<string, unknown> | null = null;
    try {
      payload = JSON.parse(plaintext) as Record<string, unknown>;
    } catch {
      // not JSON: kept as text
    }
    fake.received.push({ endpoint, ttl, urgency, topic, vapid, plaintext, payload });
    return { status: 201, headers: { location: `${url}/m/${randomUUID()}`, ttl: String(ttl) } };
  }

  async function onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size <= MAX_BODY + 1) chunks.push(chunk as Buffer);
    }
    inFlight++;
    fake.stats.maxInFlight = Math.max(fake.stats.maxInFlight, inFlight);
    const endpoint = `${url}${req.url ?? ''}`;
    try {
      if (opts.latencyMs) await new Promise((r) => setTimeout(r, opts.latencyMs));
      const { status, headers } = await handle(req, Buffer.concat(chunks), size);
      fake.exchanges.push({ endpoint, status, at: Date.now() });
      res.writeHead(status, { ...headers, 'content-length': 0 }).end();
    } catch (err) {
      const e = err instanceof PushError ? err : new PushError(500, 999, String(err));
      fake.exchanges.push({ endpoint, status: e.status, errno: e.errno, message: e.message, at: Date.now() });
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (e.retryAfterSeconds !== undefined) headers['retry-after'] = String(e.retryAfterSeconds);
      res.writeHead(e.status, headers).end(
        JSON.stringify({
          code: e.status,
          errno: e.errno,
          error: STATUS_TEXT[e.status] ?? 'Error',
          message: e.message,
          more_info: MORE_INFO,
        }),
      );
    } finally {
      inFlight--;
    }
  }

  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => void onRequest(req, res);
  let server: http.Server;
  if (opts.plaintext) server = http.createServer(listener);
  else {
    const { key, cert } = await testCertificate();
    server = https.createServer({ key, cert }, listener);
  }
  server.keepAliveTimeout = 30_000;
  server.on('connection', (socket: Socket) => {
    fake.stats.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `${opts.plaintext ? 'http' : 'https'}://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const fake: FakeWebPush = {
    url,
    ca: opts.plaintext ? '' : (await testCertificate()).cert,
    subscribe(applicationServerKey) {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const auth = randomBytes(16);
      const id = randomBytes(32).toString('base64url');
      subscriptions.set(id, { ecdh, auth, applicationServerKey, gone: false });
      return {
        endpoint: `${url}/wpush/v2/${id}`,
        keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') },
      };
    },
    unsubscribe(endpoint) {
      const sub = subscriptions.get(endpoint.slice(endpoint.lastIndexOf('/') + 1));
      if (sub) sub.gone = true;
    },
    received: [],
    exchanges: [],
    undecryptable: [],
    stats: { arrived: 0, maxInFlight: 0, connections: 0 },
    failNext(n, status, retryAfterSeconds) {
      const message = status === 429 ? 'Too many requests: slow down' : 'Service temporarily unavailable';
      for (let i = 0; i < n; i++)
        injected.push(new PushError(status, status === 429 ? 0 : 201, message, retryAfterSeconds));
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}

const hmac = (key: Buffer, ...data: Buffer[]) => {
  const h = createHmac('sha256', key);
  for (const d of data) h.update(d);
  return h.digest();
};

/**
 * The user agent's decryption of an `aes128gcm` Web Push message (RFC 8291 §3.4, RFC 8188 §2), written here
 * from the RFCs with node:crypto: header (salt, rs, keyid = the sender's public key), ECDH, the two HKDF steps,
 * AES-128-GCM of the single record, and the padding delimiter 0x02.
 */
export function decryptWebPush(body: Buffer, ua: ECDH, authSecret: Buffer): Buffer {
  if (body.length < 21) throw new Error('shorter than the aes128gcm header');
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20] as number;
  const asPublic = body.subarray(21, 21 + idlen);
  const record = body.subarray(21 + idlen);
  if (idlen !== 65) throw new Error('keyid is not a P-256 public key');
  if (record.length > rs) throw new Error('more than one record');
  const uaPublic = ua.getPublicKey();
  const ecdhSecret = ua.computeSecret(asPublic);
  // HKDF-Extract(auth_secret, ecdh_secret), then Expand with "WebPush: info" || ua_public || as_public.
  const prkKey = hmac(authSecret, ecdhSecret);
  const ikm = hmac(prkKey, Buffer.from('WebPush: info\0'), uaPublic, asPublic, Buffer.from([1]));
  const prk = hmac(salt, ikm);
  const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0'), Buffer.from([1])).subarray(0, 16);
  const nonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0'), Buffer.from([1])).subarray(0, 12);
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('the last record must end with the delimiter 0x02');
  return padded.subarray(0, end);
}
