import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_TABLE, failBody, INTERNAL } from '../api/v4/errors.ts';
import { createLogger } from '../core/log.ts';
import type { CreatedApp } from '../db/apps.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';
import { Api, type TencentCallOptions, tencentClient } from './support/tencent.ts';

let stack: TestStack;
const tencent = (app: CreatedApp, defaults: TencentCallOptions = {}) =>
  tencentClient(stack.url, app, defaults);

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

const OK = { ActionStatus: 'OK', ErrorInfo: '', ErrorCode: 0 };
const fail = (code: number) => ({ ActionStatus: 'FAIL', ErrorCode: code, ErrorInfo: expect.any(String) });

async function fresh(opts?: { dailyPushQuota?: number; minPushIntervalMs?: number }) {
  const app = await stack.newApp(opts);
  return { app, v4: tencent(app), v1: client(stack.url, app.apiKey) };
}

type NativePush = {
  id: string;
  status: string;
  audience: unknown;
  message: { elements: unknown[]; from?: string };
  offline: Record<string, unknown>;
  retentionSeconds: number;
  workflowId: string;
  recalledAt: string | null;
  counters: { audience: number; deliveredOnline: number; storedOffline: number };
};

const nativePush = async (v1: ReturnType<typeof client>, id: string) => {
  const r = await v1<NativePush>('GET', `/v1/pushes/${id}`);
  expect(r.status).toBe(200);
  return r.body;
};
const completed = (v1: ReturnType<typeof client>, id: string) =>
  waitFor(
    () => nativePush(v1, id),
    (p) => p.status === 'completed',
    30_000,
    `push ${id} completed`,
  );

const TEXT = [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'hi, beauty' } }];

