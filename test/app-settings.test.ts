import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import { generateApnsKey, generateServiceAccount } from '../fakes/keys.ts';
import { client, startTestStack, type TestStack } from './support/stack.ts';

let stack: TestStack;
let app: CreatedApp;
beforeAll(async () => {
  // This installation lets tenants set any interval (the default floor, 1000 ms, is tested in safe-http).
  stack = await startTestStack({ worker: false, env: { HERALD_MIN_PUSH_INTERVAL_MS: '0' } });
  app = await stack.newApp();
});
afterAll(() => stack?.stop());

it('stores APNs and FCM credentials and never returns the keys', async () => {
  const api = client(stack.url, app.apiKey);
  const apns = generateApnsKey({ topic: 'com.example.app', keyId: 'ABC123DEFG', teamId: 'TEAM123456' });
  const put = await api('PUT', '/v1/apps/current/credentials/apns', apns.credentials);
  expect(put.status).toBe(200);
  expect(put.body).toMatchObject({
    credentials: { apns: { keyId: 'ABC123DEFG', teamId: 'TEAM123456', topic: 'com.example.app' } },
  });

  const sa = generateServiceAccount('proj-1');
  const fcm = await api('PUT', '/v1/apps/current/credentials/fcm', {
    serviceAccount: sa.credentials('https://oauth2.example/token').serviceAccount,
  });
  expect(fcm.status).toBe(200);
  const shown = await api('GET', '/v1/apps/current');
  expect(shown.body).toMatchObject({
    id: app.id,
    credentials: { fcm: { projectId: 'proj-1', clientEmail: sa.clientEmail } },
  });
  expect(JSON.stringify(shown.body)).not.toContain('PRIVATE KEY');

  const removed = await api('DELETE', '/v1/apps/current/credentials/apns');
  expect(removed.body).toMatchObject({ credentials: { apns: null } });
});

it('refuses a key that is not one, saying which field', async () => {
  const api = client(stack.url, app.apiKey);
  const bad = await api('PUT', '/v1/apps/current/credentials/apns', {
    keyId: 'ABC123DEFG',
    teamId: 'TEAM123456',
    topic: 'com.example.app',
    privateKey: '-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----',
  });
  expect(bad).toMatchObject({ status: 400, body: { error: { code: 'invalid_credentials' } } });
  const badId = await api('PUT', '/v1/apps/current/credentials/apns', {
    keyId: 'x',
    teamId: 'y',
    topic: 't',
    privateKey: 'z',
  });
  expect(badId).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
  expect((badId.body as { error: { message: string } }).error.message).toContain('keyId');
});

it('changes quota settings', async () => {
  const api = client(stack.url, app.apiKey);
  const patched = await api('PATCH', '/v1/apps/current', { dailyPushQuota: 5, minPushIntervalMs: 0 });
  expect(patched.body).toMatchObject({ dailyPushQuota: 5, minPushIntervalMs: 0 });
});
