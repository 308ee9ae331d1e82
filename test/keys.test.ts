/**
 * Issue #11, items 2 and 9: the FCM token endpoint a tenant may name (SSRF), key rotation with an overlap,
 * operator-supplied secret keys of 32 characters, encryption at rest of secret keys and provider credentials
 * (and its key's rotation), and database parameters kept out of the Temporal SDK's log and of activity
 * failures.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrubActivityErrors, temporalLogger } from '../cli/temporal-log.ts';
import { ConfigError, loadConfig } from '../core/config.ts';
import {
  generateEncryptionKey,
  makeKeyring,
  parseEncryptionKey,
  SecretsError,
  useKeyring,
} from '../core/secrets.ts';
import { jwtVerifier, mintUserToken, verifyUserToken } from '../core/user-token.ts';
import { type CreatedApp, findAppById, reencryptApps } from '../db/apps.ts';
import { createFcmClient } from '../delivery/channels/fcm/client.ts';
import { tokenUriProblem } from '../delivery/channels/fcm/token-uri.ts';
import { fakeFcmToken, startFakeFcm } from '../fakes/fcm.ts';
import { generateApnsKey, generateServiceAccount } from '../fakes/keys.ts';
import { cachedAppSecrets } from '../gateway/auth.ts';
import { userSigVerifier } from '../gateway/usersig-verifier.ts';
import { TEST_ENCRYPTION_KEY } from './support/encryption.ts';
import { captureLogs } from './support/logs.ts';
import { client, startTestStack, type TestStack } from './support/stack.ts';

const { Api } = createRequire(import.meta.url)('tls-sig-api-v2') as {
  Api: new (sdkAppId: number, key: string) => { genUserSig(id: string, expire: number): string };
};

const ROOT = 'test-root-key-0123456789abcdefghijklmn';
const ALLOWED_FAKE = 'https://fake-token.example';
const herald = path.resolve('bin/herald.js');

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ worker: false, env: { HERALD_ALLOWED_TOKEN_URIS: ALLOWED_FAKE } });
});
afterAll(async () => {
  useKeyring(makeKeyring(parseEncryptionKey(TEST_ENCRYPTION_KEY) as Buffer));
  await stack?.stop();
});

/** Verifies a user token as the gateway does, without its cache's delay. */
const verify = (token: string) =>
  verifyUserToken(token, cachedAppSecrets(stack.database, { ttlMs: 0, size: 10 }), [
    jwtVerifier,
    userSigVerifier,
  ]);

const rawRow = async (id: string) => {
  const [row] = await stack.database.sql<
    { secret_key: string; credentials: string; previous: string | null }[]
  >`
    select secret_key, channel_credentials::text as credentials, previous_secret_key as previous
    from apps where id = ${id}`;
  return row as { secret_key: string; credentials: string; previous: string | null };
};

const keyLines = (pem: string) => pem.split('\n').filter((l) => l.length > 40);

async function withCredentials(app: CreatedApp) {
  const api = client(stack.url, app.apiKey);
  const apns = generateApnsKey({ topic: 'com.example.keys', keyId: 'KEY1234567', teamId: 'TEAM123456' });
  const sa = generateServiceAccount('keys-test');
  expect((await api('PUT', '/v1/apps/current/credentials/apns', apns.credentials)).status).toBe(200);
  const { serviceAccount } = sa.credentials('https://oauth2.googleapis.com/token');
  expect((await api('PUT', '/v1/apps/current/credentials/fcm', { serviceAccount })).status).toBe(200);
  return { api, apns, sa };
}