describe('golden request / response pairs', () => {
  it('account_import and multiaccount_import (Tencent’s examples)', async () => {
    const { v4, v1 } = await fresh();
    expect(
      await v4('im_open_login_svc/account_import', {
        UserID: 'test',
        Nick: 'test',
        FaceUrl: 'http://www.qq.com',
      }),
    ).toEqual(OK);
    const acc = await v1<{ nick: string; faceUrl: string; eligible: boolean }>('GET', '/v1/accounts/test');
    expect(acc.body).toMatchObject({ nick: 'test', faceUrl: 'http://www.qq.com', eligible: true });
    // Re-importing is idempotent.
    expect(await v4('im_open_login_svc/account_import', { UserID: 'test' })).toEqual(OK);
    // The oldest format named the account Identifier.
    expect(await v4('im_open_login_svc/account_import', { Identifier: 'legacy' })).toEqual(OK);

    expect(
      await v4('im_open_login_svc/multiaccount_import', {
        Accounts: ['test1', 'test2', 'test3', 'test4', 'test5'],
      }),
    ).toEqual({ ...OK, FailAccounts: [] });
    const tooLong = 'x'.repeat(33);
    expect(
      await v4('im_open_login_svc/multiaccount_import', { Accounts: ['test6', tooLong, 'test7'] }),
    ).toEqual({ ...OK, FailAccounts: [tooLong] });
    expect(
      await v4('im_open_login_svc/multiaccount_import', {
        AccountList: [
          { UserID: 'test8', Nick: 'Nick_008', FaceUrl: 'http://www.qq.com' },
          { UserID: 'test9' },
        ],
      }),
    ).toEqual({ ...OK, FailAccounts: [] });
    const list = await v1<{ accounts: { id: string }[] }>('GET', '/v1/accounts?limit=100');
    expect(list.body.accounts.map((a) => a.id).sort()).toEqual(
      ['legacy', 'test', ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => `test${n}`)].sort(),
    );
  });

  it('attribute names and values (the reference’s examples)', async () => {
    const { v4, v1 } = await fresh();
    await v4('im_open_login_svc/multiaccount_import', { Accounts: ['u1', 'u2'] });
    expect(await v4('all_member_push/im_set_attr_name', { AttrNames: { '0': 'sex', '1': 'city' } })).toEqual(
      OK,
    );
    expect(await v4('all_member_push/im_get_attr_name', {})).toEqual({
      ...OK,
      AttrNames: { '0': 'sex', '1': 'city' },
    });
    expect(
      await v4('all_member_push/im_set_attr', {
        UserAttrs: [{ To_Account: 'u1', Attrs: { sex: 'f', city: 'SZ' } }],
      }),
    ).toEqual(OK);
    expect(await v4('all_member_push/im_get_attr', { To_Account: ['u1', 'u2'] })).toEqual({
      ...OK,
      UserAttrs: [
        { To_Account: 'u1', Attrs: { sex: 'f', city: 'SZ' } },
        { To_Account: 'u2', Attrs: {} },
      ],
    });
    // The native API sees the same attributes.
    const native = await v1<{ attributes: Record<string, string> }>('GET', '/v1/accounts/u1');
    expect(native.body.attributes).toEqual({ sex: 'f', city: 'SZ' });
    expect(
      await v4('all_member_push/im_remove_attr', {
        UserAttrs: [{ To_Account: 'u1', Attrs: ['sex', 'city'] }],
      }),
    ).toEqual(OK);
    expect(await v4('all_member_push/im_get_attr', { To_Account: ['u1'] })).toEqual({
      ...OK,
      UserAttrs: [{ To_Account: 'u1', Attrs: {} }],
    });
  });

  it('tags (the reference’s examples)', async () => {
    const { v4, v1 } = await fresh();
    await v4('im_open_login_svc/multiaccount_import', { Accounts: ['u1', 'u2'] });
    expect(
      await v4('all_member_push/im_add_tag', {
        UserTags: [
          { To_Account: 'u1', Tags: ['a', 'b'] },
          { To_Account: 'u2', Tags: ['b'] },
        ],
      }),
    ).toEqual(OK);
    expect(await v4('all_member_push/im_get_tag', { To_Account: ['u1', 'u2'] })).toEqual({
      ...OK,
      UserTags: [
        { To_Account: 'u1', Tags: ['a', 'b'] },
        { To_Account: 'u2', Tags: ['b'] },
      ],
    });
    expect((await v1<{ tags: string[] }>('GET', '/v1/accounts/u1/tags')).body.tags).toEqual(['a', 'b']);
    expect(
      await v4('all_member_push/im_remove_tag', { UserTags: [{ To_Account: 'u1', Tags: ['a'] }] }),
    ).toEqual(OK);
    expect(await v4('all_member_push/im_remove_all_tags', { To_Account: ['u2'] })).toEqual(OK);
    expect(await v4('all_member_push/im_get_tag', { To_Account: ['u1', 'u2'] })).toEqual({
      ...OK,
      UserTags: [
        { To_Account: 'u1', Tags: ['b'] },
        { To_Account: 'u2', Tags: [] },
      ],
    });
  });

  it('accounts that do not exist are listed in FailAccounts; the others are changed', async () => {
    const { v4 } = await fresh();
    await v4('im_open_login_svc/account_import', { UserID: 'u1' });
    const r = await v4('all_member_push/im_add_tag', {
      UserTags: [
        { To_Account: 'u1', Tags: ['a'] },
        { To_Account: 'ghost', Tags: ['a'] },
      ],
    });
    expect(r).toMatchObject({ ActionStatus: 'OK', ErrorCode: 0, FailAccounts: ['ghost'] });
    expect(r.ErrorInfo).toContain('ghost');
    // A read answers them as Tencent's get_tag sample does: left out, and in ErrorList with 70107.
    expect(await v4('all_member_push/im_get_tag', { To_Account: ['u1', 'ghost'] })).toEqual({
      ...OK,
      UserTags: [{ To_Account: 'u1', Tags: ['a'] }],
      ErrorList: [{ To_Account: 'ghost', ErrorCode: 70107 }],
    });
    expect(await v4('all_member_push/im_get_attr', { To_Account: ['ghost', 'u1'] })).toEqual({
      ...OK,
      UserAttrs: [{ To_Account: 'u1', Attrs: {} }],
      ErrorList: [{ To_Account: 'ghost', ErrorCode: 70107 }],
    });
  });

  it('im_push to everyone (Tencent’s example) is a native push, its report, and a recall', async () => {
    const { app, v4, v1 } = await fresh();
    await v4('im_open_login_svc/multiaccount_import', { Accounts: ['u1', 'u2', 'u3'] });
    const r = await v4('all_member_push/im_push', {
      From_Account: 'admin',
      MsgRandom: 56512,
      MsgLifeTime: 120,
      MsgBody: TEXT,
    });
    expect(r).toEqual({ ...OK, TaskId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const taskId = r.TaskId as string;

    // The same push in the native API, in PostgreSQL and in Temporal.
    const push = await completed(v1, taskId);
    expect(push).toMatchObject({
      id: taskId,
      audience: 'all',
      message: { elements: [{ type: 'text', text: 'hi, beauty' }], from: 'admin' },
      offline: { push: true },
      retentionSeconds: 120,
      workflowId: `push-${app.id}-${taskId}`,
      counters: { audience: 3 },
    });
    const [row] = await stack.database.sql<{ source: string; idempotency_key: string }[]>`
      select source, idempotency_key from pushes where id = ${taskId}`;
    expect(row).toEqual({ source: 'v4', idempotency_key: 'v4:56512' });
    const described = await stack.temporal.workflow.getHandle(push.workflowId).describe();
    expect(described.memo).toMatchObject({ push: taskId });

    const report = await v4('all_member_push/im_get_push_report', { TaskIds: [taskId, 'no-such-task'] });
    expect(report).toEqual({
      ...OK,
      Reports: [{ TaskId: taskId, Status: 2, StartTime: expect.any(Number), Finished: 3, Total: 3 }],
    });
    const start = (report.Reports as { StartTime: number }[])[0]?.StartTime ?? 0;
    expect(Math.abs(start * 1000 - Date.now())).toBeLessThan(60_000);

    expect(await v4('timpush/revoke', { TaskId: taskId })).toEqual(OK);
    await waitFor(
      () => nativePush(v1, taskId),
      (p) => p.recalledAt !== null,
      30_000,
      'recalledAt',
    );
    expect(await v4('timpush/revoke', { TaskId: taskId })).toEqual(fail(90050));
  });

  it('im_push with OfflinePushInfo (Tencent’s example) maps onto the offline options', async () => {
    const { v4, v1 } = await fresh();
    const r = await v4('all_member_push/im_push', {
      From_Account: 'xiaoming',
      MsgRandom: 3674128,
      MsgLifeTime: 120,
      MsgBody: TEXT,
      OfflinePushInfo: {
        PushFlag: 0,
        Desc: 'Content to push offline',
        Ext: 'Passthrough content',
        AndroidInfo: { Sound: 'android.mp3' },
        ApnsInfo: {
          Sound: 'apns.mp3',
          BadgeMode: 1,
          Title: 'apns title',
          SubTitle: 'apns subtitle',
          Image: 'www.image.com',
        },
      },
    });
    expect(r).toEqual({ ...OK, TaskId: expect.any(String) });
    const push = await nativePush(v1, r.TaskId as string);
    expect(push.message.from).toBe('xiaoming');
    expect(push.offline).toEqual({
      push: true,
      body: 'Content to push offline',
      ext: 'Passthrough content',
      android: { sound: 'android.mp3' },
      apns: {
        sound: 'apns.mp3',
        title: 'apns title',
        subtitle: 'apns subtitle',
        image: 'https://www.image.com',
      },
    });
  });

  it('im_push’s AndroidInfo Xiaomi, OPPO and vivo fields become those channels’ options', async () => {
    const { v4, v1 } = await fresh();
    const r = await v4('all_member_push/im_push', {
      MsgRandom: 77,
      MsgLifeTime: 120,
      MsgBody: TEXT,
      OfflinePushInfo: {
        Desc: 'Content to push offline',
        AndroidInfo: {
          XiaoMiChannelID: 'mi-im',
          OPPOChannelID: 'oppo-im',
          OPPOCategory: 'IM',
          OPPONotifyLevel: 2,
          VIVOClassification: 1,
          VIVOCategory: 'IM',
        },
      },
    });
    expect(r).toEqual({ ...OK, TaskId: expect.any(String) });
    const push = await nativePush(v1, r.TaskId as string);
    expect(push.offline).toEqual({
      push: true,
      body: 'Content to push offline',
      xiaomi: { channelId: 'mi-im' },
      oppo: { channelId: 'oppo-im', category: 'IM', notifyLevel: 2 },
      vivo: { classification: 1, category: 'IM' },
    });

    // A value the channel refuses is named by its Tencent field.
    const bad = await v4('all_member_push/im_push', {
      MsgRandom: 78,
      MsgBody: TEXT,
      OfflinePushInfo: { AndroidInfo: { VIVOClassification: 2 } },
    });
    expect(bad).toMatchObject({ ActionStatus: 'FAIL' });
    expect(bad.ErrorInfo).toMatch(/OfflinePushInfo\.AndroidInfo\.VIVOClassification/);
  });

  it('im_push by tag and by attribute reaches the matching accounts only', async () => {
    const { v4, v1 } = await fresh();
    await v4('im_open_login_svc/multiaccount_import', { Accounts: ['u1', 'u2', 'u3'] });
    await v4('all_member_push/im_add_tag', {
      UserTags: [
        { To_Account: 'u1', Tags: ['Stock A', 'Stock B'] },
        { To_Account: 'u2', Tags: ['Stock A'] },
      ],
    });
    await v4('all_member_push/im_set_attr_name', { AttrNames: { '0': 'city' } });
    await v4('all_member_push/im_set_attr', {
      UserAttrs: [
        { To_Account: 'u2', Attrs: { city: 'Shenzhen' } },
        { To_Account: 'u3', Attrs: { city: 'Beijing' } },
      ],
    });
    const cases: [unknown, number][] = [
      [{ TagsAnd: ['Stock A', 'Stock B'] }, 1],
      [{ TagsOr: ['Stock A', 'Stock B'] }, 2],
      [{ TagsOr: ['Stock A'], TagsNot: ['Stock B'] }, 1],
      [{ AttrsAnd: { city: 'Shenzhen' } }, 1],
      [{ AttrsOr: { city: 'Beijing' } }, 1],
    ];
    let random = 1;
    for (const [Condition, audience] of cases) {
      const r = await v4('all_member_push/im_push', {
        MsgRandom: random++,
        MsgBody: TEXT,
        Condition,
      });
      expect(r).toMatchObject({ ActionStatus: 'OK' });
      const push = await completed(v1, r.TaskId as string);
      expect(push.audience).toEqual(Condition);
      expect(push.counters.audience).toBe(audience);
      // Tencent shows the admin as the sender when From_Account is absent.
      expect(push.message.from).toBe('administrator');
    }
  });

  it('every MsgBody element becomes the native element', async () => {
    const { v4, v1 } = await fresh();
    const r = await v4('all_member_push/im_push', {
      MsgRandom: 7,
      MsgBody: [
        { MsgType: 'TIMTextElem', MsgContent: { Text: 'hello' } },
        {
          MsgType: 'TIMCustomElem',
          MsgContent: { Data: 'message', Desc: 'notification', Ext: 'url', Sound: 'dingdong.aiff' },
        },
        { MsgType: 'TIMLocationElem', MsgContent: { Desc: 'someplace', Latitude: 29.34, Longitude: 113.93 } },
        { MsgType: 'TIMFaceElem', MsgContent: { Index: 1, Data: 'content' } },
        {
          MsgType: 'TIMSoundElem',
          MsgContent: {
            Url: 'https://cdn.example.com/a.m4a',
            UUID: '1053D4A4F2F0AAD5',
            Size: 62351,
            Second: 1,
            Download_Flag: 2,
          },
        },
        {
          MsgType: 'TIMImageElem',
          MsgContent: {
            UUID: '1853095_D61040894AC3DE44CDFFFB3EC7EB720F',
            ImageFormat: 1,
            ImageInfoArray: [
              { Type: 3, Size: 1000, Width: 128, Height: 128, URL: 'https://cdn.example.com/thumb.jpg' },
              { Type: 1, Size: 1853095, Width: 2448, Height: 3264, URL: 'https://cdn.example.com/orig.jpg' },
              { Type: 2, Size: 0, Width: 0, Height: 0, URL: 'https://cdn.example.com/large.jpg' },
            ],
          },
        },
        {
          MsgType: 'TIMFileElem',
          MsgContent: {
            Url: 'https://cdn.example.com/f.txt',
            UUID: '1053D4A4F2F0AAD5',
            FileSize: 1773552,
            FileName: 'file:a.txt',
            Download_Flag: 2,
          },
        },
        {
          MsgType: 'TIMVideoFileElem',
          MsgContent: {
            VideoUrl: 'https://cdn.example.com/v.mp4',
            VideoUUID: '5da38ba89d6521',
            VideoSize: 1194603,
            VideoSecond: 5,
            VideoFormat: 'mp4',
            VideoDownloadFlag: 2,
            ThumbUrl: 'https://cdn.example.com/v.jpg',
            ThumbUUID: '6edaffedef5150684510',
            ThumbSize: 13907,
            ThumbWidth: 720,
            ThumbHeight: 1280,
            ThumbFormat: 'JPG',
            ThumbDownloadFlag: 2,
          },
        },
      ],
    });
    expect(r).toMatchObject({ ActionStatus: 'OK' });
    const push = await nativePush(v1, r.TaskId as string);
    expect(push.message.elements).toEqual([
      { type: 'text', text: 'hello' },
      { type: 'custom', data: 'message', desc: 'notification', ext: 'url', sound: 'dingdong.aiff' },
      { type: 'location', latitude: 29.34, longitude: 113.93, desc: 'someplace' },
      { type: 'face', index: 1, data: 'content' },
      { type: 'sound', url: 'https://cdn.example.com/a.m4a', seconds: 1, size: 62351 },
      { type: 'image', url: 'https://cdn.example.com/orig.jpg', width: 2448, height: 3264 },
      { type: 'file', url: 'https://cdn.example.com/f.txt', name: 'file:a.txt', size: 1773552 },
      {
        type: 'video',
        url: 'https://cdn.example.com/v.mp4',
        thumbUrl: 'https://cdn.example.com/v.jpg',
        seconds: 5,
      },
    ]);
  });
});

describe('MsgRandom is the idempotency key', () => {
  it('a retry with the same MsgRandom and body is the same task, even within the push interval', async () => {
    const { v4, v1 } = await fresh({ minPushIntervalMs: 60_000 });
    const body = { MsgRandom: 99, MsgLifeTime: 60, MsgBody: TEXT };
    const first = await v4('all_member_push/im_push', body);
    const again = await v4('all_member_push/im_push', body);
    expect(again).toEqual({ ...OK, TaskId: first.TaskId });
    const list = await v1<{ pushes: unknown[] }>('GET', '/v1/pushes');
    expect(list.body.pushes).toHaveLength(1);
    // A new MsgRandom is a new push, refused by the interval.
    expect(await v4('all_member_push/im_push', { ...body, MsgRandom: 100 })).toEqual(fail(90024));
  });

  it('the same MsgRandom with another body is refused (90005) and names the earlier task', async () => {
    const { v4 } = await fresh();
    const first = await v4('all_member_push/im_push', { MsgRandom: 5, MsgBody: TEXT });
    const other = await v4('all_member_push/im_push', {
      MsgRandom: 5,
      MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'something else' } }],
    });
    expect(other).toEqual(fail(90005));
    expect(other.ErrorInfo).toContain(first.TaskId as string);
  });
});

