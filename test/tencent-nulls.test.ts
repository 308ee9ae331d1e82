/**
 * The v4 request-shape corpus: each command as a typed-language server SDK sends it (every optional key
 * present, the unused ones null: Go structs without `omitempty`, Java beans serialised with nulls) and as a
 * minimal body. Both are accepted with the same answer and the same effect; a required field sent as null is
 * the same error as a missing one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';
import { type TencentBody, type TencentCallOptions, tencentClient } from './support/tencent.ts';

let stack: TestStack;
const tencent = (app: CreatedApp, defaults: TencentCallOptions = {}) =>
  tencentClient(stack.url, app, defaults);

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

type Body = TencentBody;

/** An app with two accounts, one tagged `vip` with `sex: f`, and a push to report on and revoke. */
async function world() {
  const app = await stack.newApp({ minPushIntervalMs: 0 });
  const v4 = tencent(app);
  const v1 = client(stack.url, app.apiKey);
  const must = async (command: string, body: unknown) =>
    expect(await v4(command, body)).toMatchObject({ ErrorCode: 0 });
  await must('im_open_login_svc/multiaccount_import', { Accounts: ['u1', 'u2'] });
  await must('all_member_push/im_set_attr_name', { AttrNames: { '0': 'sex', '1': 'city' } });
  await must('all_member_push/im_set_attr', { UserAttrs: [{ To_Account: 'u1', Attrs: { sex: 'f' } }] });
  await must('all_member_push/im_add_tag', { UserTags: [{ To_Account: 'u1', Tags: ['vip'] }] });
  const push = await v4('all_member_push/im_push', {
    MsgRandom: 1,
    MsgLifeTime: 3600,
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'seed' } }],
  });
  return { v4, v1, taskId: push.TaskId as string };
}

type World = Awaited<ReturnType<typeof world>>;

/** The native view of a push, without what differs from one push to another. */
async function nativePush(w: World, taskId: string) {
  const p = await waitFor(
    async () => (await w.v1<Record<string, unknown>>('GET', `/v1/pushes/${taskId}`)).body,
    (b) => b.status === 'completed',
    30_000,
    `push ${taskId} completed`,
  );
  const counters = p.counters as { audience: number };
  return {
    audience: p.audience,
    message: p.message,
    offline: p.offline,
    retention: p.retentionSeconds,
    recipients: counters.audience,
  };
}

interface Case {
  command: string;
  typed: (w: World) => unknown;
  minimal: (w: World) => unknown;
  /** Reads the effect, to compare beside the answers. */
  effect?: (w: World, answer: Body) => Promise<unknown>;
}

const readAll = async (w: World) => ({
  accounts: (
    await w.v4('im_open_login_svc/account_check', { CheckItem: [{ UserID: 'u1' }, { UserID: 'u3' }] })
  ).ResultItem,
  tags: (await w.v4('all_member_push/im_get_tag', { To_Account: ['u1', 'u2'] })).UserTags,
  attrs: (await w.v4('all_member_push/im_get_attr', { To_Account: ['u1', 'u2'] })).UserAttrs,
  names: (await w.v4('all_member_push/im_get_attr_name', {})).AttrNames,
});
const pushEffect = (w: World, a: Body) => nativePush(w, a.TaskId as string);
const text = (t: string) => [{ MsgType: 'TIMTextElem', MsgContent: { Text: t } }];

/** OfflinePushInfo with every key a typed SDK has, unused ones null. */
const typedOffline = {
  PushFlag: null,
  Title: null,
  Desc: 'sale tonight',
  Ext: null,
  AndroidInfo: {
    Sound: null,
    GoogleChannelID: null,
    HuaWeiChannelID: null,
    XiaoMiChannelID: null,
    OPPOChannelID: null,
    VIVOClassification: null,
    HuaWeiImportance: null,
    HuaWeiCategory: null,
    ExtAsHuaweiIntentParam: null,
  },
  ApnsInfo: {
    BadgeMode: null,
    Title: 'Sale',
    SubTitle: null,
    Image: null,
    MutableContent: null,
    Sound: null,
  },
};
const minimalOffline = { Desc: 'sale tonight', ApnsInfo: { Title: 'Sale' } };
const typedCondition = (c: Record<string, unknown>) => ({
  TagsAnd: null,
  TagsOr: null,
  AttrsAnd: null,
  AttrsOr: null,
  ...c,
});

