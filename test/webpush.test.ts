import { createECDH, generateKeyPairSync } from 'node:crypto';
import { importJWK, jwtVerify } from 'jose';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { credentialsBody } from '../api/console/credentials-form.tsx';
import type { DeviceTarget } from '../delivery/channel.ts';
import { createWebPushClient, type WebPushClientOptions } from '../delivery/channels/webpush/client.ts';
import {
  storeWebPushCredentials,
  viewWebPushCredentials,
  type WebPushCredentials,
} from '../delivery/channels/webpush/credentials.ts';
import { encryptPayload, MAX_PLAINTEXT_BYTES } from '../delivery/channels/webpush/encryption.ts';
import { webpush } from '../delivery/channels/webpush/index.ts';
import { type WebPushNotification, webPushPayload } from '../delivery/channels/webpush/payload.ts';
import { pushServiceEntryProblem } from '../delivery/channels/webpush/push-services.ts';
import { normalizeWebPushToken, webPushToken } from '../delivery/channels/webpush/subscription.ts';
import { vapidAuthorization } from '../delivery/channels/webpush/vapid.ts';
import { decryptWebPush, type FakeWebPushOptions, startFakeWebPush } from '../fakes/webpush.ts';

// The Web Push request (headers, VAPID, encryption) against the RFCs' own examples, and the client against a
// fake push service that decrypts every message with the subscription's private key.

/** RFC 8291 §5 and Appendix A: one message, every key and the salt, and the body it must encrypt to. */
const RFC8291 = {
  plaintext: 'When I grow up, I want to be a watermelon',
  asPrivate: 'yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw',
  asPublic: 'BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8',
  uaPrivate: 'q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94',
  uaPublic: 'BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4',
  authSecret: 'BTBZMqHH6r4Tts7J_aSIgg',
  salt: 'DGv6ra1nlYgDCS1FRnbzlw',
  body:
    'DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml' +
    'mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT' +
    'pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN',
};

/** RFC 8292 §2.4: the example request's Authorization, and the decoded values it shows. */
const RFC8292 = {
  token:
    'eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL3B1c2guZXhhbXBsZS5uZXQiLCJleHAiOjE0NTM1MjM3Njgs' +
    'InN1YiI6Im1haWx0bzpwdXNoQGV4YW1wbGUuY29tIn0.i3CYb7t4xfxCDquptFOepC9GAu_HLGkMlMuCGSK2rpiUfnK9ojFwDXb1JrErt' +
    'mysazNjjvW2L9OkSSHzvoD1oA',
  k: 'BA1Hxzyi1RUM1b5wjxsn7nGxAszw2u61m164i3MrAIxHF6YK5h4SDYic-dRuU_RCPCfA5aq9ojSwk5Y2EmClBPs',
  jwk: {
    kty: 'EC',
    crv: 'P-256',
    x: 'DUfHPKLVFQzVvnCPGyfucbECzPDa7rWbXriLcysAjEc',
    y: 'F6YK5h4SDYic-dRuU_RCPCfA5aq9ojSwk5Y2EmClBPs',
  },
};

const b64 = (s: string) => Buffer.from(s, 'base64url');

describe('the RFC examples', () => {
  it('encrypts the RFC 8291 §5 message to the exact body, given its sender key and salt', () => {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(b64(RFC8291.asPrivate));
    expect(ecdh.getPublicKey().toString('base64url')).toBe(RFC8291.asPublic);
    const body = encryptPayload(
      Buffer.from(RFC8291.plaintext),
      { p256dh: RFC8291.uaPublic, auth: RFC8291.authSecret },
      { ecdh, salt: b64(RFC8291.salt) },
    );
    expect(body.toString('base64url')).toBe(RFC8291.body);
  });

  it('the fake push service decrypts the RFC 8291 §5 body with the user agent key', () => {
    const ua = createECDH('prime256v1');
    ua.setPrivateKey(b64(RFC8291.uaPrivate));
    expect(ua.getPublicKey().toString('base64url')).toBe(RFC8291.uaPublic);
    expect(decryptWebPush(b64(RFC8291.body), ua, b64(RFC8291.authSecret)).toString()).toBe(RFC8291.plaintext);
    const tampered = b64(RFC8291.body);
    tampered[tampered.length - 1] = (tampered.at(-1) ?? 0) ^ 1;
    expect(() => decryptWebPush(tampered, ua, b64(RFC8291.authSecret))).toThrow();
  });

  it('the RFC 8292 §2.4 token verifies with its k, and Herald writes the same header, claims and scheme', async () => {
    // k is the JWK's point: 0x04 || x || y.
    expect(
      Buffer.concat([Buffer.from([4]), b64(RFC8292.jwk.x), b64(RFC8292.jwk.y)]).toString('base64url'),
    ).toBe(RFC8292.k);
    const { payload, protectedHeader } = await jwtVerify(
      RFC8292.token,
      await importJWK(RFC8292.jwk, 'ES256'),
      {
        currentDate: new Date(1453523768_000 - 60_000),
      },
    );
    expect(protectedHeader).toEqual({ typ: 'JWT', alg: 'ES256' });
    expect(payload).toEqual({
      aud: 'https://push.example.net',
      exp: 1453523768,
      sub: 'mailto:push@example.com',
    });
    expect(vapidAuthorization(RFC8292.token, RFC8292.k)).toBe(`vapid t=${RFC8292.token}, k=${RFC8292.k}`);
  });
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(cleanup.splice(0).map((close) => close()));
});

