import { createPublicKey, type KeyObject, randomBytes, randomUUID } from 'node:crypto';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { type JWTPayload, jwtVerify } from 'jose';
import { testCertificate } from './keys.ts';

/** A local stand-in for api.push.apple.com: HTTP/2 over TLS, token auth, Apple's status codes and reasons. */
export interface FakeApnsOptions {
  /** SPKI PEM (or KeyObject) of the p8 key the client signs with. */
  publicKey: KeyObject | string;
  keyId: string;
  teamId: string;
  topic: string;
  /** SETTINGS_MAX_CONCURRENT_STREAMS advertised to clients (Apple uses 1000). */
  maxConcurrentStreams?: number;
  /** Delay before answering each request, so concurrent streams really overlap. */
  latencyMs?: number;
}

export interface ReceivedApns {
  token: string;
  headers: Record<string, string>;
  payload: Record<string, unknown>;
}

/** Every request the fake answered, accepted or not, in arrival order. */
export interface ApnsExchange {
  token: string;
  status: number;
  reason?: string;
  authorization?: string;
}

export interface FakeApns {
  url: string;
  /** PEM of the self-signed certificate; pass it as the client's `ca`. */
  ca: string;
  received: ReceivedApns[];
  exchanges: ApnsExchange[];
  /** Tokens answered with 410 Unregistered. */
  deadTokens: Set<string>;
  /** Tokens that belong to another app: 400 DeviceTokenNotForTopic. */
  foreignTokens: Set<string>;
  /** arrived: requests that reached the fake (counted on arrival, before any latency or hold). */
  stats: { sessions: number; maxConcurrentStreams: number; arrived: number };
  /** Answers nothing until the returned release() is called (a request held in flight as long as a test needs). */
  hold(): () => void;
  /** The next `n` requests get `status` with `reason`, before any other check. */
  failNext(n: number, status: number, reason: string): void;
  /** Provider tokens whose iat is before `date` are answered 403 ExpiredProviderToken. */
  expireTokensIssuedBefore(date: Date): void;
  /** Sends GOAWAY on every open session, like Apple does when it recycles connections. */
  goaway(): void;
  close(): Promise<void>;
}

const MAX_PAYLOAD_BYTES = 4096;
const TOKEN_MAX_AGE_MS = 60 * 60_000;
const PUSH_TYPES = new Set([
  'alert',
  'background',
  'location',
  'voip',
  'complication',
  'fileprovider',
  'mdm',
]);

class Rejection {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {}
}

/** A random device token in Apple's format (64 hex characters). */
export function fakeApnsToken(): string {
  return randomBytes(32).toString('hex');
}

