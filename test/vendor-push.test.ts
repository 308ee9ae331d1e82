import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DeviceTarget } from '../delivery/channel.ts';
import { chunked, truncate } from '../delivery/channels/batch-http.ts';
import { oppoAuthForm, oppoSign } from '../delivery/channels/oppo/auth-token.ts';
import { createOppoClient, type OppoClientOptions } from '../delivery/channels/oppo/client.ts';
import { oppoMessages, oppoNotification, renderOppo } from '../delivery/channels/oppo/payload.ts';
import { vivoAuthBody, vivoSign } from '../delivery/channels/vivo/auth-token.ts';
import { createVivoClient, type VivoClientOptions } from '../delivery/channels/vivo/client.ts';
import { renderVivo, vivoMessage, vivoWidth } from '../delivery/channels/vivo/payload.ts';
import { createXiaomiClient, type XiaomiClientOptions } from '../delivery/channels/xiaomi/client.ts';
import { renderXiaomi, xiaomiBody, xiaomiFields } from '../delivery/channels/xiaomi/payload.ts';
import { channelOf } from '../delivery/registry.ts';
import { fakeOppoToken, startFakeOppo } from '../fakes/oppo.ts';
import { fakeVivoToken, startFakeVivo } from '../fakes/vivo.ts';
import { fakeXiaomiToken, startFakeXiaomi } from '../fakes/xiaomi.ts';

// The phone makers' channels: request signing and payloads against their documents' examples, and the
// clients against fakes that check the real authentication, fields and limits.

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(cleanup.splice(0).map((close) => close()));
});

const NOW = new Date('2029-06-01T12:00:00Z');
/** Freezes Date only (sockets and timers keep running) so TTLs and timestamps are exact. */
function freezeDate(at = NOW): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(at);
}
const common = {
  pushId: 'push-1',
  title: 'Hello',
  body: 'World',
  ext: '{"route":"/inbox"}',
  expiresAt: new Date(NOW.getTime() + 2 * 3600_000),
};
const targets = (tokens: string[]): DeviceTarget[] =>
  tokens.map((token) => ({ token, environment: 'production' }));

describe('shared batching rules', () => {
  it('splits into the fewest chunks of nearly equal size, never a lone device when avoidable', () => {
    expect(chunked([...Array(2500).keys()], 1000).map((c) => c.length)).toEqual([834, 833, 833]);
    expect(chunked([...Array(1001).keys()], 1000).map((c) => c.length)).toEqual([501, 500]);
    expect(chunked([...Array(1000).keys()], 1000).map((c) => c.length)).toEqual([1000]);
    expect(chunked([], 1000)).toEqual([]);
  });

  it('truncates by the vendor’s width with an ellipsis, leaving short text alone', () => {
    expect(truncate('short', 10)).toBe('short');
    expect(truncate('abcdefghijk', 10)).toBe('abcdefghi…');
    // vivo: a Chinese character counts 2, an emoji 1.
    expect(vivoWidth('中')).toBe(2);
    expect(vivoWidth('😀')).toBe(1);
    // The ellipsis is not ASCII: vivo counts it 2, so an ASCII title is cut to 38 characters and it.
    expect(truncate('中'.repeat(30), 40, vivoWidth)).toBe(`${'中'.repeat(19)}…`);
    expect(truncate('a'.repeat(50), 40, vivoWidth)).toBe(`${'a'.repeat(38)}…`);
  });
});

