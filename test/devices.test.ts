import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import { HeraldClient, HeraldError } from '../sdk/src/node.ts';
import { client, startTestStack, type TestStack } from './support/stack.ts';

let stack: TestStack;
let app: CreatedApp;
let api: ReturnType<typeof client>;
const clients: HeraldClient[] = [];

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
  app = await stack.newApp();
  api = client(stack.url, app.apiKey);
});
afterAll(async () => {
  for (const c of clients) c.close();
  await stack?.stop();
});

type Device = {
  platform: string;
  token: string;
  accountId: string;
  environment: string;
  topic: string | null;
  disabledAt: string | null;
  disabledReason: string | null;
};

const APNS = 'AB'.repeat(32);
const FCM = 'dGVzdC1pbnN0YW5jZQ:APA91bH_some-registration-token_0123456789';
const list = async (account: string) =>
  (await api<{ devices: Device[] }>('GET', `/v1/accounts/${account}/devices`)).body.devices;

describe('devices over REST', () => {
  it('registers, lists and removes tokens; APNs tokens are stored lower-case', async () => {
    const put = await api<{ device: Device; movedFrom: string | null }>(
      'PUT',
      `/v1/accounts/ann/devices/apns/${APNS}`,
      { environment: 'sandbox', topic: 'com.example.app' },
    );
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({
      device: { platform: 'apns', token: APNS.toLowerCase(), accountId: 'ann', environment: 'sandbox' },
      movedFrom: null,
    });
    const again = await api('PUT', `/v1/accounts/ann/devices/apns/${APNS.toLowerCase()}`, {
      environment: 'sandbox',
    });
    expect(again.status).toBe(200);
    const fcm = await api('PUT', `/v1/accounts/ann/devices/fcm/${encodeURIComponent(FCM)}`);
    expect(fcm.status).toBe(201);
    const devices = await list('ann');
    expect(devices.map((d) => [d.platform, d.token, d.environment])).toEqual([
      ['apns', APNS.toLowerCase(), 'sandbox'],
      ['fcm', FCM, 'production'],
    ]);

    expect((await api('DELETE', `/v1/accounts/ann/devices/fcm/${encodeURIComponent(FCM)}`)).status).toBe(204);
    const gone = await api('DELETE', `/v1/accounts/ann/devices/fcm/${encodeURIComponent(FCM)}`);
    expect(gone).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    expect((await list('ann')).map((d) => d.platform)).toEqual(['apns']);
  });

  it('moves a token registered for another account, and only its holder can remove it', async () => {
    const token = 'cd'.repeat(32);
    await api('PUT', `/v1/accounts/ben/devices/apns/${token}`);
    const moved = await api<{ movedFrom: string | null; device: Device }>(
      'PUT',
      `/v1/accounts/cleo/devices/apns/${token}`,
    );
    expect(moved).toMatchObject({ status: 200, body: { movedFrom: 'ben', device: { accountId: 'cleo' } } });
    expect(await list('ben')).toEqual([]);
    expect((await list('cleo')).map((d) => d.token)).toEqual([token]);
    expect((await api('DELETE', `/v1/accounts/ben/devices/apns/${token}`)).status).toBe(404);
    const rows = await stack.database
      .sql`select 1 from devices where app_id = ${app.id} and token = ${token}`;
    expect(rows).toHaveLength(1);
  });

  it('re-enables a token a provider had disabled when it is registered again', async () => {
    const token = 'ef'.repeat(32);
    await api('PUT', `/v1/accounts/dan/devices/apns/${token}`);
    await stack.database.sql`
      update devices set disabled_at = now(), disabled_reason = 'Unregistered'
      where app_id = ${app.id} and platform = 'apns' and token = ${token}`;
    expect((await list('dan'))[0]).toMatchObject({ disabledReason: 'Unregistered' });
    const again = await api<{ device: Device }>('PUT', `/v1/accounts/dan/devices/apns/${token}`);
    expect(again.body.device).toMatchObject({ disabledAt: null, disabledReason: null });
    expect((await list('dan'))[0]).toMatchObject({ disabledAt: null });
  });

  it('refuses malformed tokens and platforms', async () => {
    const bad = async (path: string, body?: unknown) => api('PUT', `/v1/accounts/eve/devices/${path}`, body);
    expect(await bad('apns/1234')).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_device_token' } },
    });
    expect(await bad(`apns/${'zz'.repeat(32)}`)).toMatchObject({ status: 400 });
    expect(await bad(`apns/${'a'.repeat(65)}`)).toMatchObject({ status: 400 });
    expect(await bad('fcm/has%20space')).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_device_token' } },
    });
    expect(await bad(`fcm/${'a'.repeat(4097)}`)).toMatchObject({ status: 400 });
    expect(await bad(`nope/${APNS}`)).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_request' } },
    });
    expect(await bad(`webpush/${APNS}`)).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_device_token' } },
    });
    expect(await bad(`apns/${APNS}`, { environment: 'staging' })).toMatchObject({ status: 400 });
    expect(await list('eve')).toEqual([]);
  });

  it('keeps apps apart', async () => {
    const other = await stack.newApp();
    const token = '12'.repeat(32);
    await api('PUT', `/v1/accounts/fay/devices/apns/${token}`);
    const theirs = client(stack.url, other.apiKey);
    expect((await theirs('PUT', `/v1/accounts/fay/devices/apns/${token}`)).status).toBe(201);
    expect((await list('fay')).map((d) => d.token)).toEqual([token]);
    expect((await theirs('DELETE', `/v1/accounts/fay/devices/apns/${token}`)).status).toBe(204);
    expect((await list('fay')).map((d) => d.token)).toEqual([token]);
  });
});

