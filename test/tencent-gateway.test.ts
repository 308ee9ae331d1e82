import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintUserToken, UserTokenError } from '../core/user-token.ts';
import type { CreatedApp } from '../db/apps.ts';
import { userSigVerifier } from '../gateway/usersig-verifier.ts';
import { HeraldClient, type HeraldMessage, type Recall } from '../sdk/src/node.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';
import { TestSocket } from './support/ws.ts';

// Apps mint UserSigs for their users with Tencent's signer; Herald's gateway takes them as user tokens.
const { Api } = createRequire(import.meta.url)('tls-sig-api-v2') as {
  Api: new (sdkAppId: number, key: string) => { genUserSig(id: string, expire: number): string };
};

let stack: TestStack;
let app: CreatedApp;
const sockets: TestSocket[] = [];
const clients: HeraldClient[] = [];

beforeAll(async () => {
  stack = await startTestStack({ gateway: { authTimeoutMs: 1000 } });
  app = await stack.newApp();
});
afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(sockets.map((s) => s.close()));
  await stack?.stop();
});

const userSig = (account: string, expire = 3600, key = app.secretKey, sdkAppId = app.sdkAppId) =>
  new Api(sdkAppId, key).genUserSig(account, expire);

async function open(token: string, via: 'protocol' | 'query' | 'frame' = 'protocol') {
  const s = await TestSocket.open(stack.wsUrl, token, via);
  sockets.push(s);
  return s;
}

/** A Tencent-style v4 call signed for the admin of `to`. */
async function tencentCall(to: CreatedApp, command: string, body: unknown) {
  const q = new URLSearchParams({
    sdkappid: String(to.sdkAppId),
    identifier: 'administrator',
    usersig: new Api(to.sdkAppId, to.secretKey).genUserSig('administrator', 600),
    random: String(Math.floor(Math.random() * 2 ** 32)),
    contenttype: 'json',
  });
  const res = await fetch(`${stack.url}/v4/${command}?${q}`, { method: 'POST', body: JSON.stringify(body) });
  return (await res.json()) as Record<string, unknown>;
}

describe('the gateway takes a TLSSigAPIv2 UserSig in place of the JWT', () => {
  it.each(['protocol', 'query', 'frame'] as const)('as the %s token', async (via) => {
    const s = await open(userSig(`sig-${via}`), via);
    const welcome = await s.frame('welcome');
    expect(welcome).toMatchObject({ appId: app.id, accountId: `sig-${via}`, protocol: 'herald.v1' });
    const expires = Date.parse(welcome.tokenExpiresAt as string);
    expect(Math.abs(expires - (Date.now() + 3600_000))).toBeLessThan(60_000);
    // Connecting is a login: the account is eligible for pushes.
    const acc = await client(stack.url, app.apiKey)<{ eligible: boolean }>('GET', `/v1/accounts/sig-${via}`);
    expect(acc.body.eligible).toBe(true);
  });

  it.each([
    ['expired', () => userSig('u1', -10), 4001, /^token_expired/],
    ['signed with another key', () => userSig('u1', 3600, 'c'.repeat(64)), 4001, /^token_invalid/],
    ['of an sdkappid no app has', () => userSig('u1', 3600, app.secretKey, 1399999999), 4003, /^unknown_app/],
  ])('refuses a UserSig %s', async (_what, make, code, reason) => {
    const s = await open(make());
    const closed = await s.closedWith();
    expect(closed.code).toBe(code);
    expect(closed.reason).toMatch(reason);
  });

  it('leaves JWTs to the JWT verifier and garbage to nobody', async () => {
    const jwt = await mintUserToken({
      appId: app.id,
      secretKey: app.secretKey,
      accountId: 'jo',
      ttlSeconds: 60,
    });
    const secrets = { byId: async () => undefined, bySdkAppId: async () => undefined };
    expect(await userSigVerifier(jwt.token, secrets)).toBeUndefined();
    expect(await userSigVerifier('not-a-usersig', secrets)).toBeUndefined();
    await expect(userSigVerifier(userSig('u1'), secrets)).rejects.toBeInstanceOf(UserTokenError);
    const s = await open(jwt.token);
    expect(await s.frame('welcome')).toMatchObject({ accountId: 'jo' });
  });
});

describe('a push through im_push reaches a client of the SDK connected with a UserSig', () => {
  it('delivers it live, then hears its recall', async () => {
    // An app of its own, so the push's audience is alice alone.
    const own = await stack.newApp();
    const v4 = (command: string, body: unknown) => tencentCall(own, command, body);
    expect(await v4('im_open_login_svc/account_import', { UserID: 'alice' })).toMatchObject({
      ActionStatus: 'OK',
    });
    const herald = new HeraldClient({
      url: stack.url,
      token: new Api(own.sdkAppId, own.secretKey).genUserSig('alice', 3600),
    });
    clients.push(herald);
    const messages: HeraldMessage[] = [];
    const recalls: Recall[] = [];
    herald.on('message', (m) => messages.push(m));
    herald.on('recall', (r) => recalls.push(r));
    const welcome = await herald.connect();
    expect(welcome).toMatchObject({ appId: own.id, accountId: 'alice' });

    const r = await v4('all_member_push/im_push', {
      MsgRandom: 42,
      MsgLifeTime: 600,
      MsgBody: [
        { MsgType: 'TIMTextElem', MsgContent: { Text: 'hello from v4' } },
        { MsgType: 'TIMCustomElem', MsgContent: { Data: '{"k":1}', Desc: 'custom' } },
      ],
    });
    expect(r).toMatchObject({ ActionStatus: 'OK', ErrorCode: 0 });
    const taskId = r.TaskId as string;
    await waitFor(
      async () => messages.find((m) => m.id === taskId),
      (m) => m !== undefined,
      15_000,
      'the message',
    );
    expect(messages.find((m) => m.id === taskId)).toMatchObject({
      pushId: taskId,
      from: 'administrator',
      elements: [
        { type: 'text', text: 'hello from v4' },
        { type: 'custom', data: '{"k":1}', desc: 'custom' },
      ],
    });
    const api = client(stack.url, own.apiKey);
    const push = await waitFor(
      () => api<{ status: string; counters: { deliveredOnline: number } }>('GET', `/v1/pushes/${taskId}`),
      (p) => p.body.status === 'completed',
      30_000,
      'completed',
    );
    expect(push.body.counters.deliveredOnline).toBe(1);
    expect(await v4('all_member_push/im_get_push_report', { TaskIds: [taskId] })).toMatchObject({
      Reports: [{ TaskId: taskId, Status: 2, Total: 1, Finished: 1 }],
    });

    expect(await v4('timpush/revoke', { TaskId: taskId })).toMatchObject({ ActionStatus: 'OK' });
    await waitFor(
      async () => recalls.some((x) => x.id === taskId),
      (v) => v,
      15_000,
      'the recall',
    );
  });
});
