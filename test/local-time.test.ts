import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalDelivery } from '../db/schema.ts';
import { zoneNames } from '../db/timezones.ts';
import { formatOffset, planWaves } from '../db/waves.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';
import { TestSocket } from './support/ws.ts';

// Local-time delivery and send windows: the wave plan PostgreSQL computes (fixed dates, so the expected
// moments are exact), then a push through the REST API on the real stack, with waves a few seconds apart.
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.stop());

const text = (t: string) => ({ elements: [{ type: 'text', text: t }] });

type Wave = {
  wave: number;
  offset: string;
  at: string;
  status: string;
  planned: number;
  sentAt: string | null;
  audience: number;
  deliveredOnline: number;
  storedOffline: number;
};
type Push = {
  id: string;
  status: string;
  workflowId: string;
  localTime: string | null;
  counters: { audience: number; deliveredOnline: number; storedOffline: number; skipped: number };
  waves: Wave[] | null;
};

/** An app whose accounts are in these zones (account id = `<zone>#<n>`), imported through the REST API. */
async function appIn(zones: Record<string, number>) {
  const app = await stack.newApp();
  const api = client(stack.url, app.apiKey);
  const accounts = Object.entries(zones).flatMap(([zone, n]) =>
    Array.from({ length: n }, (_, i) => ({ id: `${zone.split('/').at(-1)}-${i}`, timezone: zone })),
  );
  const imported = await api('POST', '/v1/accounts', { accounts });
  expect(imported.status).toBe(200);
  return { app, api };
}

/** The plan for an app's whole audience, as the push's first activity makes it. */
async function plan(appId: string, delivery: LocalDelivery, base: string, start: string) {
  const names = (await zoneNames(stack.database.db)).names;
  const waves = await planWaves(stack.database.db, {
    appId,
    names,
    delivery,
    base: new Date(base),
    start: new Date(start),
    audience: sql`true`,
  });
  return waves.map((w) => ({
    at: w.at.toISOString(),
    offset: formatOffset(w.offsetMinutes),
    skipped: w.skipped,
    planned: w.planned,
  }));
}