describe('Xiaomi MiPush', () => {
  const credentials = { appSecret: 'mi-secret-0123456789', packageName: 'com.example.herald' };

  async function setup(client: Partial<XiaomiClientOptions> = {}) {
    const fake = await startFakeXiaomi(credentials);
    const c = createXiaomiClient({ credentials, baseUrl: fake.url, ca: fake.ca, ...client });
    cleanup.push(
      () => c.close(),
      () => fake.close(),
    );
    return { fake, client: c };
  }

  it('builds the documented form: package, notification fields, payload URL-encoded, ttl in ms, extras', () => {
    const n = renderXiaomi(common, { channelId: 'im', notifyId: 7 });
    const body = xiaomiBody(xiaomiFields(n, 'com.example.herald', NOW.getTime()), ['id1', 'id/2+=']);
    expect(body).toBe(
      [
        'restricted_package_name=com.example.herald',
        'pass_through=0',
        'title=Hello',
        'description=World',
        // encodeURIComponent('{"route":"/inbox"}'), then form-encoded once more.
        'payload=%257B%2522route%2522%253A%2522%252Finbox%2522%257D',
        'time_to_live=7200000',
        'notify_id=7',
        'extra.channel_id=im',
        'extra.pushId=push-1',
        'registration_id=id1%2Cid%2F2%2B%3D',
      ].join('&'),
    );
    // Retention 0: only while online; no title: the body is the title.
    const now = Object.fromEntries(xiaomiFields({ pushId: 'p', body: 'Hi', expiresAt: null }, 'com.x.y'));
    expect(now).toMatchObject({ title: 'Hi', description: 'Hi', 'extra.only_send_once': '1' });
    expect(now).not.toHaveProperty('time_to_live');
  });

  it('refuses registration ids with commas or spaces (the batch separator)', () => {
    const channel = channelOf('xiaomi');
    expect(channel.normalizeToken('abc/DEF+123=')).toBe('abc/DEF+123=');
    expect(() => channel.normalizeToken('a,b')).toThrow(/commas/);
    expect(() => channel.normalizeToken('a b')).toThrow(/spaces/);
  });

  it('sends 2,500 ids in three requests with the AppSecret, and maps bad_regids and 20301 to invalid', async () => {
    const { fake, client } = await setup();
    const tokens = Array.from({ length: 2500 }, fakeXiaomiToken);
    fake.invalid.add(tokens[3] as string);
    const outcomes = await client.send(targets(tokens), renderXiaomi(common, undefined));
    expect([...fake.batchSizes].sort()).toEqual([833, 833, 834]);
    expect(outcomes.filter((o) => o.outcome === 'sent')).toHaveLength(2499);
    expect(outcomes[3]).toEqual({ token: tokens[3], outcome: 'invalid', reason: 'BadRegId' });
    expect(fake.received[0]?.fields).toMatchObject({ title: 'Hello', description: 'World' });

    const dead = [fakeXiaomiToken(), fakeXiaomiToken()];
    for (const t of dead) fake.invalid.add(t);
    expect(await client.send(targets(dead), renderXiaomi(common, undefined))).toEqual(
      dead.map((token) => ({ token, outcome: 'invalid', reason: 'BadRegId' })),
    );
  });

  it('retries 10027 after the Retry-After asked; fails the daily quota without retrying, then asks no more that day', async () => {
    const { fake, client } = await setup();
    fake.failNext(1, 'throttle', 1);
    const token = fakeXiaomiToken();
    const started = performance.now();
    expect(await client.send(targets([token]), renderXiaomi(common, undefined))).toEqual([
      { token, outcome: 'sent' },
    ]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.requests).toBe(2);

    fake.failNext(1, 'quota');
    const [outcome] = await client.send(targets([token]), renderXiaomi(common, undefined));
    expect(outcome).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/^10034/) });
    expect(fake.requests).toBe(3);
    // The quota is spent until midnight in China: the next pages are not even asked for.
    const later = await client.send(
      targets([fakeXiaomiToken(), fakeXiaomiToken()]),
      renderXiaomi(common, undefined),
    );
    const reason = outcome?.outcome === 'failed' ? outcome.reason : 'none';
    expect(later.map((o) => o.outcome === 'failed' && o.reason)).toEqual([reason, reason]);
    expect(fake.requests).toBe(3);
  });

  it('fails a wrong AppSecret (21301) at once: there is no token to refresh', async () => {
    const { fake, client } = await setup({ credentials: { ...credentials, appSecret: 'wrong' } });
    const [outcome] = await client.send(targets([fakeXiaomiToken()]), renderXiaomi(common, undefined));
    expect(outcome).toMatchObject({ outcome: 'failed', reason: 'AuthenticationFailed 21301' });
    expect(fake.requests).toBe(1);
  });
});

