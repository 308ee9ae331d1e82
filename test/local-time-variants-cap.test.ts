import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import { type FakeFcm, fakeFcmToken } from '../fakes/fcm.ts';
import { type FakesStack, startStackWithFakes } from './support/fakes-stack.ts';
import { client, type TestStack, waitFor } from './support/stack.ts';
import { type Frame, TestSocket } from './support/ws.ts';

// The three features of a push together, on the real stack: a local-time push in two waves (Tokyo's time has
// passed and goes at once, Kolkata's comes a few seconds later) with language variants, under the app's
// frequency cap. Each recipient gets its language's variant in its own wave (live, on sync and through FCM),
// the cap leaves out an account already at it when its wave is snapshotted, and the push then counts against
// the cap for every recipient, whichever wave took it.

let fakes: FakesStack;
let stack: TestStack;
let fcm: FakeFcm;
let app: CreatedApp;
let api: ReturnType<typeof client>;
const sockets: TestSocket[] = [];

type Push = {
  id: string;
  status: string;
  snapshotAt: string | null;
  counters: {
    audience: number;
    capped: number;
    languages: Record<string, number>;
    deliveredOnline: number;
    fcm: { sent: number };
  };
  waves: { offset: string; status: string; audience: number; sentAt: string | null }[] | null;
};

const text = (t: string) => ({ elements: [{ type: 'text', text: t }] });

beforeAll(async () => {
  fakes = await startStackWithFakes({ topic: 'com.example.waves', projectId: 'herald-waves' });
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

async function connect(accountId: string): Promise<TestSocket> {
  const minted = await api<{ token: string }>('POST', `/v1/accounts/${accountId}/token`, { ttlSeconds: 600 });
  const socket = await TestSocket.open(stack.wsUrl, minted.body.token);
  sockets.push(socket);
  await socket.synced();
  return socket;
}

const view = (id: string) => api<Push>('GET', `/v1/pushes/${id}`).then((r) => r.body);

describe('a local-time push with language variants under the frequency cap', () => {
  it('gives each zone its wave and each recipient its variant; the cap skips per wave and counts the push once per recipient', async () => {
    // At most one capped push per account per day. `k-full` gets one first: it is at the cap.
    expect(
      (await api('PATCH', '/v1/apps/current', { frequencyCap: { max: 1, windowHours: 24 } })).status,
    ).toBe(200);
    await api('POST', '/v1/accounts', {
      accounts: [{ id: 'k-full', language: 'ja', timezone: 'Asia/Kolkata' }],
    });
    const earlier = await api<Push>('POST', '/v1/pushes', { message: text('earlier') });
    await waitFor(
      () => view(earlier.body.id),
      (p) => p.snapshotAt !== null,
      30_000,
      'earlier snapshot',
    );

    await api('POST', '/v1/accounts', {
      accounts: [
        { id: 't-ja', language: 'ja', timezone: 'Asia/Tokyo' }, // +09:00: online
        { id: 't-none', timezone: 'Asia/Tokyo' }, // no language: the default, offline through FCM
        { id: 'k-hi', language: 'hi-IN', timezone: 'Asia/Kolkata' }, // +05:30: online
        { id: 'k-ja', language: 'ja-JP', timezone: 'Asia/Kolkata' }, // offline through FCM
      ],
    });
    const tokens = { tNone: fakeFcmToken(), kJa: fakeFcmToken(), kFull: fakeFcmToken() };
    for (const [id, token] of [
      ['t-none', tokens.tNone],
      ['k-ja', tokens.kJa],
      ['k-full', tokens.kFull],
    ] as const)
      await api('PUT', `/v1/accounts/${id}/devices/fcm/${encodeURIComponent(token)}`, {});
    const tokyo = await connect('t-ja');
    const kolkata = await connect('k-hi');

    // A wall-clock time that comes in Kolkata 4 s from now; in Tokyo it passed 3.5 hours ago (sent at once).
    const due = new Date(Math.floor((Date.now() + 4000) / 1000) * 1000);
    const localTime = new Date(due.getTime() + 5.5 * 3600_000).toISOString().slice(0, 19);
    const created = await api<Push>('POST', '/v1/pushes', {
      message: text('good morning'),
      offline: { title: 'Morning' },
      localized: {
        ja: { elements: [{ type: 'text', text: 'おはよう' }], offline: { title: '朝' } },
        hi: text('सुप्रभात'),
      },
      sendAt: { localTime },
      pastZones: 'send',
      retentionSeconds: 600,
    });
    expect(created.status).toBe(201);
    const id = created.body.id;

    // Tokyo's wave, in Japanese; Kolkata's socket hears nothing before its own wave, then Hindi.
    const inTokyo = await tokyo.until('the Tokyo wave', () => tokyo.messages().find((m) => m.pushId === id));
    expect(inTokyo).toMatchObject({ elements: [{ type: 'text', text: 'おはよう' }], language: 'ja' });
    expect(kolkata.messages().filter((m) => m.pushId === id)).toEqual([]);
    const inKolkata = await kolkata.until(
      'the Kolkata wave',
      () => kolkata.messages().find((m) => m.pushId === id),
      15_000,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(due.getTime());
    expect(inKolkata).toMatchObject({ elements: [{ type: 'text', text: 'सुप्रभात' }], language: 'hi' });

    const done = await waitFor(
      () => view(id),
      (p) => p.waves?.every((w) => w.status === 'sent') === true && p.counters.fcm.sent === 2,
      30_000,
      'both waves sent and notified',
    );
    // Per wave: Tokyo took both its accounts; Kolkata took two of three, the cap left out k-full.
    expect(done.waves?.map((w) => [w.offset, w.audience])).toEqual([
      ['+09:00', 2],
      ['+05:30', 2],
    ]);
    expect(done.counters).toMatchObject({
      audience: 4,
      capped: 1,
      deliveredOnline: 2,
      languages: { default: 1, ja: 2, hi: 1 },
    });

    // Offline recipients were notified in their variant by their own wave's pages; k-full got nothing of it.
    const shown = (token: string) =>
      fcm.received
        .filter((r) => r.token === token)
        .map((r) => (r.message as { notification?: { title?: string; body?: string } }).notification);
    expect(shown(tokens.tNone)).toEqual([{ title: 'Morning', body: 'good morning' }]);
    expect(shown(tokens.kJa)).toEqual([{ title: '朝', body: 'おはよう' }]);
    expect(shown(tokens.kFull).some((n) => n?.body === 'おはよう' || n?.body === 'good morning')).toBe(false);

    // A stored copy is synced in its variant too.
    const late = await connect('k-ja');
    const synced: Frame = await late.until('the stored copy', () =>
      late.messages().find((m) => m.pushId === id),
    );
    expect(synced).toMatchObject({ elements: [{ type: 'text', text: 'おはよう' }], language: 'ja' });

    // The local-time push counts against the cap for each of its four recipients (k-full's earlier push for
    // it): the next capped push reaches nobody, and an uncapped one reaches everyone.
    const next = await api<Push>('POST', '/v1/pushes', { message: text('again') });
    const capped = await waitFor(
      () => view(next.body.id),
      (p) => p.snapshotAt !== null,
      30_000,
      'next',
    );
    expect(capped.counters).toMatchObject({ audience: 0, capped: 5 });
    const alert = await api<Push>('POST', '/v1/pushes', { message: text('alert'), capped: false });
    const uncapped = await waitFor(
      () => view(alert.body.id),
      (p) => p.snapshotAt !== null,
      30_000,
      'alert',
    );
    expect(uncapped.counters).toMatchObject({ audience: 5, capped: 0 });
  });
});