describe('the FCM token endpoint (SSRF)', () => {
  it('allows Google’s endpoint and the operator’s list, nothing else, and plain http only when listed', () => {
    expect(tokenUriProblem('https://oauth2.googleapis.com/token')).toBeUndefined();
    expect(tokenUriProblem('https://OAUTH2.googleapis.com:443/token')).toBeUndefined();
    for (const bad of [
      'http://oauth2.googleapis.com/token',
      'https://oauth2.googleapis.com/token?x=1',
      'https://oauth2.googleapis.com.evil.example/token',
      'https://user:pw@oauth2.googleapis.com/token',
      'http://169.254.169.254/latest/meta-data',
      'http://127.0.0.1:5432/',
      'https://10.0.0.1/token',
      'file:///etc/passwd',
      'not a url',
    ])
      expect(tokenUriProblem(bad), bad).toBeDefined();
    // An origin allows any path on it; a URL only itself.
    expect(tokenUriProblem('http://127.0.0.1:9999/token', ['http://127.0.0.1:9999'])).toBeUndefined();
    expect(tokenUriProblem('http://127.0.0.1:9998/token', ['http://127.0.0.1:9999'])).toBeDefined();
    expect(tokenUriProblem('https://a.example/token', ['https://a.example/token'])).toBeUndefined();
    expect(tokenUriProblem('https://a.example/other', ['https://a.example/token'])).toBeDefined();
  });

  it('refuses a service account naming another endpoint with 400 invalid_credentials on its field', async () => {
    const app = await stack.newApp();
    const api = client(stack.url, app.apiKey);
    const sa = generateServiceAccount('ssrf');
    for (const uri of [
      'http://127.0.0.1:5432/token',
      'https://metadata.internal/token',
      'http://fake-token.example/t',
    ]) {
      const r = await api<{ error: { code: string; message: string } }>(
        'PUT',
        '/v1/apps/current/credentials/fcm',
        {
          serviceAccount: sa.credentials(uri).serviceAccount,
        },
      );
      expect(r.status, uri).toBe(400);
      expect(r.body.error.code).toBe('invalid_credentials');
      expect(r.body.error.message).toContain('serviceAccount.token_uri');
    }
    const shown = await api<{ credentials: { fcm: unknown } }>('GET', '/v1/apps/current');
    expect(shown.body.credentials.fcm).toBeNull();
    // Google's, or what the operator listed (HERALD_ALLOWED_TOKEN_URIS), is stored.
    for (const uri of ['https://oauth2.googleapis.com/token', `${ALLOWED_FAKE}/token`]) {
      const r = await api('PUT', '/v1/apps/current/credentials/fcm', {
        serviceAccount: sa.credentials(uri).serviceAccount,
      });
      expect(r.status, uri).toBe(200);
    }
  });

  it('never calls a token endpoint stored before the rule (the worker checks it too)', async () => {
    const sa = generateServiceAccount('ssrf-stored');
    const fake = await startFakeFcm({
      projectId: 'ssrf-stored',
      clientEmail: sa.clientEmail,
      publicKey: sa.publicKey,
      plaintext: true,
    });
    try {
      const fcm = createFcmClient({
        credentials: sa.credentials(fake.tokenUri),
        baseUrl: fake.url,
        maxRetries: 0,
      });
      const token = fakeFcmToken();
      const [outcome] = await fcm.send([{ token, environment: 'production' }], {
        pushId: 'p',
        body: 'hi',
        expiresAt: null,
      });
      expect(outcome?.outcome).toBe('failed');
      expect(fake.tokenRequests).toBe(0);
      await fcm.close();
      // Allowed by the operator's list, the same endpoint is used.
      const allowed = createFcmClient({
        credentials: sa.credentials(fake.tokenUri),
        baseUrl: fake.url,
        allowedTokenUris: [new URL(fake.tokenUri).origin],
      });
      const [ok] = await allowed.send([{ token, environment: 'production' }], {
        pushId: 'p',
        body: 'hi',
        expiresAt: null,
      });
      expect(ok?.outcome).toBe('sent');
      expect(fake.tokenRequests).toBe(1);
      await allowed.close();
    } finally {
      await fake.close();
    }
  });
});

