/**
 * The account commands typed server SDKs call beside push: account_check, account_delete, kick and
 * query_online_status, against accounts that exist, do not exist, and are connected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintUserToken } from '../core/user-token.ts';
import type { CreatedApp } from '../db/apps.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';
import { Api, type TencentCallOptions, tencentClient } from './support/tencent.ts';
import { TestSocket } from './support/ws.ts';

let stack: TestStack;
const tencent = (app: CreatedApp, defaults: TencentCallOptions = {}) =>
  tencentClient(stack.url, app, defaults);
const sockets: TestSocket[] = [];

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await stack?.stop();
});

const OK = { ActionStatus: 'OK', ErrorInfo: '', ErrorCode: 0 };
const fail = (code: number) => ({ ActionStatus: 'FAIL', ErrorCode: code, ErrorInfo: expect.any(String) });

async function fresh() {
  const app = await stack.newApp();
  const sig = (account: string) => new Api(app.sdkAppId, app.secretKey).genUserSig(account, 3600);
  return { app, v4: tencent(app), v1: client(stack.url, app.apiKey), sig };
}

async function connect(token: string) {
  const s = await TestSocket.open(stack.wsUrl, token, 'protocol');
  sockets.push(s);
  return s;
}

const online = (v4: ReturnType<typeof tencent>, id: string, status: string) =>
  waitFor(
    () => v4('openim/query_online_status', { To_Account: [id] }),
    (r) => (r.QueryResult as { Status: string }[] | undefined)?.[0]?.Status === status,
    10_000,
    `${id} ${status}`,
  );

describe('account_check', () => {
  it('answers Imported for imported and logged-in accounts, NotImported for others, per account', async () => {
    const { v4, sig } = await fresh();
    await v4('im_open_login_svc/account_import', { UserID: 'imported' });
    const s = await connect(sig('loggedin'));
    await s.frame('welcome');
    const tooLong = 'x'.repeat(33);
    expect(
      await v4('im_open_login_svc/account_check', {
        CheckItem: [{ UserID: 'imported' }, { UserID: 'ghost' }, { UserID: 'loggedin' }, { UserID: tooLong }],
      }),
    ).toEqual({
      ...OK,
      ResultItem: [
        { UserID: 'imported', ResultCode: 0, ResultInfo: '', AccountStatus: 'Imported' },
        { UserID: 'ghost', ResultCode: 0, ResultInfo: '', AccountStatus: 'NotImported' },
        { UserID: 'loggedin', ResultCode: 0, ResultInfo: '', AccountStatus: 'Imported' },
        { UserID: tooLong, ResultCode: 70402, ResultInfo: expect.any(String), AccountStatus: 'NotImported' },
      ],
    });
  });

  it('refuses a bad request as im_open_login_svc does (70402)', async () => {
    const { v4 } = await fresh();
    const many = Array.from({ length: 101 }, (_, i) => ({ UserID: `u${i}` }));
    expect(await v4('im_open_login_svc/account_check', { CheckItem: many })).toEqual(fail(70402));
    expect(await v4('im_open_login_svc/account_check', {})).toEqual(fail(70402));
    expect(await v4('im_open_login_svc/account_check', { CheckItem: [{ UserID: 7 }] })).toEqual(fail(70402));
  });
});

describe('account_delete', () => {
  it('deletes the accounts that exist and answers 70107 for the others', async () => {
    const { v4, v1 } = await fresh();
    await v4('im_open_login_svc/multiaccount_import', { Accounts: ['u1', 'u2'] });
    await v4('all_member_push/im_add_tag', { UserTags: [{ To_Account: 'u1', Tags: ['vip'] }] });
    expect(
      await v4('im_open_login_svc/account_delete', { DeleteItem: [{ UserID: 'u1' }, { UserID: 'ghost' }] }),
    ).toEqual({
      ...OK,
      ResultItem: [
        { UserID: 'u1', ResultCode: 0, ResultInfo: '' },
        { UserID: 'ghost', ResultCode: 70107, ResultInfo: 'Err_TLS_PT_Open_Login_Account_Not_Exist' },
      ],
    });
    expect((await v1('GET', '/v1/accounts/u1')).status).toBe(404);
    expect((await v1('GET', '/v1/accounts/u2')).status).toBe(200);
    const check = await v4('im_open_login_svc/account_check', { CheckItem: [{ UserID: 'u1' }] });
    expect(check.ResultItem).toEqual([
      { UserID: 'u1', ResultCode: 0, ResultInfo: '', AccountStatus: 'NotImported' },
    ]);
  });
});

describe('kick', () => {
  it('closes every socket of the account (4001 token_revoked); old tokens are refused, new ones connect', async () => {
    const { app, v4, sig } = await fresh();
    const oldSig = sig('k1');
    const jwt = await mintUserToken({
      appId: app.id,
      secretKey: app.secretKey,
      accountId: 'k1',
      ttlSeconds: 600,
    });
    const a = await connect(oldSig);
    const b = await connect(jwt.token);
    const other = await connect(sig('k2'));
    await Promise.all([a.frame('welcome'), b.frame('welcome'), other.frame('welcome')]);
    await online(v4, 'k1', 'Online');

    expect(await v4('im_open_login_svc/kick', { UserID: 'k1' })).toEqual(OK);
    for (const s of [a, b]) {
      const closed = await s.closedWith();
      expect(closed.code).toBe(4001);
      expect(closed.reason).toMatch(/^token_revoked/);
    }
    // Another account's socket stays.
    expect(other.closed).toBeUndefined();
    await online(v4, 'k1', 'Offline');

    // The tokens issued before the kick are refused on reconnect.
    for (const token of [oldSig, jwt.token]) {
      const again = await connect(token);
      const closed = await again.closedWith();
      expect(closed.code).toBe(4001);
      expect(closed.reason).toMatch(/^token_revoked/);
    }
    // A token issued after the kick (from its next whole second) connects.
    await new Promise((r) => setTimeout(r, 1100));
    const fresh1 = await connect(sig('k1'));
    expect(await fresh1.frame('welcome')).toMatchObject({ accountId: 'k1' });
  });

  it('answers 70107 for an account that does not exist and 70402 without a UserID', async () => {
    const { v4 } = await fresh();
    expect(await v4('im_open_login_svc/kick', { UserID: 'ghost' })).toEqual(fail(70107));
    expect(await v4('im_open_login_svc/kick', {})).toEqual(fail(70402));
    expect(await v4('im_open_login_svc/kick', { UserID: null })).toEqual(fail(70402));
  });
});

describe('query_online_status', () => {
  it('Online when connected, PushOnline with a device, Offline otherwise; unknown accounts in ErrorList', async () => {
    const { v4, v1, sig } = await fresh();
    await v4('im_open_login_svc/multiaccount_import', { Accounts: ['off', 'pushy'] });
    const token = 'ab'.repeat(32);
    expect((await v1('PUT', `/v1/accounts/pushy/devices/apns/${token}`, {})).status).toBeLessThan(300);
    const s = await connect(sig('on'));
    await s.frame('welcome');
    await online(v4, 'on', 'Online');
    expect(
      await v4('openim/query_online_status', { To_Account: ['on', 'pushy', 'off', 'ghost', 'on'] }),
    ).toEqual({
      ...OK,
      QueryResult: [
        { To_Account: 'on', Status: 'Online', State: 'Online' },
        { To_Account: 'pushy', Status: 'PushOnline', State: 'PushOnline' },
        { To_Account: 'off', Status: 'Offline', State: 'Offline' },
      ],
      ErrorList: [{ To_Account: 'ghost', ErrorCode: 70107 }],
    });
    // Herald does not know a socket's platform: Detail is empty.
    expect(await v4('openim/query_online_status', { IsNeedDetail: 1, To_Account: ['on'] })).toEqual({
      ...OK,
      QueryResult: [{ To_Account: 'on', Status: 'Online', State: 'Online', Detail: [] }],
      ErrorList: [],
    });
    await s.close();
    await online(v4, 'on', 'Offline');
  });

  it('refuses more than 500 accounts and a bad IsNeedDetail (70402)', async () => {
    const { v4 } = await fresh();
    const many = Array.from({ length: 501 }, (_, i) => `u${i}`);
    expect(await v4('openim/query_online_status', { To_Account: many })).toEqual(fail(70402));
    expect(await v4('openim/query_online_status', { To_Account: ['u'], IsNeedDetail: 2 })).toEqual(
      fail(70402),
    );
  });
});