let random = 1000;
const CASES: Record<string, Case> = {
  account_import: {
    command: 'im_open_login_svc/account_import',
    typed: () => ({ UserID: 'u3', Identifier: null, Nick: null, FaceUrl: null }),
    minimal: () => ({ UserID: 'u3' }),
    effect: readAll,
  },
  'multiaccount_import (Accounts)': {
    command: 'im_open_login_svc/multiaccount_import',
    typed: () => ({ Accounts: ['u3'], AccountList: null }),
    minimal: () => ({ Accounts: ['u3'] }),
    effect: readAll,
  },
  'multiaccount_import (AccountList)': {
    command: 'im_open_login_svc/multiaccount_import',
    typed: () => ({ Accounts: null, AccountList: [{ UserID: 'u3', Nick: null, FaceUrl: null }] }),
    minimal: () => ({ AccountList: [{ UserID: 'u3' }] }),
    effect: readAll,
  },
  account_check: {
    command: 'im_open_login_svc/account_check',
    typed: () => ({ CheckItem: [{ UserID: 'u1' }, { UserID: 'nobody' }] }),
    minimal: () => ({ CheckItem: [{ UserID: 'u1' }, { UserID: 'nobody' }] }),
  },
  account_delete: {
    command: 'im_open_login_svc/account_delete',
    typed: () => ({ DeleteItem: [{ UserID: 'u2' }, { UserID: 'nobody' }] }),
    minimal: () => ({ DeleteItem: [{ UserID: 'u2' }, { UserID: 'nobody' }] }),
    effect: readAll,
  },
  kick: {
    command: 'im_open_login_svc/kick',
    typed: () => ({ UserID: 'u1' }),
    minimal: () => ({ UserID: 'u1' }),
  },
  query_online_status: {
    command: 'openim/query_online_status',
    typed: () => ({ To_Account: ['u1', 'nobody'], IsNeedDetail: null }),
    minimal: () => ({ To_Account: ['u1', 'nobody'] }),
  },
  im_set_attr_name: {
    command: 'all_member_push/im_set_attr_name',
    typed: () => ({ AttrNames: { '2': 'level' } }),
    minimal: () => ({ AttrNames: { '2': 'level' } }),
    effect: readAll,
  },
  im_get_attr_name: {
    command: 'all_member_push/im_get_attr_name',
    typed: () => ({}),
    minimal: () => ({}),
  },
  im_get_attr: {
    command: 'all_member_push/im_get_attr',
    typed: () => ({ To_Account: ['u1', 'u2', 'nobody'] }),
    minimal: () => ({ To_Account: ['u1', 'u2', 'nobody'] }),
  },
  im_set_attr: {
    command: 'all_member_push/im_set_attr',
    typed: () => ({ UserAttrs: [{ To_Account: 'u2', Attrs: { city: 'SZ' } }] }),
    minimal: () => ({ UserAttrs: [{ To_Account: 'u2', Attrs: { city: 'SZ' } }] }),
    effect: readAll,
  },
  im_remove_attr: {
    command: 'all_member_push/im_remove_attr',
    typed: () => ({ UserAttrs: [{ To_Account: 'u1', Attrs: ['sex'] }] }),
    minimal: () => ({ UserAttrs: [{ To_Account: 'u1', Attrs: ['sex'] }] }),
    effect: readAll,
  },
  im_get_tag: {
    command: 'all_member_push/im_get_tag',
    typed: () => ({ To_Account: ['u1', 'nobody'] }),
    minimal: () => ({ To_Account: ['u1', 'nobody'] }),
  },
  im_add_tag: {
    command: 'all_member_push/im_add_tag',
    typed: () => ({ UserTags: [{ To_Account: 'u2', Tags: ['beta'] }] }),
    minimal: () => ({ UserTags: [{ To_Account: 'u2', Tags: ['beta'] }] }),
    effect: readAll,
  },
  im_remove_tag: {
    command: 'all_member_push/im_remove_tag',
    typed: () => ({ UserTags: [{ To_Account: 'u1', Tags: ['vip'] }] }),
    minimal: () => ({ UserTags: [{ To_Account: 'u1', Tags: ['vip'] }] }),
    effect: readAll,
  },
  im_remove_all_tags: {
    command: 'all_member_push/im_remove_all_tags',
    typed: () => ({ To_Account: ['u1'] }),
    minimal: () => ({ To_Account: ['u1'] }),
    effect: readAll,
  },
  'im_push by tag': {
    command: 'all_member_push/im_push',
    typed: () => ({
      From_Account: null,
      MsgRandom: random++,
      MsgLifeTime: null,
      Condition: typedCondition({ TagsOr: ['vip'] }),
      MsgBody: text('vip only'),
      OfflinePushInfo: typedOffline,
    }),
    minimal: () => ({
      MsgRandom: random++,
      Condition: { TagsOr: ['vip'] },
      MsgBody: text('vip only'),
      OfflinePushInfo: minimalOffline,
    }),
    effect: pushEffect,
  },
  'im_push by attribute': {
    command: 'all_member_push/im_push',
    typed: () => ({
      From_Account: 'shop',
      MsgRandom: random++,
      MsgLifeTime: 600,
      Condition: typedCondition({ AttrsAnd: { sex: 'f' } }),
      MsgBody: text('for her'),
      OfflinePushInfo: null,
    }),
    minimal: () => ({
      From_Account: 'shop',
      MsgRandom: random++,
      MsgLifeTime: 600,
      Condition: { AttrsAnd: { sex: 'f' } },
      MsgBody: text('for her'),
    }),
    effect: pushEffect,
  },
  'im_push to everyone, every element with its optional fields null': {
    command: 'all_member_push/im_push',
    typed: () => ({
      From_Account: null,
      MsgRandom: random++,
      MsgLifeTime: 60,
      Condition: typedCondition({}),
      MsgBody: [
        { MsgType: 'TIMCustomElem', MsgContent: { Data: 'd', Desc: null, Ext: null, Sound: null } },
        { MsgType: 'TIMLocationElem', MsgContent: { Desc: null, Latitude: 22.5, Longitude: 113.9 } },
        { MsgType: 'TIMFaceElem', MsgContent: { Index: 1, Data: null } },
        {
          MsgType: 'TIMSoundElem',
          MsgContent: {
            Url: 'https://x.test/a.mp3',
            Size: null,
            Second: null,
            UUID: null,
            Download_Flag: null,
          },
        },
        {
          MsgType: 'TIMImageElem',
          MsgContent: {
            UUID: null,
            ImageFormat: null,
            ImageInfoArray: [{ Type: 1, Size: null, Width: null, Height: null, URL: 'https://x.test/a.png' }],
          },
        },
        {
          MsgType: 'TIMFileElem',
          MsgContent: { Url: 'https://x.test/f', FileSize: null, FileName: null, UUID: null },
        },
        {
          MsgType: 'TIMVideoFileElem',
          MsgContent: { VideoUrl: 'https://x.test/v', VideoSecond: null, ThumbUrl: null },
        },
      ],
      OfflinePushInfo: {
        PushFlag: null,
        Title: null,
        Desc: null,
        Ext: null,
        AndroidInfo: null,
        ApnsInfo: null,
      },
    }),
    minimal: () => ({
      MsgRandom: random++,
      MsgLifeTime: 60,
      MsgBody: [
        { MsgType: 'TIMCustomElem', MsgContent: { Data: 'd' } },
        { MsgType: 'TIMLocationElem', MsgContent: { Latitude: 22.5, Longitude: 113.9 } },
        { MsgType: 'TIMFaceElem', MsgContent: { Index: 1 } },
        { MsgType: 'TIMSoundElem', MsgContent: { Url: 'https://x.test/a.mp3' } },
        {
          MsgType: 'TIMImageElem',
          MsgContent: { ImageInfoArray: [{ Type: 1, URL: 'https://x.test/a.png' }] },
        },
        { MsgType: 'TIMFileElem', MsgContent: { Url: 'https://x.test/f' } },
        { MsgType: 'TIMVideoFileElem', MsgContent: { VideoUrl: 'https://x.test/v' } },
      ],
      OfflinePushInfo: {},
    }),
    effect: pushEffect,
  },
  im_get_push_report: {
    command: 'all_member_push/im_get_push_report',
    typed: (w) => ({ TaskIds: [w.taskId] }),
    minimal: (w) => ({ TaskIds: [w.taskId] }),
  },
  revoke: {
    command: 'timpush/revoke',
    typed: (w) => ({ TaskId: w.taskId, OfflinePushInfo: null }),
    minimal: (w) => ({ TaskId: w.taskId }),
    // The recall runs in the push's workflow after the command answers: wait for it rather than read once.
    effect: async (w) =>
      (
        await waitFor(
          async () => (await w.v1<{ recalledAt: string | null }>('GET', `/v1/pushes/${w.taskId}`)).body,
          (b) => b.recalledAt !== null,
          15_000,
          `push ${w.taskId} recalled`,
        )
      ).recalledAt
        ? 'recalled'
        : 'not',
  },
};