describe('the wave plan', () => {
  it('one wave per offset at the local time in each zone: half-hour offsets, a zone a day ahead, DST by date', async () => {
    const { app } = await appIn({
      'Asia/Kolkata': 2, // +05:30
      'Pacific/Kiritimati': 1, // +14:00: 09:00 on the 24th is 19:00 UTC on the 23rd
      'America/New_York': 3, // −05:00 in December, −04:00 in July
      'America/Toronto': 1, // the same offset as New York: the same wave
    });
    const december: LocalDelivery = {
      localTime: '2026-12-24T09:00',
      pastZones: 'skip',
      window: null,
      timezone: 'UTC',
    };
    expect(await plan(app.id, december, '2026-12-01T00:00:00Z', '2026-12-01T00:00:00Z')).toEqual([
      { at: '2026-12-23T19:00:00.000Z', offset: '+14:00', skipped: false, planned: 1 },
      { at: '2026-12-24T03:30:00.000Z', offset: '+05:30', skipped: false, planned: 2 },
      { at: '2026-12-24T14:00:00.000Z', offset: '-05:00', skipped: false, planned: 4 },
    ]);
    const july = { ...december, localTime: '2027-07-04T09:00' };
    expect((await plan(app.id, july, '2027-06-01T00:00:00Z', '2027-06-01T00:00:00Z')).at(-1)).toEqual({
      at: '2027-07-04T13:00:00.000Z',
      offset: '-04:00',
      skipped: false,
      planned: 4,
    });
  });

  it('zones where the local time has passed are skipped (the default) or sent at once', async () => {
    const { app } = await appIn({ 'Asia/Tokyo': 2, 'Europe/Paris': 1, 'America/Sao_Paulo': 1 });
    // 09:00 on the 24th has passed in Tokyo (00:00 UTC) at 06:00 UTC, not yet in Paris or São Paulo.
    const d: LocalDelivery = {
      localTime: '2026-12-24T09:00',
      pastZones: 'skip',
      window: null,
      timezone: 'UTC',
    };
    const start = '2026-12-24T06:00:00Z';
    expect(await plan(app.id, d, start, start)).toEqual([
      { at: '2026-12-24T00:00:00.000Z', offset: '+09:00', skipped: true, planned: 2 },
      { at: '2026-12-24T08:00:00.000Z', offset: '+01:00', skipped: false, planned: 1 },
      { at: '2026-12-24T12:00:00.000Z', offset: '-03:00', skipped: false, planned: 1 },
    ]);
    expect((await plan(app.id, { ...d, pastZones: 'send' }, start, start))[0]).toEqual({
      at: '2026-12-24T06:00:00.000Z',
      offset: '+09:00',
      skipped: false,
      planned: 2,
    });
  });

  it('a send window defers each zone outside it to the moment it opens there; accounts without a zone use the default', async () => {
    const app = await stack.newApp();
    const api = client(stack.url, app.apiKey);
    await api('POST', '/v1/accounts', {
      accounts: [
        { id: 'in-paris', timezone: 'Europe/Paris' },
        { id: 'in-la', timezone: 'America/Los_Angeles' },
        { id: 'in-kolkata', timezone: 'Asia/Kolkata' },
        { id: 'no-zone' },
      ],
    });
    // At 20:00 UTC: Paris 21:00 (inside 09:00–22:00), Los Angeles 12:00 (inside), Kolkata 01:30 (outside: opens
    // at 09:00 its time, 03:30 UTC the next day); no-zone is in the default zone, Asia/Tokyo, 05:00 (outside).
    const d: LocalDelivery = {
      pastZones: 'skip',
      window: { from: '09:00', to: '22:00' },
      timezone: 'Asia/Tokyo',
    };
    const base = '2026-12-10T20:00:00Z';
    expect(await plan(app.id, d, base, base)).toEqual([
      { at: '2026-12-10T20:00:00.000Z', offset: '+01:00', skipped: false, planned: 1 },
      { at: '2026-12-10T20:00:00.000Z', offset: '-08:00', skipped: false, planned: 1 },
      { at: '2026-12-11T00:00:00.000Z', offset: '+09:00', skipped: false, planned: 1 },
      { at: '2026-12-11T03:30:00.000Z', offset: '+05:30', skipped: false, planned: 1 },
    ]);
    // A window across midnight (22:00–06:00): Paris at 21:00 waits an hour; Kolkata at 01:30 is inside.
    const night = await plan(app.id, { ...d, window: { from: '22:00', to: '06:00' } }, base, base);
    expect(night.find((w) => w.offset === '+01:00')?.at).toBe('2026-12-10T21:00:00.000Z');
    expect(night.find((w) => w.offset === '+05:30')?.at).toBe('2026-12-10T20:00:00.000Z');
  });
});

