/**
 * The "done when": a script written for Tencent Cloud IM's REST API runs unchanged against Herald.
 * `tencentScript` below is such a script — plain fetch, Tencent's own signer (tls-sig-api-v2), a base URL,
 * nothing of Herald — and the test only gives it Herald's address, SDKAppID and secret key.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';

// ————————————————————————— the Tencent script (no Herald code below this line until the test) —————————————————————————

interface ScriptConfig {
  /** https://console.tim.qq.com for Tencent; Herald's address here. */
  baseUrl: string;
  sdkAppId: number;
  secretKey: string;
  admin: string;
}

async function tencentScript(cfg: ScriptConfig) {
  const TLSSigAPIv2 = createRequire(import.meta.url)('tls-sig-api-v2') as {
    Api: new (sdkAppId: number, key: string) => { genUserSig(id: string, expire: number): string };
  };
  const api = new TLSSigAPIv2.Api(cfg.sdkAppId, cfg.secretKey);
  const adminSig = api.genUserSig(cfg.admin, 86400 * 180);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  async function rest(path: string, body: object) {
    const url =
      `${cfg.baseUrl}/v4/${path}?sdkappid=${cfg.sdkAppId}&identifier=${cfg.admin}` +
      `&usersig=${adminSig}&random=${Math.floor(Math.random() * 4294967295)}&contenttype=json`;
    const res = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
    const json = (await res.json()) as {
      ActionStatus: string;
      ErrorCode: number;
      ErrorInfo: string;
    } & Record<string, unknown>;
    if (json.ActionStatus !== 'OK') throw new Error(`${path}: ${json.ErrorCode} ${json.ErrorInfo}`);
    return json;
  }

  // Accounts.
  await rest('im_open_login_svc/account_import', {
    UserID: 'u7',
    Nick: 'Seven',
    FaceUrl: 'https://x.y/7.png',
  });
  const imported = await rest('im_open_login_svc/multiaccount_import', {
    Accounts: ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'],
  });

  // Attributes: names first, then values.
  await rest('all_member_push/im_set_attr_name', { AttrNames: { '0': 'city', '1': 'level' } });
  const attrNames = await rest('all_member_push/im_get_attr_name', {});
  await rest('all_member_push/im_set_attr', {
    UserAttrs: [
      { To_Account: 'u1', Attrs: { city: 'Shenzhen', level: '3' } },
      { To_Account: 'u2', Attrs: { city: 'Shenzhen' } },
      { To_Account: 'u3', Attrs: { city: 'Beijing' } },
    ],
  });
  const attrs = await rest('all_member_push/im_get_attr', { To_Account: ['u1', 'u3'] });

  // Tags.
  await rest('all_member_push/im_add_tag', {
    UserTags: [
      { To_Account: 'u1', Tags: ['vip'] },
      { To_Account: 'u4', Tags: ['vip'] },
      { To_Account: 'u5', Tags: ['vip', 'beta'] },
      { To_Account: 'u6', Tags: ['beta'] },
    ],
  });
  await rest('all_member_push/im_remove_tag', { UserTags: [{ To_Account: 'u6', Tags: ['beta'] }] });
  const tags = await rest('all_member_push/im_get_tag', { To_Account: ['u1', 'u5', 'u6'] });

  // Push by tag, then by attribute (pushes must be more than 1 s apart).
  const byTag = await rest('all_member_push/im_push', {
    From_Account: cfg.admin,
    MsgRandom: Math.floor(Math.random() * 4294967295),
    MsgLifeTime: 3600,
    Condition: { TagsOr: ['vip'] },
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'VIP sale tonight' } }],
    OfflinePushInfo: { PushFlag: 0, Title: 'Sale', Desc: 'VIP sale tonight', Ext: '{"sale":1}' },
  });
  await sleep(1100);
  const byAttr = await rest('all_member_push/im_push', {
    MsgRandom: Math.floor(Math.random() * 4294967295),
    MsgLifeTime: 0,
    Condition: { AttrsAnd: { city: 'Shenzhen' } },
    MsgBody: [
      { MsgType: 'TIMCustomElem', MsgContent: { Data: '{"type":"weather"}', Desc: 'Rain in Shenzhen' } },
    ],
  });
  const taskIds = [byTag.TaskId as string, byAttr.TaskId as string];

  // Read the report until both are done.
  type Report = { TaskId: string; Status: number; StartTime: number; Finished: number; Total: number };
  let reports: Report[] = [];
  for (let i = 0; i < 60; i++) {
    reports = (await rest('all_member_push/im_get_push_report', { TaskIds: taskIds })).Reports as Report[];
    if (reports.length === 2 && reports.every((r) => r.Status === 2)) break;
    await sleep(500);
  }

  // Recall the first push.
  await rest('timpush/revoke', { TaskId: taskIds[0] });

  return { imported, attrNames, attrs, tags, taskIds, reports };
}

// ————————————————————————— the test —————————————————————————

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

it('a script written for Tencent’s API runs unchanged against Herald', async () => {
  // Tencent's defaults: 100 pushes a day, at least 1 s apart.
  const app = await stack.newApp({ dailyPushQuota: 100, minPushIntervalMs: 1000 });
  const out = await tencentScript({
    baseUrl: stack.url,
    sdkAppId: app.sdkAppId,
    secretKey: app.secretKey,
    admin: 'administrator',
  });

  expect(out.imported).toMatchObject({ FailAccounts: [] });
  expect(out.attrNames).toMatchObject({ AttrNames: { '0': 'city', '1': 'level' } });
  expect(out.attrs).toMatchObject({
    UserAttrs: [
      { To_Account: 'u1', Attrs: { city: 'Shenzhen', level: '3' } },
      { To_Account: 'u3', Attrs: { city: 'Beijing' } },
    ],
  });
  expect(out.tags).toMatchObject({
    UserTags: [
      { To_Account: 'u1', Tags: ['vip'] },
      { To_Account: 'u5', Tags: ['vip', 'beta'] },
      { To_Account: 'u6', Tags: [] },
    ],
  });
  const [byTag, byAttr] = out.taskIds;
  expect(out.reports).toEqual([
    { TaskId: byTag, Status: 2, StartTime: expect.any(Number), Finished: 3, Total: 3 },
    { TaskId: byAttr, Status: 2, StartTime: expect.any(Number), Finished: 2, Total: 2 },
  ]);

  // The same pushes, seen through Herald's native API: audiences, messages, the recall.
  const v1 = client(stack.url, app.apiKey);
  const tagPush = await waitFor(
    () =>
      v1<{ recalledAt: string | null; audience: unknown; retentionSeconds: number }>(
        'GET',
        `/v1/pushes/${byTag}`,
      ),
    (r) => r.body.recalledAt !== null,
    30_000,
    'the recall',
  );
  expect(tagPush.body).toMatchObject({ audience: { TagsOr: ['vip'] }, retentionSeconds: 3600 });
  const attrPush = await v1<{ audience: unknown; retentionSeconds: number; message: unknown }>(
    'GET',
    `/v1/pushes/${byAttr}`,
  );
  expect(attrPush.body).toMatchObject({
    audience: { AttrsAnd: { city: 'Shenzhen' } },
    retentionSeconds: 0,
    message: { elements: [{ type: 'custom', data: '{"type":"weather"}', desc: 'Rain in Shenzhen' }] },
  });
});