/** What differs between two worlds however the request was written: ids and times. */
const stable = (b: Body, w: World) =>
  JSON.parse(
    JSON.stringify(b)
      .replaceAll(w.taskId, '<seed>')
      .replace(/"TaskId":"[^"]+"/g, '"TaskId":"<id>"')
      .replace(/"StartTime":\d+/g, '"StartTime":0'),
  );

describe('each command, typed (nulls for unset keys) and minimal: the same answer and effect', () => {
  it.each(Object.keys(CASES))('%s', async (name) => {
    const c = CASES[name] as Case;
    const [a, b] = await Promise.all([world(), world()]);
    const typed = await a.v4(c.command, c.typed(a));
    const minimal = await b.v4(c.command, c.minimal(b));
    expect(typed, JSON.stringify(typed)).toMatchObject({ ActionStatus: 'OK', ErrorCode: 0 });
    expect(stable(typed, a)).toEqual(stable(minimal, b));
    if (c.effect) expect(await c.effect(a, typed)).toEqual(await c.effect(b, minimal));
  });
});

describe('the issue’s request: a Go SDK’s push by tag', () => {
  it('Condition with TagsAnd, AttrsAnd and AttrsOr null is a push by TagsOr, not 90010', async () => {
    const w = await world();
    const r = await w.v4('all_member_push/im_push', {
      MsgRandom: 4242,
      MsgLifeTime: 3600,
      Condition: { TagsAnd: null, TagsOr: ['vip'], AttrsAnd: null, AttrsOr: null },
      MsgBody: text('vip sale'),
    });
    expect(r).toMatchObject({ ActionStatus: 'OK', ErrorCode: 0, TaskId: expect.any(String) });
    const p = await nativePush(w, r.TaskId as string);
    expect(p.audience).toEqual({ TagsOr: ['vip'] });
    expect(p.recipients).toBe(1);
  });
});

