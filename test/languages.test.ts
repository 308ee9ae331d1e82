import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalLanguage } from '../core/languages.ts';
import type { CreatedApp } from '../db/apps.ts';
import type { LocalizedVariant } from '../db/schema.ts';
import { type FakeFcm, fakeFcmToken } from '../fakes/fcm.ts';
import { variantExpression } from '../pushes/localized.ts';
import { type FakesStack, startStackWithFakes } from './support/fakes-stack.ts';
import { oracleVariant } from './support/language-oracle.ts';
import { client, type TestStack, waitFor } from './support/stack.ts';
import { type Frame, TestSocket } from './support/ws.ts';

// Language variants end to end: accounts' languages set by import, PATCH and the connect URL; one push with
// variants; each recipient gets its best match live, on sync and through FCM (the real client against the fake).

let fakes: FakesStack;
let stack: TestStack;
let fcm: FakeFcm;
let app: CreatedApp;
let api: ReturnType<typeof client>;
const sockets: TestSocket[] = [];

type Push = {
  id: string;
  status: string;
  localized: Record<string, unknown> | null;
  counters: { audience: number; languages: Record<string, number>; fcm: { sent: number } };
};
type Account = { id: string; language: string | null };

const text = (t: string) => ({ elements: [{ type: 'text', text: t }] });

beforeAll(async () => {
  fakes = await startStackWithFakes({ topic: 'com.example.lang', projectId: 'herald-lang' });
  ({ stack, fcm } = fakes);
  app = await stack.newApp();
  api = client(stack.url, app.apiKey);
  const sa = fakes.serviceAccount.credentials(fcm.tokenUri).serviceAccount;
  expect((await api('PUT', '/v1/apps/current/credentials/fcm', { serviceAccount: sa })).status).toBe(200);
});

afterAll(async () => {
  for (const s of sockets) await s.close();
  await fakes?.stop();
});

async function connect(accountId: string, query = ''): Promise<TestSocket> {
  const minted = await api<{ token: string }>('POST', `/v1/accounts/${accountId}/token`, { ttlSeconds: 600 });
  const socket = await TestSocket.open(`${stack.wsUrl}${query}`, minted.body.token);
  sockets.push(socket);
  return socket;
}

describe('the variant rule, in the snapshot’s SQL', () => {
  it('picks the exact tag, then the longest prefix at a subtag boundary, then the default', async () => {
    const pick = async (variants: string[], languages: (string | null)[]) => {
      const stored = variants.map((language): LocalizedVariant => ({ language, elements: [] }));
      const rows = await stack.database.db.execute<{ i: number; variant: number }>(sql`
        select a.i::int as i, ${variantExpression(stored, sql`a.language`)} as variant
        from jsonb_to_recordset(${JSON.stringify(languages.map((language, i) => ({ i, language })))}::jsonb)
          as a(i int, language text)
        order by a.i`);
      return rows.map((r) => r.variant);
    };
    const variants = ['zh-Hant', 'zh', 'en', 'pt-BR'];
    expect(
      await pick(variants, [
        'zh-Hant-TW',
        'zh-Hant',
        'zh-CN',
        'zh',
        'en-GB',
        'pt-BR',
        'pt-PT',
        'pt',
        'fr',
        null,
      ]),
    ).toEqual([1, 1, 2, 2, 3, 4, 0, 0, 0, 0]);
    // `zh-Hans` is not a prefix of `zh-Hant-TW`, nor `e` of `en` (subtags, not characters).
    expect(await pick(['zh-Hans', 'zh-Hant-TW'], ['zh-Hant', 'zh-Hant-TW-u-ca-roc'])).toEqual([0, 2]);

    const subtags = ['zh', 'en', 'Hant', 'Hans', 'TW', 'CN', 'US', 'GB', 'Latn', 'u-ca-roc'];
    const tag = fc
      .array(fc.constantFrom(...subtags), { minLength: 0, maxLength: 3 })
      .chain((rest) => fc.constantFrom('zh', 'en', 'pt').map((first) => [first, ...rest].join('-')))
      .map(canonicalLanguage)
      .filter((t): t is string => t !== undefined);
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(tag, { minLength: 1, maxLength: 6 }),
        fc.array(fc.option(tag, { nil: null }), { minLength: 1, maxLength: 20 }),
        async (vs, langs) => {
          expect(await pick(vs, langs)).toEqual(langs.map((l) => oracleVariant(l, vs)));
        },
      ),
      { numRuns: 60, seed: 20260514 },
    );
  });
});