describe('OPPO Push', () => {
  const credentials = { appKey: 'a1b2c3d4e5f6', masterSecret: 'm4st3rs3cr3t' };

  async function setup(client: Partial<OppoClientOptions> = {}) {
    const fake = await startFakeOppo(credentials);
    const c = createOppoClient({ credentials, baseUrl: fake.url, ca: fake.ca, ...client });
    cleanup.push(
      () => c.close(),
      () => fake.close(),
    );
    return { fake, client: c };
  }

  it('signs the auth request as sha256(appKey + timestamp + masterSecret), hex', () => {
    // The documented recipe, checked against `openssl dgst -sha256` of "a1b2c3d4e5f61501484120000m4st3rs3cr3t".
    const sign = 'a2a7232c9c2bf12fe823fd5ad5f41a54e90471c6abbd0c3eaad085e6d9f5eeda';
    expect(oppoSign('a1b2c3d4e5f6', 1501484120000, 'm4st3rs3cr3t')).toBe(sign);
    expect(oppoAuthForm(credentials, 1501484120000)).toBe(
      `app_key=a1b2c3d4e5f6&sign=${sign}&timestamp=1501484120000`,
    );
  });

  it('builds unicast_batch messages as in the document’s example, one per registration id', () => {
    const n = oppoNotification(
      renderOppo(common, { channelId: 'im', category: 'IM', notifyLevel: 2 }),
      NOW.getTime(),
    );
    expect(n).toEqual({
      app_message_id: 'push-1',
      style: 1,
      title: 'Hello',
      content: 'World',
      click_action_type: 0,
      action_parameters: '{"ext":"{\\"route\\":\\"/inbox\\"}","pushId":"push-1"}',
      off_line: true,
      off_line_ttl: 7200,
      channel_id: 'im',
      category: 'IM',
      notify_level: 2,
    });
    const messages = oppoMessages(JSON.stringify(n), ['CN_906bf7b0d76a5c0001668ddc410ab903', 'CN_b457']);
    expect(JSON.parse(messages)).toEqual([
      { target_type: 2, target_value: 'CN_906bf7b0d76a5c0001668ddc410ab903', notification: n },
      { target_type: 2, target_value: 'CN_b457', notification: n },
    ]);
    // Retention 0: not kept offline; a TTL under an hour is raised to OPPO's shortest.
    expect(oppoNotification({ pushId: 'p', body: 'b', expiresAt: null })).toMatchObject({ off_line: false });
    expect(
      oppoNotification(
        { pushId: 'p', body: 'b', expiresAt: new Date(NOW.getTime() + 60_000) },
        NOW.getTime(),
      ),
    ).toMatchObject({ off_line: true, off_line_ttl: 3600 });
  });

  it('fetches one auth_token for many batches, sends 1,000 messages per request and maps errorCode 10000', async () => {
    const { fake, client } = await setup();
    const tokens = Array.from({ length: 1500 }, fakeOppoToken);
    fake.invalid.add(tokens[10] as string);
    const outcomes = await client.send(targets(tokens), renderOppo(common, undefined));
    await client.send(targets([fakeOppoToken()]), renderOppo(common, undefined));
    expect(fake.authRequests).toBe(1);
    expect(fake.batchSizes).toEqual([750, 750, 1]);
    expect(outcomes.filter((o) => o.outcome === 'sent')).toHaveLength(1499);
    expect(outcomes[10]).toEqual({ token: tokens[10], outcome: 'invalid', reason: 'InvalidRegistrationId' });
  });

  it('gets a fresh auth_token once when OPPO answers 11, and renews it before its 24 hours are up', async () => {
    freezeDate();
    const { fake, client } = await setup();
    await client.send(targets([fakeOppoToken()]), renderOppo(common, undefined));
    fake.revokeTokens();
    const tokens = Array.from({ length: 3 }, fakeOppoToken);
    expect((await client.send(targets(tokens), renderOppo(common, undefined))).map((o) => o.outcome)).toEqual(
      ['sent', 'sent', 'sent'],
    );
    expect(fake.authRequests).toBe(2);
    vi.setSystemTime(NOW.getTime() + 23.5 * 3600_000);
    await client.send(targets([fakeOppoToken()]), renderOppo(common, undefined));
    expect(fake.authRequests).toBe(3);
  });

  it('retries flow control (-2) after the Retry-After asked, and fails the daily quota (33) at once', async () => {
    const { fake, client } = await setup();
    fake.failNext(1, 'throttle', 1);
    const token = fakeOppoToken();
    const started = performance.now();
    expect(await client.send(targets([token]), renderOppo(common, undefined))).toEqual([
      { token, outcome: 'sent' },
    ]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    fake.failNext(1, 'quota');
    const [outcome] = await client.send(targets([token]), renderOppo(common, undefined));
    expect(outcome).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/^33 /) });
    expect(fake.requests).toBe(3);
  });

  it('fails the page when the MasterSecret is wrong (the fake refuses the sign) after its retries', async () => {
    const { fake, client } = await setup({
      credentials: { ...credentials, masterSecret: 'nope' },
      maxRetries: 1,
    });
    const [outcome] = await client.send(targets([fakeOppoToken()]), renderOppo(common, undefined));
    expect(outcome).toMatchObject({
      outcome: 'failed',
      reason: expect.stringMatching(/code 16 Invalid Signature/),
    });
    expect(fake.requests).toBe(0);
  });
});