describe('a required field sent as null is the same error as a missing one', () => {
  const required: [string, string, Record<string, unknown>, string][] = [
    ['account_import', 'im_open_login_svc/account_import', { Nick: 'n' }, 'UserID'],
    ['multiaccount_import', 'im_open_login_svc/multiaccount_import', {}, 'Accounts'],
    ['account_check', 'im_open_login_svc/account_check', {}, 'CheckItem'],
    ['account_delete', 'im_open_login_svc/account_delete', {}, 'DeleteItem'],
    ['kick', 'im_open_login_svc/kick', {}, 'UserID'],
    ['query_online_status', 'openim/query_online_status', { IsNeedDetail: 1 }, 'To_Account'],
    ['im_set_attr_name', 'all_member_push/im_set_attr_name', {}, 'AttrNames'],
    ['im_get_attr', 'all_member_push/im_get_attr', {}, 'To_Account'],
    ['im_set_attr', 'all_member_push/im_set_attr', {}, 'UserAttrs'],
    ['im_get_tag', 'all_member_push/im_get_tag', {}, 'To_Account'],
    ['im_add_tag', 'all_member_push/im_add_tag', {}, 'UserTags'],
    ['im_remove_all_tags', 'all_member_push/im_remove_all_tags', {}, 'To_Account'],
    ['im_push MsgRandom', 'all_member_push/im_push', { MsgBody: text('x') }, 'MsgRandom'],
    ['im_push MsgBody', 'all_member_push/im_push', { MsgRandom: 5 }, 'MsgBody'],
    [
      'im_push Text',
      'all_member_push/im_push',
      { MsgRandom: 6, MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: {} }] },
      '',
    ],
    ['im_get_push_report', 'all_member_push/im_get_push_report', {}, 'TaskIds'],
    ['revoke', 'timpush/revoke', {}, 'TaskId'],
  ];
  it.each(required)('%s', async (_name, command, rest, key) => {
    const w = await world();
    const missing = await w.v4(command, rest);
    const nulled = await w.v4(
      command,
      key
        ? { ...rest, [key]: null }
        : { ...rest, MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: null } }] },
    );
    expect(missing.ActionStatus).toBe('FAIL');
    expect(nulled).toEqual(missing);
  });

  it('a null inside a list or as an attribute value stays a bad value', async () => {
    const w = await world();
    expect(await w.v4('all_member_push/im_get_tag', { To_Account: ['u1', null] })).toMatchObject({
      ErrorCode: 90010,
    });
    expect(
      await w.v4('all_member_push/im_set_attr', { UserAttrs: [{ To_Account: 'u1', Attrs: { sex: null } }] }),
    ).toMatchObject({ ActionStatus: 'FAIL', ErrorCode: 90033 });
    expect(
      await w.v4('all_member_push/im_push', {
        MsgRandom: 7,
        MsgBody: text('x'),
        Condition: { AttrsAnd: { sex: null } },
      }),
    ).toMatchObject({ ActionStatus: 'FAIL', ErrorCode: 90033 });
  });
});