describe('a push with language variants', () => {
  const variants = {
    'ZH-hant': { elements: [{ type: 'text', text: '繁體' }], offline: { title: '標題' } },
    zh: { elements: [{ type: 'text', text: '简体' }] },
    en: { elements: [{ type: 'text', text: 'English' }], offline: { push: false } },
  };
  let pushId: string;
  let live: TestSocket;
  const tokens = { tw: fakeFcmToken(), cn: fakeFcmToken(), fr: fakeFcmToken(), en: fakeFcmToken() };

  it('sets accounts’ languages by import, PATCH and the connect URL, canonical', async () => {
    const imported = await api('POST', '/v1/accounts', {
      accounts: [
        { id: 'tw', language: 'zh-hant-tw' },
        { id: 'cn', language: 'zh-CN' },
        { id: 'en', language: 'en-US' },
        { id: 'fr', language: 'fr' },
        { id: 'none' },
        { id: 'hk' },
        { id: 'late', language: 'de' },
      ],
    });
    expect(imported.status).toBe(200);
    const patched = await api<Account>('PATCH', '/v1/accounts/hk', { language: 'zh-Hant-HK' });
    expect(patched.body).toMatchObject({ id: 'hk', language: 'zh-Hant-HK' });
    // A re-import without `language` keeps it; a PATCH with null clears it; another sets it again.
    await api('POST', '/v1/accounts', { accounts: [{ id: 'tw', nick: 'Mei' }] });
    expect((await api<Account>('GET', '/v1/accounts/tw')).body.language).toBe('zh-Hant-TW');
    expect((await api<Account>('PATCH', '/v1/accounts/late', { language: null })).body.language).toBeNull();
    expect((await api<Account>('PATCH', '/v1/accounts/late', { language: 'en-au' })).body.language).toBe(
      'en-AU',
    );

    for (const [id, token] of Object.entries(tokens))
      await api('PUT', `/v1/accounts/${id}/devices/fcm/${encodeURIComponent(token)}`, {});

    // The SDK's `language` option: the connect URL's parameter, which the account takes.
    live = await connect('ws', '?language=zh-hant-tw');
    await live.synced();
    expect((await api<Account>('GET', '/v1/accounts/ws')).body.language).toBe('zh-Hant-TW');
  });

  it('refuses what is not a language tag, saying where', async () => {
    const bad = await api<{ error: { code: string; message: string } }>('POST', '/v1/accounts', {
      accounts: [{ id: 'ok' }, { id: 'x', language: 'en_US' }],
    });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    expect(bad.body.error.message).toBe(
      'accounts[1].language: must be a BCP 47 language tag, e.g. "en", "zh-CN" or "zh-Hant-TW"',
    );
    expect((await api('GET', '/v1/accounts/ok')).status).toBe(404);
    const patch = await api('PATCH', '/v1/accounts/tw', { language: 'x'.repeat(40) });
    expect(patch).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    expect((await api('PATCH', '/v1/accounts/nobody', { language: 'en' })).status).toBe(404);

    const refused = await connect('ws2', '?language=not_a_tag');
    expect(await refused.closedWith()).toMatchObject({
      code: 4400,
      reason: expect.stringMatching(/^invalid_language/),
    });

    const push = (localized: unknown) =>
      api<{ error: { code: string; message: string } }>('POST', '/v1/pushes', {
        message: text('x'),
        localized,
      });
    const cases: [unknown, string][] = [
      [{ en_US: text('x') }, 'localized.en_US: must be a BCP 47 language tag'],
      [{ 'en-US': text('x'), 'en-us': text('y') }, 'localized.en-us: is the same language as "en-US"'],
      [{ default: text('x') }, 'localized.default: the default variant is the push’s own'],
      [{ en: { elements: [] } }, 'localized.en.elements: a message needs at least one element'],
      [{ en: { ...text('x'), offline: { badge: -1 } } }, 'localized.en.offline.badge'],
    ];
    for (const [localized, message] of cases) {
      const r = await push(localized);
      expect(r.status, message).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
      expect(r.body.error.message).toContain(message);
    }
  });

  it('gives each recipient its best match, live, on sync and in its notification', async () => {
    const created = await api<Push>('POST', '/v1/pushes', {
      message: text('Default'),
      offline: { title: 'Title' },
      localized: variants,
      retentionSeconds: 300,
    });
    expect(created.status).toBe(201);
    pushId = created.body.id;
    expect(Object.keys(created.body.localized ?? {})).toEqual(['zh-Hant', 'zh', 'en']);

    const frame = await live.until('the live message', () =>
      live.messages().find((m) => m.pushId === pushId),
    );
    expect(frame).toMatchObject({ elements: [{ type: 'text', text: '繁體' }], language: 'zh-Hant' });

    const done = await waitFor(
      () => api<Push>('GET', `/v1/pushes/${pushId}`).then((r) => r.body),
      (p) => p.status === 'completed',
      30_000,
      'completed',
    );
    // tw, hk, ws → zh-Hant; cn → zh; en, late → en; fr, none → the default.
    expect(done.counters.audience).toBe(8);
    expect(done.counters.languages).toEqual({ default: 2, 'zh-Hant': 3, zh: 1, en: 2 });

    // Offline with a device: tw (zh-Hant, its own title), cn (zh, the push's title), fr (the default); en's
    // variant sends no notification.
    expect(done.counters.fcm.sent).toBe(3);
    const shown = (token: string) => {
      const m = fcm.received.find((r) => r.token === token)?.message as
        | { notification?: { title?: string; body?: string } }
        | undefined;
      return m?.notification;
    };
    expect(shown(tokens.tw)).toEqual({ title: '標題', body: '繁體' });
    expect(shown(tokens.cn)).toEqual({ title: 'Title', body: '简体' });
    expect(shown(tokens.fr)).toEqual({ title: 'Title', body: 'Default' });
    expect(shown(tokens.en)).toBeUndefined();

    // Stored copies are synced in the recipient's variant too.
    for (const [id, text, language] of [
      ['late', 'English', 'en'],
      ['none', 'Default', null],
      ['cn', '简体', 'zh'],
    ] as const) {
      const s = await connect(id);
      const m: Frame = await s.until('the stored copy', () => s.messages().find((f) => f.pushId === pushId));
      expect(m).toMatchObject({ elements: [{ type: 'text', text }], language });
    }
  });

  it('a push without variants is the default for everyone', async () => {
    const plain = await api<Push>('POST', '/v1/pushes', { message: text('plain') });
    expect(plain.body.localized).toBeNull();
    const m = await live.until('the plain message', () =>
      live.messages().find((f) => f.pushId === plain.body.id),
    );
    expect(m).toMatchObject({ elements: [{ type: 'text', text: 'plain' }], language: null });
    const done = await waitFor(
      () => api<Push>('GET', `/v1/pushes/${plain.body.id}`).then((r) => r.body),
      (p) => p.status === 'completed',
      30_000,
      'completed',
    );
    expect(done.counters.languages).toEqual({ default: done.counters.audience });
  });

  it('a campaign step carries variants into its push', async () => {
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const created = await api<{ id: string; steps: { push: Push }[] }>('POST', '/v1/campaigns', {
      name: 'lang',
      steps: [{ at, message: text('later'), localized: { 'pt-br': text('depois') } }],
    });
    expect(created.status).toBe(201);
    expect(created.body.steps[0]?.push.localized).toEqual({ 'pt-BR': text('depois') });
    await api('POST', `/v1/campaigns/${created.body.id}/cancel`);
  });
});