describe('vivo Push', () => {
  const credentials = {
    appId: '10004',
    appKey: '25509283-3767-4b9e-83fe-b6e55ac6243e',
    appSecret: 'herald-example-secret',
  };

  async function setup(client: Partial<VivoClientOptions> = {}) {
    const fake = await startFakeVivo(credentials);
    const c = createVivoClient({ credentials, baseUrl: fake.url, ca: fake.ca, ...client });
    cleanup.push(
      () => c.close(),
      () => fake.close(),
    );
    return { fake, client: c };
  }

  it('signs the auth request as in the document’s example: md5(appId + appKey + timestamp + appSecret)', () => {
    // The document's example request (appId 10004, its appKey and timestamp) with a secret of ours; the sign
    // checked against `openssl dgst -md5` of the concatenation.
    expect(vivoSign(credentials, 1501484120000)).toBe('d27c2fd93a3dc092123988b645e17a5a');
    expect(vivoAuthBody(credentials, 1501484120000)).toEqual({
      appId: 10004,
      appKey: '25509283-3767-4b9e-83fe-b6e55ac6243e',
      timestamp: 1501484120000,
      sign: 'd27c2fd93a3dc092123988b645e17a5a',
    });
  });

  it('builds the message of the document: notifyType, title, content, timeToLive in seconds, classification', () => {
    const n = renderVivo(common, { classification: 1, category: 'IM' });
    expect(vivoMessage(n, '10004', NOW.getTime())).toEqual({
      appId: 10004,
      notifyType: 4,
      title: 'Hello',
      content: 'World',
      timeToLive: 7200,
      skipType: 1,
      clientCustomMap: { ext: '{"route":"/inbox"}', pushId: 'push-1' },
      classification: 1,
      category: 'IM',
    });
    // Retention 0 gets vivo's shortest lifetime; a long Chinese body is cut to 100 by vivo's count.
    const short = vivoMessage(
      renderVivo({ pushId: 'p', body: '好'.repeat(80), expiresAt: null }, undefined),
      '1',
    );
    expect(short).toMatchObject({
      timeToLive: 60,
      content: `${'好'.repeat(49)}…`,
      title: `${'好'.repeat(19)}…`,
    });
    expect(short).not.toHaveProperty('classification');
  });

  it('sends one device by /message/send and a list by one saved payload and pushToList per 1,000', async () => {
    const { fake, client } = await setup();
    const one = fakeVivoToken();
    const n = renderVivo(common, { classification: 1 });
    expect(await client.send(targets([one]), n)).toEqual([{ token: one, outcome: 'sent' }]);
    expect(fake.received[0]).toMatchObject({
      token: one,
      via: 'send',
      message: { regId: one, classification: 1 },
    });

    const many = Array.from({ length: 1200 }, fakeVivoToken);
    fake.invalid.add(many[5] as string);
    const outcomes = await client.send(targets(many), n);
    expect(fake.batchSizes).toEqual([600, 600]);
    expect(outcomes.filter((o) => o.outcome === 'sent')).toHaveLength(1199);
    expect(outcomes[5]).toEqual({ token: many[5], outcome: 'invalid', reason: 'Unsubscribed' });
    // The next page of the same push reuses the saved payload.
    await client.send(targets(Array.from({ length: 3 }, fakeVivoToken)), n);
    expect(fake.savedPayloads).toBe(1);
    expect(fake.authRequests).toBe(1);

    const dead = fakeVivoToken();
    fake.invalid.add(dead);
    expect(await client.send(targets([dead]), n)).toEqual([
      { token: dead, outcome: 'invalid', reason: 'Unsubscribed' },
    ]);
  });

  it('gets a fresh authToken once when vivo answers 10000, and renews it after an hour', async () => {
    freezeDate();
    const { fake, client } = await setup();
    await client.send(targets([fakeVivoToken()]), renderVivo(common, undefined));
    fake.revokeTokens();
    const tokens = Array.from({ length: 4 }, fakeVivoToken);
    expect(
      (await client.send(targets(tokens), renderVivo(common, undefined))).every((o) => o.outcome === 'sent'),
    ).toBe(true);
    expect(fake.authRequests).toBe(2);
    vi.setSystemTime(NOW.getTime() + 61 * 60_000);
    await client.send(targets([fakeVivoToken()]), renderVivo(common, undefined));
    expect(fake.authRequests).toBe(3);
  });

  it('retries 10072 after the Retry-After asked; fails the daily total (10070) and an oversized custom map', async () => {
    const { fake, client } = await setup();
    fake.failNext(1, 'throttle', 1);
    const tokens = [fakeVivoToken(), fakeVivoToken()];
    const started = performance.now();
    const outcomes = await client.send(targets(tokens), renderVivo(common, undefined));
    expect(outcomes.map((o) => o.outcome)).toEqual(['sent', 'sent']);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);

    fake.failNext(1, 'quota');
    const [quota] = await client.send(targets([tokens[0] as string]), renderVivo(common, undefined));
    expect(quota).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/^10070/) });
    const requests = fake.requests;

    const big = await client.send(
      targets(tokens),
      renderVivo({ ...common, ext: 'x'.repeat(1100) }, undefined),
    );
    expect(big.map((o) => o.outcome === 'failed' && o.reason)).toEqual([
      'PayloadTooLarge',
      'PayloadTooLarge',
    ]);
    expect(fake.requests).toBe(requests);
  });
});