describe('user tokens', () => {
  it('mints a JWT naming the app and the account, with the asked lifetime', async () => {
    const r = await api<{ token: string; accountId: string; expiresAt: string }>(
      'POST',
      '/v1/accounts/gus/token',
      { ttlSeconds: 120 },
    );
    expect(r.status).toBe(200);
    const claims = decodeJwt(r.body.token);
    expect(claims).toMatchObject({ iss: app.id, sub: 'gus' });
    expect((claims.exp as number) - (claims.iat as number)).toBe(120);
    expect(Date.parse(r.body.expiresAt)).toBe((claims.exp as number) * 1000);
    const noBody = await api<{ token: string }>('POST', '/v1/accounts/gus/token');
    expect(noBody.status).toBe(200);
    const d = decodeJwt(noBody.body.token);
    expect((d.exp as number) - (d.iat as number)).toBe(86_400);
  });

  it('refuses a bad lifetime or account id, and requests without the app key', async () => {
    expect((await api('POST', '/v1/accounts/gus/token', { ttlSeconds: 5 })).status).toBe(400);
    expect((await api('POST', `/v1/accounts/${'x'.repeat(33)}/token`, {})).status).toBe(400);
    expect((await client(stack.url)('POST', '/v1/accounts/gus/token', {})).status).toBe(401);
  });

  it('documents the new routes in the OpenAPI document', async () => {
    const doc = await client(stack.url)<{ paths: Record<string, unknown> }>('GET', '/openapi.json');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/connect',
        '/v1/accounts/{id}/token',
        '/v1/accounts/{id}/devices',
        '/v1/accounts/{id}/devices/{platform}/{token}',
      ]),
    );
  });

  it('answers a plain GET /v1/connect with 426', async () => {
    const r = await client(stack.url)('GET', '/v1/connect');
    expect(r).toMatchObject({ status: 426, body: { error: { code: 'upgrade_required' } } });
  });
});

describe('devices through the SDK', () => {
  const sdk = async (account: string, deviceId?: string) => {
    const t = await api<{ token: string }>('POST', `/v1/accounts/${account}/token`, { ttlSeconds: 600 });
    const c = new HeraldClient({
      url: stack.url,
      token: t.body.token,
      reconnect: false,
      ...(deviceId ? { deviceId } : {}),
    });
    clients.push(c);
    await c.connect();
    return c;
  };

  it('registers, moves and removes a token for the connected account', async () => {
    const hal = await sdk('hal');
    const token = '9f'.repeat(32);
    expect(await hal.registerDevice('apns', token, { environment: 'sandbox' })).toEqual({ created: true });
    expect(await list('hal')).toMatchObject([{ platform: 'apns', token, environment: 'sandbox' }]);

    const ivy = await sdk('ivy');
    // It moves, and the end user's answer does not say from whom (issue #11).
    expect(await ivy.registerDevice('apns', token)).toEqual({ created: false });
    expect(await list('hal')).toEqual([]);
    expect(await list('ivy')).toMatchObject([{ token, environment: 'production' }]);

    // hal cannot remove ivy's token; ivy can.
    expect(await hal.unregisterDevice('apns', token)).toEqual({ removed: false });
    expect(await ivy.unregisterDevice('apns', token)).toEqual({ removed: true });
    expect(await list('ivy')).toEqual([]);
  });

  it('sends its deviceId: a new token of a channel replaces the device’s old one', async () => {
    const kim = await sdk('kim', 'kims-phone');
    await kim.registerDevice('fcm', `${FCM}-a`);
    await kim.registerDevice('apns', '7e'.repeat(32));
    await kim.registerDevice('fcm', `${FCM}-b`);
    const devices = (
      await api<{ devices: (Device & { deviceId: string | null })[] }>('GET', '/v1/accounts/kim/devices')
    ).body.devices;
    expect(devices.map((d) => [d.platform, d.token, d.deviceId]).sort()).toEqual([
      ['apns', '7e'.repeat(32), 'kims-phone'],
      ['fcm', `${FCM}-b`, 'kims-phone'],
    ]);
    const err = await kim
      .registerDevice('fcm', FCM, { deviceId: 'no spaces allowed' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'invalid_frame' });
  });

  it('rejects a malformed token with the server’s error code', async () => {
    const jay = await sdk('jay');
    const err = await jay.registerDevice('apns', 'not-hex').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HeraldError);
    expect(err).toMatchObject({ code: 'invalid_device_token' });
    const fcm = await jay.registerDevice('fcm', FCM);
    expect(fcm).toMatchObject({ created: true });
    expect((await list('jay')).map((d) => d.platform)).toEqual(['fcm']);
  });
});