describe('API key rotation', () => {
  it('keeps the old key working through the overlap, and only the new one after revoke-previous', async () => {
    const app = await stack.newApp();
    const old = client(stack.url, app.apiKey);
    const rotated = await old<{ kind: string; key: string; previousExpiresAt: string }>(
      'POST',
      '/v1/apps/current/keys/rotate',
      { kind: 'api', overlapSeconds: 3600 },
    );
    expect(rotated.status).toBe(200);
    expect(rotated.body.kind).toBe('api');
    expect(rotated.body.key).toMatch(/^hk_/);
    expect(Date.parse(rotated.body.previousExpiresAt)).toBeGreaterThan(Date.now() + 3500_000);
    const fresh = client(stack.url, rotated.body.key);
    expect((await old('GET', '/v1/apps/current')).status).toBe(200);
    expect((await fresh('GET', '/v1/apps/current')).status).toBe(200);
    expect((await fresh('POST', '/v1/apps/current/keys/revoke-previous', { kind: 'api' })).status).toBe(200);
    expect((await old('GET', '/v1/apps/current')).status).toBe(401);
    expect((await fresh('GET', '/v1/apps/current')).status).toBe(200);
  });

  it('an overlap of 0 ends the old key at once; the operator rotates any app with the root key', async () => {
    const app = await stack.newApp();
    const root = client(stack.url, ROOT);
    const r = await root<{ key: string; previousExpiresAt: null }>('POST', `/v1/apps/${app.id}/keys/rotate`, {
      kind: 'api',
      overlapSeconds: 0,
    });
    expect(r.status).toBe(200);
    expect(r.body.previousExpiresAt).toBeNull();
    expect((await client(stack.url, app.apiKey)('GET', '/v1/apps/current')).status).toBe(401);
    expect((await client(stack.url, r.body.key)('GET', '/v1/apps/current')).status).toBe(200);
    // An app key is not the root key; the root key rotates only apps that exist.
    const other = await stack.newApp();
    const byApp = await client(stack.url, other.apiKey)('POST', `/v1/apps/${app.id}/keys/rotate`, {
      kind: 'api',
    });
    expect(byApp.status).toBe(401);
    expect((await root('POST', '/v1/apps/no-such-app/keys/rotate', { kind: 'api' })).status).toBe(404);
    expect((await root('POST', `/v1/apps/${app.id}/keys/rotate`, { kind: 'both' })).status).toBe(400);
    expect(
      (await root('POST', `/v1/apps/${app.id}/keys/rotate`, { kind: 'api', overlapSeconds: 31 * 86400 }))
        .status,
    ).toBe(400);
  });
});