const EXPIRES = new Date('2030-01-01T00:00:00Z');
const full: WebPushNotification = {
  pushId: 'push-1',
  title: 'Hello',
  body: 'World',
  sound: 'default',
  badge: 3,
  ext: '{"route":"/inbox"}',
  data: { orderId: '42' },
  icon: 'https://example.com/icon.png',
  image: 'https://example.com/a.png',
  badgeIcon: 'https://example.com/badge.png',
  tag: 'order-42',
  renotify: true,
  requireInteraction: true,
  silent: false,
  url: '/orders/42',
  urgency: 'high',
  topic: 'order-42',
  expiresAt: EXPIRES,
};
const minimal: WebPushNotification = { pushId: 'push-2', body: 'Just a body', expiresAt: null };

function freezeDate(at = new Date('2029-12-31T23:00:00Z')): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(at);
}

describe('Web Push client', () => {
  let credentials: WebPushCredentials;
  beforeAll(() => {
    credentials = storeWebPushCredentials({ subject: 'mailto:ops@example.com' }, undefined);
  });

  async function setup(fakeOpts: FakeWebPushOptions = {}, clientOpts: Partial<WebPushClientOptions> = {}) {
    const fake = await startFakeWebPush(fakeOpts);
    const client = createWebPushClient({ credentials, services: [fake.url], ca: fake.ca, ...clientOpts });
    cleanup.push(
      () => client.close(),
      () => fake.close(),
    );
    const target = (key = credentials.publicKey): DeviceTarget & { endpoint: string } => {
      const s = fake.subscribe(key);
      return { token: webPushToken(s), environment: 'production', endpoint: s.endpoint };
    };
    return { fake, client, target };
  }

  it('sends the encrypted payload with TTL, Urgency, Topic and a VAPID token for the origin', async () => {
    freezeDate();
    const { fake, client, target } = await setup();
    const t = target();
    expect(await client.send([t], full)).toEqual([{ token: t.token, outcome: 'sent' }]);
    expect(fake.undecryptable).toEqual([]);
    const [got] = fake.received;
    expect(got).toMatchObject({ endpoint: t.endpoint, ttl: 3600, urgency: 'high', topic: 'order-42' });
    expect(got?.payload).toEqual({
      title: 'Hello',
      body: 'World',
      icon: 'https://example.com/icon.png',
      image: 'https://example.com/a.png',
      badge: 'https://example.com/badge.png',
      tag: 'order-42',
      renotify: true,
      requireInteraction: true,
      silent: false,
      url: '/orders/42',
      appBadge: 3,
      data: { orderId: '42' },
      ext: '{"route":"/inbox"}',
      pushId: 'push-1',
    });
    expect(got?.vapid).toEqual({
      aud: fake.url,
      exp: Date.parse('2029-12-31T23:00:00Z') / 1000 + 12 * 3600,
      sub: 'mailto:ops@example.com',
    });
  });

  it('sends TTL 0 without Urgency or Topic when the push keeps nothing and sets neither', async () => {
    const { fake, client, target } = await setup();
    const t = target();
    await client.send([t], minimal);
    expect(fake.received[0]).toMatchObject({ ttl: 0, urgency: undefined, topic: undefined });
    expect(fake.received[0]?.payload).toEqual({ body: 'Just a body', pushId: 'push-2' });
  });

  it('signs one VAPID token per origin for many messages, and a new one after an hour', async () => {
    freezeDate();
    const { fake, client, target } = await setup();
    const outcomes = await client.send(
      Array.from({ length: 20 }, () => target()),
      full,
    );
    expect(outcomes.every((o) => o.outcome === 'sent')).toBe(true);
    expect(new Set(fake.received.map((r) => r.vapid.exp)).size).toBe(1);
    vi.setSystemTime(Date.now() + 61 * 60_000);
    await client.send([target()], full);
    expect(fake.received.at(-1)?.vapid.exp).toBe(Date.parse('2030-01-01T00:01:00Z') / 1000 + 12 * 3600);
    // Each message has its own sender key: the same plaintext never makes the same body twice.
    expect(fake.received.every((r) => r.plaintext === fake.received[0]?.plaintext)).toBe(true);
  });

  it('a subscription made with another key is refused (403) and counted failed, not dead', async () => {
    const { fake, client, target } = await setup();
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    const otherKey = Buffer.concat([Buffer.from([4]), b64(other.x ?? ''), b64(other.y ?? '')]).toString(
      'base64url',
    );
    const t = target(otherKey);
    expect(await client.send([t], full)).toEqual([
      { token: t.token, outcome: 'failed', reason: 'Forbidden' },
    ]);
    expect(fake.exchanges).toMatchObject([{ status: 403, errno: 109 }]);
  });

  it('maps 410 and 404 to a dead subscription without retrying', async () => {
    const { fake, client, target } = await setup();
    const [gone, unknown] = [target(), target()];
    fake.unsubscribe(gone.endpoint);
    const missing = webPushToken({
      endpoint: `${fake.url}/wpush/v2/nobody`,
      keys: { p256dh: RFC8291.uaPublic, auth: RFC8291.authSecret },
    });
    expect(await client.send([gone, { ...unknown, token: missing }], full)).toEqual([
      { token: gone.token, outcome: 'invalid', reason: 'Gone' },
      { token: missing, outcome: 'invalid', reason: 'NotFound' },
    ]);
    expect(fake.exchanges.map((e) => [e.status, e.errno])).toEqual([
      [410, 106],
      [404, 102],
    ]);
  });

  it('waits for Retry-After on 429 before retrying', async () => {
    const { fake, client, target } = await setup();
    fake.failNext(1, 429, 1);
    const t = target();
    expect(await client.send([t], full)).toEqual([{ token: t.token, outcome: 'sent' }]);
    const [throttled, accepted] = fake.exchanges;
    expect(throttled?.status).toBe(429);
    expect(accepted?.status).toBe(201);
    expect((accepted?.at ?? 0) - (throttled?.at ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it('retries 5xx with backoff and fails once retries are exhausted', async () => {
    const { fake, client, target } = await setup({}, { maxRetries: 2 });
    fake.failNext(2, 503);
    const ok = target();
    expect(await client.send([ok], full)).toEqual([{ token: ok.token, outcome: 'sent' }]);
    fake.failNext(3, 500);
    const t = target();
    expect(await client.send([t], full)).toEqual([{ token: t.token, outcome: 'failed', reason: 'HTTP 500' }]);
    expect(fake.exchanges.map((e) => e.status)).toEqual([503, 503, 201, 500, 500, 500]);
  });

  it('refuses a payload over 3993 bytes before sending, and sends one of exactly 3993', async () => {
    const { fake, client, target } = await setup();
    const overhead = Buffer.byteLength(JSON.stringify(webPushPayload({ ...minimal, body: '' })));
    const exact = { ...minimal, body: 'x'.repeat(MAX_PLAINTEXT_BYTES - overhead) };
    const t = target();
    expect(await client.send([t], { ...exact, body: `${exact.body}x` })).toEqual([
      { token: t.token, outcome: 'failed', reason: 'PayloadTooLarge' },
    ]);
    expect(fake.stats.arrived).toBe(0);
    expect(await client.send([t], exact)).toEqual([{ token: t.token, outcome: 'sent' }]);
    expect(fake.received[0]?.plaintext.length).toBe(MAX_PLAINTEXT_BYTES);
  });

  it('never calls a push service that is not allowed: the subscription is dead', async () => {
    const { fake, client } = await setup({}, { services: ['https://fcm.googleapis.com'] });
    const s = fake.subscribe(credentials.publicKey);
    const token = webPushToken(s);
    expect(await client.send([{ token, environment: 'production' }], full)).toEqual([
      { token, outcome: 'invalid', reason: 'EndpointNotAllowed' },
    ]);
    expect(fake.stats.arrived).toBe(0);
  });

  it('speaks plain http only to a push service allowed as http://', async () => {
    const { fake, client, target } = await setup({ plaintext: true });
    expect(fake.url).toMatch(/^http:/);
    const t = target();
    expect(await client.send([t], full)).toEqual([{ token: t.token, outcome: 'sent' }]);
    const strict = createWebPushClient({ credentials, services: [fake.url.replace('http:', 'https:')] });
    cleanup.push(() => strict.close());
    const u = target();
    expect(await strict.send([u], full)).toEqual([
      { token: u.token, outcome: 'invalid', reason: 'EndpointNotAllowed' },
    ]);
  });

  it('keeps 300 messages within its concurrency and its sockets per origin', async () => {
    const { fake, client, target } = await setup({ latencyMs: 5 }, { concurrency: 40, socketsPerOrigin: 8 });
    const targets = Array.from({ length: 300 }, () => target());
    const outcomes = await client.send(targets, full);
    expect(outcomes.filter((o) => o.outcome === 'sent')).toHaveLength(300);
    expect(fake.received).toHaveLength(300);
    expect(fake.stats.maxInFlight).toBeLessThanOrEqual(8);
    expect(fake.stats.connections).toBeLessThanOrEqual(8);
  });

  it('lets messages on the wire finish on close and fails the queued ones with ClientClosed', async () => {
    // The first answer takes 3 s, so the close surely comes while it is on the wire, even on a loaded machine.
    const { fake, client, target } = await setup({ latencyMs: 3000 }, { concurrency: 1 });
    const [a, b] = [target(), target()];
    const page = client.send([a, b], full);
    await vi.waitFor(() => expect(fake.stats.arrived).toBe(1), { timeout: 5000, interval: 5 });
    await client.close();
    expect(await page).toEqual([
      { token: a.token, outcome: 'sent' },
      { token: b.token, outcome: 'failed', reason: 'ClientClosed' },
    ]);
  });
});

describe('subscription tokens', () => {
  const subscription = {
    endpoint: 'https://fcm.googleapis.com/fcm/send/abc:APA91bE',
    keys: { p256dh: RFC8291.uaPublic, auth: RFC8291.authSecret },
  };
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const register = (token: string, services?: string[]) => normalizeWebPushToken(token, { services });

  it('stores one canonical spelling: keys in order, no expirationTime, no padding', () => {
    const canonical = webPushToken(subscription);
    expect(register(canonical)).toBe(canonical);
    const reordered = encode({
      keys: { auth: RFC8291.authSecret, p256dh: RFC8291.uaPublic },
      expirationTime: null,
      endpoint: subscription.endpoint,
    });
    expect(register(reordered)).toBe(canonical);
    expect(register(`${canonical}=`.slice(0, canonical.length))).toBe(canonical);
  });

  it('allows the browsers’ push services by default and nothing else', () => {
    const at = (endpoint: string) => () => register(webPushToken({ ...subscription, endpoint }));
    expect(at('https://updates.push.services.mozilla.com/wpush/v2/gAAAA')).not.toThrow();
    expect(at('https://web.push.apple.com/QGuQyavXutnMrm')).not.toThrow();
    expect(at('https://wns2-par02p.notify.windows.com/w/?token=BQYAAA')).not.toThrow();
    expect(at('https://notify.windows.com.evil.example/w')).toThrow(/HERALD_WEBPUSH_PUSH_SERVICES/);
    expect(at('https://169.254.169.254/latest/meta-data')).toThrow(/not one the operator allows/);
    expect(at('https://fcm.googleapis.com:8443/fcm/send/x')).toThrow(/not one the operator allows/);
    expect(at('http://fcm.googleapis.com/fcm/send/x')).toThrow(/must be https/);
    expect(at('http://127.0.0.1:9/x')).toThrow(/must be https/);
    // The operator's list replaces the default; `default` keeps it.
    expect(() => register(webPushToken(subscription), ['https://push.example.org'])).toThrow(/not one/);
    expect(() => register(webPushToken(subscription), ['default', 'https://push.example.org'])).not.toThrow();
    // Removing a device checks only the spelling.
    const foreign = webPushToken({ ...subscription, endpoint: 'https://push.example.org/x' });
    expect(normalizeWebPushToken(foreign)).toBe(foreign);
  });

  it.each([
    ['not base64url', 'not base64url!', /base64url/],
    ['not JSON', Buffer.from('{nope').toString('base64url'), /decodes to JSON/],
    ['no keys', encode({ endpoint: subscription.endpoint }), /decodes to JSON/],
    [
      'a longer endpoint than 2048',
      webPushToken({ ...subscription, endpoint: `https://fcm.googleapis.com/${'a'.repeat(2030)}` }),
      /2048/,
    ],
    [
      'credentials in the endpoint',
      webPushToken({ ...subscription, endpoint: 'https://u:p@fcm.googleapis.com/x' }),
      /credentials/,
    ],
    ['a fragment', webPushToken({ ...subscription, endpoint: 'https://fcm.googleapis.com/x#y' }), /fragment/],
    ['a ftp endpoint', webPushToken({ ...subscription, endpoint: 'ftp://fcm.googleapis.com/x' }), /https/],
    [
      'a point off the curve',
      webPushToken({
        ...subscription,
        keys: { ...subscription.keys, p256dh: `${RFC8291.uaPublic.slice(0, -2)}AA` },
      }),
      /p256dh/,
    ],
    ['a short auth', webPushToken({ ...subscription, keys: { ...subscription.keys, auth: 'AAAA' } }), /auth/],
  ])('refuses %s', (_what, token, problem) => {
    expect(() => register(token)).toThrow(problem);
  });

  it('checks push-service entries', () => {
    expect(pushServiceEntryProblem('https://*.notify.windows.com')).toBeUndefined();
    expect(pushServiceEntryProblem('http://127.0.0.1:8080')).toBeUndefined();
    expect(pushServiceEntryProblem('https://push.example.org/path')).toMatch(/not an origin/);
    expect(pushServiceEntryProblem('ftp://push.example.org')).toMatch(/not an origin/);
  });
});

describe('VAPID credentials', () => {
  it('the console’s form for them (made from the schema) sends a body the route takes', async () => {
    const body = await credentialsBody(webpush, {
      subject: 'mailto:ops@example.com',
      privateKey: '',
      publicKey: '',
    });
    expect(body).toEqual({ subject: 'mailto:ops@example.com', generate: false });
    expect(webpush.credentialsSchema.safeParse(body).success).toBe(true);
    const rotate = await credentialsBody(webpush, { subject: 'mailto:ops@example.com', generate: 'on' });
    expect(rotate).toEqual({ subject: 'mailto:ops@example.com', generate: true });
  });

  it('generates a pair once; the same PUT keeps it, generate: true replaces it', () => {
    const first = storeWebPushCredentials({ subject: 'mailto:ops@example.com' }, undefined);
    expect(b64(first.publicKey)).toHaveLength(65);
    expect(b64(first.privateKey)).toHaveLength(32);
    const again = storeWebPushCredentials({ subject: 'https://example.com/contact' }, first);
    expect(again).toEqual({ ...first, subject: 'https://example.com/contact' });
    expect(
      storeWebPushCredentials({ subject: 'mailto:ops@example.com', generate: false }, first).publicKey,
    ).toBe(first.publicKey);
    const rotated = storeWebPushCredentials({ subject: 'mailto:ops@example.com', generate: true }, first);
    expect(rotated.publicKey).not.toBe(first.publicKey);
    expect(viewWebPushCredentials(rotated)).toEqual({
      subject: 'mailto:ops@example.com',
      publicKey: rotated.publicKey,
    });
  });

  it('takes an uploaded key as base64url or PKCS#8 PEM and checks the public key against it', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = privateKey.export({ format: 'jwk' });
    const publicKey = Buffer.concat([Buffer.from([4]), b64(jwk.x ?? ''), b64(jwk.y ?? '')]).toString(
      'base64url',
    );
    const subject = 'mailto:ops@example.com';
    expect(storeWebPushCredentials({ subject, privateKey: jwk.d, publicKey }, undefined)).toEqual({
      subject,
      publicKey,
      privateKey: jwk.d,
    });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(storeWebPushCredentials({ subject, privateKey: pem }, undefined).publicKey).toBe(publicKey);
    expect(() =>
      storeWebPushCredentials({ subject, privateKey: jwk.d, publicKey: RFC8291.uaPublic }, undefined),
    ).toThrow(/not the public key/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    });
    expect(() => storeWebPushCredentials({ subject, privateKey: rsa.toString() }, undefined)).toThrow(
      /P-256/,
    );
    expect(() => storeWebPushCredentials({ subject, privateKey: 'AAAA' }, undefined)).toThrow(/P-256/);
    expect(() => storeWebPushCredentials({ subject, generate: true, privateKey: jwk.d }, undefined)).toThrow(
      /either/,
    );
    expect(() => storeWebPushCredentials({ subject: 'ops@example.com' }, undefined)).toThrow(/mailto/);
  });

  it('the channel renders its own options over the common notification', () => {
    const n = webpush.render(
      { pushId: 'p', title: 'Common', body: 'b', expiresAt: null },
      { title: 'Browser title', urgency: 'low', topic: 't1', url: 'https://example.com/x' },
    );
    expect(n).toEqual({
      pushId: 'p',
      title: 'Browser title',
      body: 'b',
      expiresAt: null,
      urgency: 'low',
      topic: 't1',
      url: 'https://example.com/x',
    });
  });
});