describe('authentication', () => {
  it('signs with tls-sig-api-v2 for the configurable admin identifier', async () => {
    const { app, v4, v1 } = await fresh();
    expect(await v4('all_member_push/im_get_attr_name', {})).toEqual({ ...OK, AttrNames: {} });
    const patched = await v1('PATCH', '/v1/apps/current', { adminIdentifier: 'boss' });
    expect(patched.status).toBe(200);
    expect(await v4('all_member_push/im_get_attr_name', {}, { identifier: 'boss' })).toEqual({
      ...OK,
      AttrNames: {},
    });
    expect(await v4('all_member_push/im_get_attr_name', {})).toEqual(fail(90009));
    expect(await tencent(app)('im_open_login_svc/account_import', { UserID: 'x' })).toEqual(fail(70403));
  });

  it.each([
    ['no sdkappid', { sdkappid: null }, 60012],
    ['an sdkappid no app has', { sdkappid: '999' }, 70020],
    ['contenttype other than json', { contenttype: 'xml' }, 60002],
    ['a UserSig that does not decode', { usersig: 'garbage' }, 70003],
    ['a UserSig signed with another key', { key: 'b'.repeat(64) }, 70009],
    ['a UserSig of another SDKAppID', { sdk: 1400000001 }, 70014],
    ['a UserSig for another identifier', { signFor: 'someone' }, 70013],
    ['an expired UserSig', { expire: -10 }, 70001],
    ['a valid UserSig of a user who is not the admin', { signFor: 'u1', identifier: 'u1' }, 90009],
  ] as const)('refuses %s', async (_what, o, code) => {
    const { app, v4 } = await fresh();
    const opts = o as {
      sdkappid?: string | null;
      contenttype?: string;
      usersig?: string;
      key?: string;
      sdk?: number;
      signFor?: string;
      identifier?: string;
      expire?: number;
    };
    const usersig =
      opts.usersig ??
      new Api(opts.sdk ?? app.sdkAppId, opts.key ?? app.secretKey).genUserSig(
        opts.signFor ?? opts.identifier ?? 'administrator',
        opts.expire ?? 3600,
      );
    const call: TencentCallOptions = { usersig };
    if (opts.sdkappid !== undefined) call.sdkappid = opts.sdkappid;
    if (opts.contenttype !== undefined) call.contenttype = opts.contenttype;
    if (opts.identifier !== undefined) call.identifier = opts.identifier;
    expect(await v4('all_member_push/im_push', { MsgRandom: 1, MsgBody: TEXT }, call)).toEqual(fail(code));
  });

  it('answers an unknown command with 60009, still HTTP 200', async () => {
    const { v4 } = await fresh();
    expect(await v4('all_member_push/im_nope', {})).toEqual(fail(60009));
    const res = await fetch(`${stack.url}/v4/all_member_push/im_push`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(fail(60009));
  });
});

describe('error codes', () => {
  const longTag = 'x'.repeat(51);
  const elevenTags = Array.from({ length: 11 }, (_, i) => `t${i}`);
  const hundredOne = Array.from({ length: 101 }, (_, i) => `u${i}`);
  const push = (extra: Record<string, unknown>) => ({ MsgRandom: 1, MsgBody: TEXT, ...extra });

  it.each([
    ['90001 JSON parse failed', 'all_member_push/im_push', '{"MsgRandom": 1,', 90001],
    ['90001 a body that is not an object', 'all_member_push/im_get_tag', '[]', 90001],
    ['60003 JSON parse failed (accounts)', 'im_open_login_svc/account_import', 'nope', 60003],
    [
      '90002 an unknown MsgType',
      'all_member_push/im_push',
      push({ MsgBody: [{ MsgType: 'TIMNope', MsgContent: {} }] }),
      90002,
    ],
    [
      '90002 an empty text',
      'all_member_push/im_push',
      push({ MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: '' } }] }),
      90002,
    ],
    ['90002 an empty MsgBody', 'all_member_push/im_push', push({ MsgBody: [] }), 90002],
    [
      '90002 two custom elements',
      'all_member_push/im_push',
      push({
        MsgBody: [
          { MsgType: 'TIMCustomElem', MsgContent: { Data: 'a' } },
          { MsgType: 'TIMCustomElem', MsgContent: { Data: 'b' } },
        ],
      }),
      90002,
    ],
    [
      '90002 an image without a URL',
      'all_member_push/im_push',
      push({ MsgBody: [{ MsgType: 'TIMImageElem', MsgContent: { UUID: 'x' } }] }),
      90002,
    ],
    ['90005 MsgRandom missing', 'all_member_push/im_push', { MsgBody: TEXT }, 90005],
    ['90005 MsgRandom not an integer', 'all_member_push/im_push', push({ MsgRandom: '12' }), 90005],
    [
      '90007 MsgBody not an array',
      'all_member_push/im_push',
      push({ MsgBody: { MsgType: 'TIMTextElem' } }),
      90007,
    ],
    ['90010 PushFlag 2', 'all_member_push/im_push', push({ OfflinePushInfo: { PushFlag: 2 } }), 90010],
    [
      '90010 a Title that is not a string',
      'all_member_push/im_push',
      push({ OfflinePushInfo: { Title: 3 } }),
      90010,
    ],
    [
      '90010 a Condition key Tencent does not have',
      'all_member_push/im_push',
      push({ Condition: { any: [] } }),
      90010,
    ],
    ['90010 To_Account not an array', 'all_member_push/im_get_tag', { To_Account: 'u1' }, 90010],
    ['90018 101 accounts (get tags)', 'all_member_push/im_get_tag', { To_Account: hundredOne }, 90018],
    [
      '90018 101 accounts (set attributes)',
      'all_member_push/im_set_attr',
      { UserAttrs: hundredOne.map((u) => ({ To_Account: u, Attrs: {} })) },
      90018,
    ],
    [
      '90020 a 51-byte tag in a condition',
      'all_member_push/im_push',
      push({ Condition: { TagsOr: [longTag] } }),
      90020,
    ],
    [
      '90020 a 51-byte tag added',
      'all_member_push/im_add_tag',
      { UserTags: [{ To_Account: 'u1', Tags: [longTag] }] },
      90020,
    ],
    [
      '90022 a tag in TagsAnd and TagsOr',
      'all_member_push/im_push',
      push({ Condition: { TagsAnd: ['a'], TagsOr: ['b', 'a'] } }),
      90022,
    ],
    ['90026 MsgLifeTime over 7 days', 'all_member_push/im_push', push({ MsgLifeTime: 604_801 }), 90026],
    ['90026 MsgLifeTime negative', 'all_member_push/im_push', push({ MsgLifeTime: -1 }), 90026],
    [
      '90032 11 tags in a condition',
      'all_member_push/im_push',
      push({ Condition: { TagsAnd: elevenTags } }),
      90032,
    ],
    [
      '90032 11 tags added at once',
      'all_member_push/im_add_tag',
      { UserTags: [{ To_Account: 'u1', Tags: elevenTags }] },
      90032,
    ],
    [
      '90033 an attribute with no name',
      'all_member_push/im_set_attr',
      { UserAttrs: [{ To_Account: 'u1', Attrs: { nope: 'x' } }] },
      90033,
    ],
    [
      '90033 an attribute with no name in a condition',
      'all_member_push/im_push',
      push({ Condition: { AttrsAnd: { nope: 'x' } } }),
      90033,
    ],
    ['90033 a slot out of range', 'all_member_push/im_set_attr_name', { AttrNames: { '10': 'x' } }, 90033],
    [
      '90033 a value over 50 bytes',
      'all_member_push/im_push',
      push({ Condition: { AttrsOr: { city: 'x'.repeat(51) } } }),
      90033,
    ],
    [
      '90039 tags and attributes mixed',
      'all_member_push/im_push',
      push({ Condition: { TagsOr: ['a'], AttrsAnd: { city: 'SZ' } } }),
      90039,
    ],
    [
      '90040 an empty tag in a condition',
      'all_member_push/im_push',
      push({ Condition: { TagsAnd: [''] } }),
      90040,
    ],
    [
      '90040 an empty tag added',
      'all_member_push/im_add_tag',
      { UserTags: [{ To_Account: 'u1', Tags: [''] }] },
      90040,
    ],
    [
      '90049 a TaskId that names no push',
      'timpush/revoke',
      { TaskId: '0190a0b0-0000-7000-8000-000000000000' },
      90049,
    ],
    ['90010 a TaskId missing', 'timpush/revoke', {}, 90010],
    ['70402 a UserID over 32 bytes', 'im_open_login_svc/account_import', { UserID: 'x'.repeat(33) }, 70402],
    ['70402 UserID missing', 'im_open_login_svc/account_import', { Nick: 'n' }, 70402],
    ['70402 101 accounts imported', 'im_open_login_svc/multiaccount_import', { Accounts: hundredOne }, 70402],
  ] as const)('%s', async (_what, command, body, code) => {
    const { v4 } = await fresh();
    await v4('all_member_push/im_set_attr_name', { AttrNames: { '0': 'city' } });
    const r = await v4(command, body);
    expect(r).toEqual(fail(code));
    expect(r.ErrorInfo.length).toBeGreaterThan(0);
  });

  it('ErrorInfo names the Tencent field', async () => {
    const { v4 } = await fresh();
    const r1 = await v4('all_member_push/im_add_tag', {
      UserTags: [
        { To_Account: 'u1', Tags: ['ok'] },
        { To_Account: 'u2', Tags: ['x'.repeat(51)] },
      ],
    });
    expect(r1.ErrorInfo).toMatch(/^UserTags\[1\]\.Tags\[0\]: /);
    const r2 = await v4('all_member_push/im_push', {
      MsgRandom: 1,
      MsgBody: [TEXT[0], { MsgType: 'TIMTextElem', MsgContent: { Text: 42 } }],
    });
    expect(r2.ErrorInfo).toMatch(/^MsgBody\[1\]\.MsgContent\.Text: /);
    const r3 = await v4('all_member_push/im_push', { MsgRandom: 1, MsgBody: TEXT, MsgLifeTime: 1e9 });
    expect(r3.ErrorInfo).toMatch(/^MsgLifeTime: /);
    const r4 = await v4('im_open_login_svc/multiaccount_import', {
      AccountList: [{ UserID: 'x'.repeat(40) }, { UserID: 'ok', Nick: 'n'.repeat(101) }],
    });
    expect(r4).toEqual(fail(70402));
    expect(r4.ErrorInfo).toMatch(/^AccountList\[1\]\.Nick: /);
  });

  it('90024 pushes too frequent and 90047 daily quota, from the native limits', async () => {
    const frequent = await fresh({ minPushIntervalMs: 60_000 });
    expect(await frequent.v4('all_member_push/im_push', { MsgRandom: 1, MsgBody: TEXT })).toMatchObject({
      ActionStatus: 'OK',
    });
    expect(await frequent.v4('all_member_push/im_push', { MsgRandom: 2, MsgBody: TEXT })).toEqual(
      fail(90024),
    );
    const quota = await fresh({ dailyPushQuota: 1 });
    expect(await quota.v4('all_member_push/im_push', { MsgRandom: 1, MsgBody: TEXT })).toMatchObject({
      ActionStatus: 'OK',
    });
    expect(await quota.v4('all_member_push/im_push', { MsgRandom: 2, MsgBody: TEXT })).toEqual(fail(90047));
  });

  it('90052 a recall more than 24 hours after the start', async () => {
    const { v4, v1 } = await fresh();
    const r = await v4('all_member_push/im_push', { MsgRandom: 1, MsgBody: TEXT });
    await completed(v1, r.TaskId as string);
    await stack.database.sql`
      update pushes set started_at = now() - interval '25 hours' where id = ${r.TaskId as string}`;
    expect(await v4('timpush/revoke', { TaskId: r.TaskId })).toEqual(fail(90052));
  });

  it('91000 / 70169 for anything Herald did not expect, with an id in the log', () => {
    const log = createLogger('silent', 'test');
    expect(failBody(new Error('boom'), 'push', log)).toEqual(fail(INTERNAL.push));
    expect(failBody(new Error('boom'), 'account', log)).toEqual(fail(INTERNAL.account));
    expect(INTERNAL).toEqual({ push: 91000, account: 70169 });
  });

  it('docs/tencent.md documents every code of the table', async () => {
    const doc = await readFile(new URL('../docs/tencent.md', import.meta.url), 'utf8');
    const codes = new Set([
      ...ERROR_TABLE.flatMap((r) => [r.push, r.account]),
      INTERNAL.push,
      INTERNAL.account,
    ]);
    for (const code of codes) expect(doc, `docs/tencent.md lacks ${code}`).toContain(String(code));
    for (const row of ERROR_TABLE)
      for (const native of row.codes)
        expect(doc, `docs/tencent.md lacks ${native}`).toContain(`\`${native}\``);
  });
});