describe('secret key rotation', () => {
  it('verifies user tokens and UserSigs of both keys during the overlap, mints with the new one', async () => {
    const app = await stack.newApp();
    const api = client(stack.url, app.apiKey);
    const byOld = (
      await mintUserToken({ appId: app.id, secretKey: app.secretKey, accountId: 'u1', ttlSeconds: 600 })
    ).token;
    const oldSig = new Api(app.sdkAppId, app.secretKey).genUserSig('u1', 600);
    const rotated = await api<{ key: string }>('POST', '/v1/apps/current/keys/rotate', { kind: 'secret' });
    expect(rotated.status).toBe(200);
    const secret = rotated.body.key;
    expect(secret).not.toBe(app.secretKey);
    const byNew = (
      await mintUserToken({ appId: app.id, secretKey: secret, accountId: 'u1', ttlSeconds: 600 })
    ).token;
    const newSig = new Api(app.sdkAppId, secret).genUserSig('u1', 600);
    for (const token of [byOld, byNew, oldSig, newSig])
      await expect(verify(token)).resolves.toMatchObject({ appId: app.id, accountId: 'u1' });

    // POST /v1/accounts/{id}/token signs with the newest key only.
    const minted = await api<{ token: string }>('POST', '/v1/accounts/u1/token', {});
    const { jwtVerify } = await import('jose');
    await expect(jwtVerify(minted.body.token, new TextEncoder().encode(secret))).resolves.toBeDefined();
    await expect(jwtVerify(minted.body.token, new TextEncoder().encode(app.secretKey))).rejects.toThrow();
    expect(decodeJwt(minted.body.token).iss).toBe(app.id);

    // Tencent's REST layer checks the admin UserSig with either key as well.
    const v4 = async (key: string) => {
      const q = new URLSearchParams({
        sdkappid: String(app.sdkAppId),
        identifier: 'administrator',
        usersig: new Api(app.sdkAppId, key).genUserSig('administrator', 600),
        random: '1',
        contenttype: 'json',
      });
      const res = await fetch(`${stack.url}/v4/im_open_login_svc/account_import?${q}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ UserID: 'rotated' }),
      });
      return ((await res.json()) as { ActionStatus: string }).ActionStatus;
    };
    expect(await v4(app.secretKey)).toBe('OK');
    expect(await v4(secret)).toBe('OK');

    expect((await api('POST', '/v1/apps/current/keys/revoke-previous', { kind: 'secret' })).status).toBe(200);
    for (const token of [byOld, oldSig])
      await expect(verify(token)).rejects.toMatchObject({ reason: 'invalid' });
    for (const token of [byNew, newSig])
      await expect(verify(token)).resolves.toMatchObject({ accountId: 'u1' });
    expect(await v4(app.secretKey)).toBe('FAIL');
    expect(await v4(secret)).toBe('OK');
  });

  it('an operator-supplied secret key has at least 32 characters (REST and CLI)', async () => {
    const root = client(stack.url, ROOT);
    const short = await root('POST', '/v1/apps', {
      name: 'short',
      sdkAppId: 1_234_567,
      secretKey: 'x'.repeat(16),
    });
    expect(short.status).toBe(400);
    const run = spawnSync(
      process.execPath,
      [
        herald,
        'apps',
        'create',
        '--name',
        'short',
        '--sdk-app-id',
        '1234568',
        '--secret-key',
        'y'.repeat(16),
      ],
      { env: { ...process.env, DATABASE_URL: 'postgres://127.0.0.1:1/none' }, encoding: 'utf8' },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--secret-key must be 32–128 characters');
  });
});

describe('encryption at rest', () => {
  it('keeps no secret key or private key in the clear in the database, and everything still works', async () => {
    const secretKey = `operator-secret-${'k'.repeat(32)}`;
    const created = await client(stack.url, ROOT)<CreatedApp>('POST', '/v1/apps', {
      name: 'sealed',
      sdkAppId: 1_300_000_001,
      secretKey,
    });
    expect(created.status).toBe(201);
    const app = created.body;
    const { api, apns, sa } = await withCredentials(app);
    const raw = await rawRow(app.id);
    expect(raw.secret_key).toMatch(/^hsec1:/);
    expect(raw.secret_key).not.toContain(secretKey);
    const dump = JSON.stringify(await stack.database.sql`select * from apps where id = ${app.id}`);
    expect(dump).not.toContain(secretKey);
    for (const line of [...keyLines(apns.credentials.privateKey), ...keyLines(sa.privateKey)])
      expect(dump).not.toContain(line);
    expect(dump).not.toContain('com.example.keys');
    // Read back: the app view, the worker's view of the credentials, and tokens signed with the key.
    const shown = await api<{ credentials: Record<string, unknown> }>('GET', '/v1/apps/current');
    expect(shown.body.credentials).toMatchObject({
      apns: { keyId: 'KEY1234567', teamId: 'TEAM123456', topic: 'com.example.keys' },
      fcm: { projectId: 'keys-test', clientEmail: sa.clientEmail },
    });
    const opened = await findAppById(stack.database.db, app.id);
    expect(opened?.secretKey).toBe(secretKey);
    expect((opened?.channelCredentials.apns as { privateKey?: string } | undefined)?.privateKey).toBe(
      apns.credentials.privateKey,
    );
    const token = (await mintUserToken({ appId: app.id, secretKey, accountId: 'a', ttlSeconds: 60 })).token;
    await expect(verify(token)).resolves.toMatchObject({ accountId: 'a' });
  });

  it('a sealed value moved to another app does not open there', async () => {
    const a = await stack.newApp();
    const b = await stack.newApp();
    await stack.database
      .sql`update apps set secret_key = (select secret_key from apps where id = ${a.id}) where id = ${b.id}`;
    await expect(findAppById(stack.database.db, b.id)).rejects.toBeInstanceOf(SecretsError);
    await stack.database.sql`delete from apps where id = ${b.id}`;
  });

  it('reads rows from before encryption, and reencrypt seals them', async () => {
    const app = await stack.newApp();
    const apns = generateApnsKey({ topic: 'com.example.legacy', keyId: 'LEGACY1234', teamId: 'TEAM123456' });
    const legacySecret = 'legacy-plaintext-secret-key-0123456789';
    await stack.database.sql`
      update apps set secret_key = ${legacySecret},
        channel_credentials = jsonb_build_object('apns', ${JSON.stringify(apns.credentials)}::jsonb)
      where id = ${app.id}`;
    const api = client(stack.url, app.apiKey);
    const token = (
      await mintUserToken({ appId: app.id, secretKey: legacySecret, accountId: 'l', ttlSeconds: 60 })
    ).token;
    await expect(verify(token)).resolves.toMatchObject({ accountId: 'l' });
    const shown = await api<{ credentials: { apns: unknown } }>('GET', '/v1/apps/current');
    expect(shown.body.credentials.apns).toEqual({
      keyId: 'LEGACY1234',
      teamId: 'TEAM123456',
      topic: 'com.example.legacy',
    });

    const result = await reencryptApps(stack.database.db, { onlyAppIds: [app.id] });
    expect(result.rewritten).toBeGreaterThanOrEqual(1);
    const raw = await rawRow(app.id);
    expect(raw.secret_key).toMatch(/^hsec1:/);
    expect(raw.credentials).not.toContain('LEGACY1234');
    for (const line of keyLines(apns.credentials.privateKey)) expect(raw.credentials).not.toContain(line);
    await expect(verify(token)).resolves.toMatchObject({ accountId: 'l' });
    expect((await api('GET', '/v1/apps/current')).body).toEqual(shown.body);
    // Nothing left to rewrite.
    expect((await reencryptApps(stack.database.db, { onlyAppIds: [app.id] })).rewritten).toBe(0);
  });

  it('rotates the encryption key: old rows open with the old key listed, reencrypt moves them, then it can go', async () => {
    const app = await stack.newApp();
    const { api } = await withCredentials(app);
    const rotated = await api<{ key: string }>('POST', '/v1/apps/current/keys/rotate', { kind: 'secret' });
    const before = await rawRow(app.id);
    const oldKey = parseEncryptionKey(TEST_ENCRYPTION_KEY) as Buffer;
    const newKey = parseEncryptionKey(generateEncryptionKey()) as Buffer;
    try {
      // The new key alone cannot open what the old one sealed.
      useKeyring(makeKeyring(newKey));
      await expect(findAppById(stack.database.db, app.id)).rejects.toBeInstanceOf(SecretsError);
      // New key plus the old one listed (HERALD_ENCRYPTION_KEYS_OLD): everything works, then reencrypt.
      useKeyring(makeKeyring(newKey, [oldKey]));
      expect((await api('GET', '/v1/apps/current')).status).toBe(200);
      await reencryptApps(stack.database.db, { onlyAppIds: [app.id] });
      const after = await rawRow(app.id);
      expect(after.secret_key.split(':')[1]).not.toBe(before.secret_key.split(':')[1]);
      expect(after.previous?.split(':')[1]).toBe(after.secret_key.split(':')[1]);
      // The old key can go.
      useKeyring(makeKeyring(newKey));
      const shown = await api<{ credentials: { apns: unknown; fcm: unknown } }>('GET', '/v1/apps/current');
      expect(shown.body.credentials.apns).toMatchObject({ topic: 'com.example.keys' });
      const opened = await findAppById(stack.database.db, app.id);
      expect(opened?.secretKey).toBe(rotated.body.key);
      expect(opened?.previousSecretKey).toBe(app.secretKey);
      const token = (
        await mintUserToken({ appId: app.id, secretKey: rotated.body.key, accountId: 'r', ttlSeconds: 60 })
      ).token;
      await expect(verify(token)).resolves.toMatchObject({ accountId: 'r' });
    } finally {
      useKeyring(makeKeyring(oldKey, [newKey]));
      await reencryptApps(stack.database.db, { onlyAppIds: [app.id] });
      useKeyring(makeKeyring(oldKey));
    }
  });

  it('validates the key at start: the error names the variable, never the value', () => {
    for (const env of [
      { HERALD_ENCRYPTION_KEY: 'too-short-key-value' },
      {
        HERALD_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
        HERALD_ENCRYPTION_KEYS_OLD: `${TEST_ENCRYPTION_KEY},nope-nope`,
      },
    ]) {
      let error: unknown;
      try {
        loadConfig(env);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toMatch(/HERALD_ENCRYPTION_KEY/);
      expect(message).not.toContain('too-short');
      expect(message).not.toContain('nope-nope');
    }
    expect(loadConfig({ HERALD_ENCRYPTION_KEY: 'ab'.repeat(32) }).HERALD_ENCRYPTION_KEY).toBe(
      'ab'.repeat(32),
    );
  });

  it('herald api refuses to start without a key, in one line', () => {
    const run = spawnSync(process.execPath, [herald, 'api'], {
      env: {
        ...process.env,
        HERALD_ENCRYPTION_KEY: '',
        HERALD_DATA_DIR: path.join(stack.config.dataDir, 'no-such-folder'),
        DATABASE_URL: 'postgres://127.0.0.1:1/none',
        TEMPORAL_ADDRESS: '127.0.0.1:1',
      },
      encoding: 'utf8',
    });
    expect(run.status).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('HERALD_ENCRYPTION_KEY is not set');
  });

  it('herald keys reencrypt rewrites what is not sealed under the current key', async () => {
    const app = await stack.newApp();
    await stack.database
      .sql`update apps set secret_key = 'plaintext-from-before-0123456789abcdef' where id = ${app.id}`;
    // Same key as every test process: resealing other files' rows under it changes nothing for them.
    const run = spawnSync(process.execPath, [herald, 'keys', 'reencrypt'], {
      env: { ...process.env, DATABASE_URL: stack.config.DATABASE_URL, LOG_LEVEL: 'silent' },
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^\d+ of \d+ apps rewritten under the current key/);
    expect((await rawRow(app.id)).secret_key).toMatch(/^hsec1:/);
    expect((await findAppById(stack.database.db, app.id))?.secretKey).toBe(
      'plaintext-from-before-0123456789abcdef',
    );
  });

  it('herald apps rotate-key prints the new key once; both keys work during the overlap', async () => {
    const app = await stack.newApp();
    const run = spawnSync(
      process.execPath,
      [herald, 'apps', 'rotate-key', '--app', app.id, '--kind', 'api', '--overlap', '600', '--json'],
      {
        env: { ...process.env, DATABASE_URL: stack.config.DATABASE_URL, LOG_LEVEL: 'silent' },
        encoding: 'utf8',
      },
    );
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { kind: string; key: string; previousExpiresAt: string };
    expect(out.kind).toBe('api');
    expect((await client(stack.url, out.key)('GET', '/v1/apps/current')).status).toBe(200);
    expect((await client(stack.url, app.apiKey)('GET', '/v1/apps/current')).status).toBe(200);
    const bad = spawnSync(
      process.execPath,
      [herald, 'apps', 'rotate-key', '--app', app.id, '--kind', 'root'],
      {
        env: process.env,
        encoding: 'utf8',
      },
    );
    expect(bad.status).toBe(2);
  });
});

describe('database parameters stay out of Temporal', () => {
  const failedQuery = () =>
    Object.assign(
      new Error(
        'Failed query: update "apps" set "secret_key" = $1\nparams: hsec-SECRET-VALUE,BEGIN PRIVATE KEY',
      ),
      {
        name: 'DrizzleQueryError',
        cause: Object.assign(new Error('simulated'), { code: 'P0001', detail: 'SECRET' }),
      },
    );

  it('the SDK’s log lines go through the redacting logger', () => {
    const logs = captureLogs('debug');
    const sdkLog = temporalLogger(logs.logger);
    sdkLog.warn('Activity failed', { error: failedQuery(), durationMs: 3 });
    sdkLog.error('Worker failed', { failure: failedQuery(), token: 'abc' });
    const text = logs.text();
    expect(text).toContain('Activity failed');
    expect(text).toContain('Failed query: update');
    expect(text).toContain('P0001');
    expect(text).not.toContain('SECRET');
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain('abc');
  });

  it('an activity’s error reaches Temporal without the statement’s parameters', async () => {
    const inbound = scrubActivityErrors({} as never).inbound;
    const thrown = await inbound
      ?.execute?.({ args: [], headers: {} }, async () => {
        throw failedQuery();
      })
      .catch((err: unknown) => err);
    expect(thrown).toBeInstanceOf(Error);
    const err = thrown as Error & { code?: string };
    expect(err.message).toContain('Failed query: update "apps"');
    expect(err.message).not.toContain('SECRET');
    expect(err.stack ?? '').not.toContain('SECRET');
    expect(err.cause).toBeUndefined();
    expect(err.code).toBe('P0001');
    // A failure that wraps one keeps its own message; its cause loses the parameters.
    const wrapped = new Error('offline page failed', { cause: failedQuery() });
    const rethrown = (await inbound
      ?.execute?.({ args: [], headers: {} }, async () => Promise.reject(wrapped))
      .catch((e: unknown) => e)) as Error;
    expect(rethrown.message).toBe('offline page failed');
    expect(String((rethrown.cause as Error).message)).not.toContain('SECRET');
    // Other errors pass unchanged.
    const plain = new Error('provider down');
    expect(
      await inbound?.execute?.({ args: [], headers: {} }, async () => Promise.reject(plain)).catch((e) => e),
    ).toBe(plain);
  });
});