describe('local-time pushes through the REST API', () => {
  it('sends each wave at its time, to its recipients only (online too), with counters per wave and in total', async () => {
    const { api } = await appIn({
      'Pacific/Kiritimati': 2, // +14:00: passed, sent at once
      'Asia/Tokyo': 1, // +09:00: passed, sent at once
      'Asia/Kolkata': 3, // +05:30: due 5 s after the push is created
      'America/New_York': 1, // −05:00: ten and a half hours later: still waiting when the push is canceled
    });
    const token = async (id: string) =>
      (await api<{ token: string }>('POST', `/v1/accounts/${id}/token`, { ttlSeconds: 600 })).body.token;
    const tokyo = await TestSocket.open(stack.wsUrl, await token('Tokyo-0'));
    const kolkata = await TestSocket.open(stack.wsUrl, await token('Kolkata-0'));
    await tokyo.frame('synced');
    await kolkata.frame('synced');
    // A wall-clock time that comes in Kolkata 5 s from now (seconds are allowed), taken just before the push is
    // created so the sockets' set-up on a loaded machine does not eat into it.
    const due = new Date(Math.floor((Date.now() + 5000) / 1000) * 1000);
    const localTime = new Date(due.getTime() + 5.5 * 3600_000).toISOString().slice(0, 19);

    const created = await api<Push>('POST', '/v1/pushes', {
      message: text('good morning'),
      sendAt: { localTime },
      pastZones: 'send',
      retentionSeconds: 3600,
    });
    expect(created.status).toBe(201);
    expect(created.body.localTime).toBe(localTime);
    const id = created.body.id;

    // Tokyo's wave was due at once; Kolkata's socket hears nothing before its own wave.
    const first = await tokyo.frame('message', (f) => f.pushId === id);
    expect(kolkata.messages()).toEqual([]);
    const inKolkata = await kolkata.frame('message', (f) => f.pushId === id, 15_000);
    expect(Date.now()).toBeGreaterThanOrEqual(due.getTime());
    expect(first).toBeDefined();
    expect(inKolkata).toBeDefined();

    const view = await waitFor(
      async () => (await api<Push>('GET', `/v1/pushes/${id}`)).body,
      (p) =>
        p.counters.deliveredOnline === 2 &&
        p.waves?.[1]?.deliveredOnline === 1 &&
        p.waves?.[2]?.deliveredOnline === 1,
      20_000,
      'three waves sent',
    );
    const waves = view.waves ?? [];
    expect(waves.map((w) => [w.offset, w.status, w.planned, w.audience])).toEqual([
      ['+14:00', 'sent', 2, 2],
      ['+09:00', 'sent', 1, 1],
      ['+05:30', 'sent', 3, 3],
      ['-05:00', 'waiting', 1, 0],
    ]);
    // The past zones went at the push's start; Kolkata's wave at its local time, not before.
    expect(Date.parse(waves[2]?.at ?? '')).toBe(due.getTime());
    expect(Date.parse(waves[2]?.sentAt ?? '')).toBeGreaterThanOrEqual(Date.parse(waves[2]?.at ?? ''));
    expect(Date.parse(waves[0]?.sentAt ?? '')).toBeLessThan(Date.parse(waves[2]?.at ?? ''));
    expect(waves.map((w) => [w.deliveredOnline, w.storedOffline])).toEqual([
      [0, 2],
      [1, 0],
      [1, 2],
      [0, 0],
    ]);
    expect(view.status).toBe('running');
    expect(view.counters).toMatchObject({ audience: 6, deliveredOnline: 2, storedOffline: 4, skipped: 0 });
    expect(Date.parse(waves[3]?.at ?? '') - due.getTime()).toBeGreaterThan(10 * 3600_000);

    // A cancel while New York's wave waits: it never goes; the copies already stored keep their retention.
    expect((await api('POST', `/v1/pushes/${id}/cancel`)).status).toBe(202);
    const canceled = await waitFor(
      async () => (await api<Push>('GET', `/v1/pushes/${id}`)).body,
      (p) => p.status === 'canceled' && p.waves?.[3]?.status === 'canceled',
      15_000,
      'the push canceled',
    );
    expect(canceled.counters.audience).toBe(6);
    // A stored copy of a sent wave is still synced on connect.
    const late = await TestSocket.open(stack.wsUrl, await token('Kiritimati-1'));
    await late.frame('message', (f) => f.pushId === id);
    for (const s of [tokyo, kolkata, late]) s.ws.close();
  });

  it('refuses what cannot be sent, with stable codes', async () => {
    const { api } = await appIn({ UTC: 1 });
    const bad = async (body: Record<string, unknown>) =>
      api<{ error: { code: string; message: string } }>('POST', '/v1/pushes', {
        message: text('x'),
        ...body,
      });
    expect((await bad({ sendAt: { localTime: '2020-01-01T09:00' } })).body.error).toMatchObject({
      code: 'time_in_past',
      message: expect.stringContaining('sendAt.localTime'),
    });
    expect((await bad({ sendAt: { localTime: '2026-02-30T09:00' } })).body.error.code).toBe(
      'invalid_request',
    );
    expect((await bad({ sendAt: { localTime: '2026-12-24 09:00' } })).status).toBe(400);
    expect((await bad({ pastZones: 'send' })).body.error).toMatchObject({
      code: 'invalid_request',
      message: expect.stringContaining('pastZones'),
    });
    expect((await bad({ window: { from: '09:00', to: '09:00' } })).status).toBe(400);
    expect((await bad({ window: { from: '9:00', to: '21:00' } })).status).toBe(400);
    const zone = await api<{ error: { code: string; message: string } }>('POST', '/v1/accounts', {
      accounts: [{ id: 'x', timezone: 'Mars/Olympus_Mons' }],
    });
    expect(zone.status).toBe(400);
    expect(zone.body.error).toMatchObject({
      code: 'invalid_timezone',
      message: expect.stringContaining('accounts[0].timezone'),
    });
    const app = await api<{ error: { code: string } }>('PATCH', '/v1/apps/current', {
      defaultTimezone: 'Nowhere',
    });
    expect(app.body.error.code).toBe('invalid_timezone');
  });

  it('keeps zones through the account API and the SDK profile frame; the app default zone and window apply', async () => {
    const { api } = await appIn({ 'asia/kolkata': 1 });
    const read = async (id: string) =>
      (await api<{ timezone: string | null }>('GET', `/v1/accounts/${id}`)).body;
    expect((await read('kolkata-0')).timezone).toBe('Asia/Kolkata'); // PostgreSQL's spelling
    await api('POST', '/v1/accounts', { accounts: [{ id: 'kolkata-0' }] });
    expect((await read('kolkata-0')).timezone).toBe('Asia/Kolkata'); // absent keeps it
    await api('POST', '/v1/accounts', { accounts: [{ id: 'kolkata-0', timezone: null }] });
    expect((await read('kolkata-0')).timezone).toBeNull();

    const token = (
      await api<{ token: string }>('POST', '/v1/accounts/device-user/token', { ttlSeconds: 600 })
    ).body.token;
    const s = await TestSocket.open(stack.wsUrl, token);
    await s.frame('synced');
    s.send({ type: 'profile', timezone: 'Europe/Berlin', ref: 'p1' });
    await s.frame('ok', (f) => f.ref === 'p1');
    expect((await read('device-user')).timezone).toBe('Europe/Berlin');
    s.send({ type: 'profile', timezone: 'Etc/Unknown', ref: 'p2' });
    expect(await s.frame('error', (f) => f.ref === 'p2')).toMatchObject({ code: 'invalid_timezone' });
    s.ws.close();

    const patched = await api<{ defaultTimezone: string; defaultWindow: unknown }>(
      'PATCH',
      '/v1/apps/current',
      {
        defaultTimezone: 'America/Chicago',
        defaultWindow: { from: '08:00', to: '20:00' },
      },
    );
    expect(patched.body).toMatchObject({
      defaultTimezone: 'America/Chicago',
      defaultWindow: { from: '08:00', to: '20:00' },
    });
    const windowed = await api<Push & { window: unknown; timezone: string }>('POST', '/v1/pushes', {
      message: text('in hours'),
    });
    expect(windowed.body).toMatchObject({
      window: { from: '08:00', to: '20:00' },
      timezone: 'America/Chicago',
    });
    const urgent = await api<Push & { window: unknown }>('POST', '/v1/pushes', {
      message: text('now'),
      window: null,
    });
    expect(urgent.body).toMatchObject({ window: null, waves: null });
    for (const p of [windowed.body, urgent.body]) await api('POST', `/v1/pushes/${p.id}/cancel`);
  });
});