export async function startFakeApns(opts: FakeApnsOptions): Promise<FakeApns> {
  const { key, cert } = await testCertificate();
  const publicKey = typeof opts.publicKey === 'string' ? createPublicKey(opts.publicKey) : opts.publicKey;
  const verified = new Map<string, { kid?: string; payload: JWTPayload }>();
  const injected: Rejection[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  let expiredBefore = 0;
  let inFlight = 0;
  let held: Promise<void> | undefined;

  const fake: FakeApns = {
    url: '',
    ca: cert,
    received: [],
    exchanges: [],
    deadTokens: new Set(),
    foreignTokens: new Set(),
    stats: { sessions: 0, maxConcurrentStreams: 0, arrived: 0 },
    hold() {
      let release = () => {};
      held = new Promise<void>((r) => {
        release = r;
      });
      return () => {
        held = undefined;
        release();
      };
    },
    failNext(n, status, reason) {
      for (let i = 0; i < n; i++) injected.push(new Rejection(status, reason));
    },
    expireTokensIssuedBefore(date) {
      expiredBefore = date.getTime();
    },
    goaway() {
      for (const s of sessions) s.goaway(http2.constants.NGHTTP2_NO_ERROR);
    },
    async close() {
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  /** Verifies the provider token like Apple: ES256 by the registered key, our team, not older than an hour. */
  async function checkAuthorization(header: string | undefined): Promise<void> {
    const jwt = header?.match(/^bearer (.+)$/i)?.[1];
    if (!jwt) throw new Rejection(403, 'MissingProviderToken');
    let entry = verified.get(jwt);
    if (!entry) {
      try {
        const { payload, protectedHeader } = await jwtVerify(jwt, publicKey, { algorithms: ['ES256'] });
        entry = { kid: protectedHeader.kid, payload };
      } catch {
        throw new Rejection(403, 'InvalidProviderToken');
      }
      verified.set(jwt, entry);
    }
    if (entry.kid !== opts.keyId) throw new Rejection(403, 'InvalidProviderToken');
    if (entry.payload.iss !== opts.teamId) throw new Rejection(403, 'InvalidProviderToken');
    const iat = entry.payload.iat;
    if (typeof iat !== 'number') throw new Rejection(403, 'InvalidProviderToken');
    const issued = iat * 1000;
    if (Date.now() - issued > TOKEN_MAX_AGE_MS || issued < expiredBefore) {
      throw new Rejection(403, 'ExpiredProviderToken');
    }
  }

  async function check(headers: http2.IncomingHttpHeaders, body: Buffer): Promise<ReceivedApns> {
    const failure = injected.shift();
    if (failure) throw failure;
    if (headers[':method'] !== 'POST') throw new Rejection(405, 'MethodNotAllowed');
    const token = headers[':path']?.match(/^\/3\/device\/([^/?]*)$/)?.[1];
    if (token === undefined) throw new Rejection(404, 'BadPath');
    await checkAuthorization(header(headers, 'authorization'));
    const topic = header(headers, 'apns-topic');
    if (!topic) throw new Rejection(400, 'MissingTopic');
    if (topic !== opts.topic) throw new Rejection(400, 'TopicDisallowed');
    const pushType = header(headers, 'apns-push-type');
    if (!pushType || !PUSH_TYPES.has(pushType)) throw new Rejection(400, 'InvalidPushType');
    const priority = header(headers, 'apns-priority');
    if (priority !== undefined && !['1', '5', '10'].includes(priority))
      throw new Rejection(400, 'BadPriority');
    const expiration = header(headers, 'apns-expiration');
    if (expiration !== undefined && !/^\d+$/.test(expiration)) throw new Rejection(400, 'BadExpirationDate');
    const collapseId = header(headers, 'apns-collapse-id');
    if (collapseId !== undefined && Buffer.byteLength(collapseId) > 64)
      throw new Rejection(400, 'BadCollapseId');
    const apnsId = header(headers, 'apns-id');
    if (apnsId !== undefined && !/^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i.test(apnsId)) {
      throw new Rejection(400, 'BadMessageId');
    }
    if (!/^[0-9a-f]{64}$/i.test(token)) throw new Rejection(400, 'BadDeviceToken');
    if (body.length === 0) throw new Rejection(400, 'PayloadEmpty');
    if (body.length > MAX_PAYLOAD_BYTES) throw new Rejection(413, 'PayloadTooLarge');
    const payload = parseObject(body);
    // Apple has no reason for a malformed payload; this fake is stricter so client bugs surface.
    if (!payload || typeof payload.aps !== 'object' || payload.aps === null)
      throw new Rejection(400, 'BadPayload');
    if (fake.foreignTokens.has(token)) throw new Rejection(400, 'DeviceTokenNotForTopic');
    if (fake.deadTokens.has(token)) throw new Rejection(410, 'Unregistered');
    return { token, headers: flatten(headers), payload };
  }

  async function handle(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): Promise<void> {
    inFlight++;
    fake.stats.arrived++;
    fake.stats.maxConcurrentStreams = Math.max(fake.stats.maxConcurrentStreams, inFlight);
    stream.on('close', () => inFlight--);
    stream.on('error', () => {}); // the client went away; nothing to answer
    const body = await readBody(stream);
    if (opts.latencyMs) await new Promise((r) => setTimeout(r, opts.latencyMs));
    if (held) await held;
    const token = headers[':path']?.split('/')[3] ?? '';
    const authorization = header(headers, 'authorization');
    const apnsId = header(headers, 'apns-id') ?? randomUUID();
    let status = 200;
    let reason: string | undefined;
    try {
      fake.received.push(await check(headers, body));
    } catch (err) {
      ({ status, reason } = err instanceof Rejection ? err : new Rejection(500, 'InternalServerError'));
    }
    fake.exchanges.push({ token, status, reason, authorization });
    if (stream.destroyed) return;
    if (status === 200) {
      stream.respond({ ':status': 200, 'apns-id': apnsId }, { endStream: true });
      return;
    }
    const answer = status === 410 ? { reason, timestamp: Date.now() } : { reason };
    stream.respond({ ':status': status, 'apns-id': apnsId, 'content-type': 'application/json' });
    stream.end(JSON.stringify(answer));
  }

  const server = http2.createSecureServer({
    key,
    cert,
    settings: { maxConcurrentStreams: opts.maxConcurrentStreams ?? 1000 },
  });
  server.on('session', (session) => {
    fake.stats.sessions++;
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => {});
  });
  server.on('stream', (stream, headers) => void handle(stream, headers));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

function header(headers: http2.IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function flatten(headers: http2.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(headers)) {
    const value = header(headers, name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function parseObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

async function readBody(stream: http2.ServerHttp2Stream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk as Buffer);
  } catch {
    // a reset stream yields what arrived; the answer is never seen anyway
  }
  return Buffer.concat(chunks);
}
