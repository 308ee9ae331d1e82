import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import { pushes } from '../db/schema.ts';
import type { FakeFcm } from '../fakes/fcm.ts';
import { advancePace, paceDelayMs } from '../pushes/throttle.ts';
import { type FakesStack, startStackWithFakes } from './support/fakes-stack.ts';
import { seedAccounts } from './support/seed.ts';
import { client, type TestStack, waitFor } from './support/stack.ts';

// Throttled pushes: a short real run through the real worker and the real FCM client against the fake FCM,
// measured by when the notifications arrive there; and the pace kept in the push row, which a retried or
// resumed page activity reads instead of starting with a burst.

type Push = {
  id: string;
  status: string;
  throttlePerMinute: number | null;
  expectedFinishAt: string | null;
  completedAt: string | null;
  counters: { audience: number; fcm: { sent: number } };
};
type ErrorBody = { error: { code: string; message: string } };

let fakes: FakesStack;
let stack: TestStack;
let fcm: FakeFcm;

beforeAll(async () => {
  fakes = await startStackWithFakes({ topic: 'com.example.throttle', projectId: 'herald-throttle' });
  ({ stack, fcm } = fakes);
});
afterAll(() => fakes?.stop());

const text = (t: string) => ({ elements: [{ type: 'text', text: t }] });

async function appWithFcm(accounts: number): Promise<{ app: CreatedApp; api: ReturnType<typeof client> }> {
  const app = await stack.newApp();
  const api = client(stack.url, app.apiKey);
  const sa = fakes.serviceAccount.credentials(fcm.tokenUri).serviceAccount;
  expect((await api('PUT', '/v1/apps/current/credentials/fcm', { serviceAccount: sa })).status).toBe(200);
  await seedAccounts(stack.database.sql, app.id, accounts, {
    prefix: `${app.id.slice(-6)}-`,
    deviceEvery: 1,
  });
  return { app, api };
}

describe('throttled push, for real', () => {
  it('600 per minute: 200 offline recipients are notified over about 20 s, never faster, with a finish time shown while running', async () => {
    const RATE = 600;
    const N = 200;
    const { app, api } = await appWithFcm(N);
    const before = fcm.received.length;
    const created = await api<Push>('POST', '/v1/pushes', {
      message: text('paced'),
      throttlePerMinute: RATE,
    });
    expect(created.status).toBe(201);
    expect(created.body.throttlePerMinute).toBe(RATE);

    // While it runs, the report says when it should be done: about N / RATE minutes after it started.
    const running = await waitFor(
      () => api<Push>('GET', `/v1/pushes/${created.body.id}`).then((r) => r.body),
      (p) => p.status === 'running' && p.expectedFinishAt !== null && p.counters.fcm.sent > 0,
      30_000,
      'the push running',
    );
    const done = await waitFor(
      () => api<Push>('GET', `/v1/pushes/${created.body.id}`).then((r) => r.body),
      (p) => p.status === 'completed',
      60_000,
      'the push to complete',
    );
    expect(done.counters.fcm.sent).toBe(N);
    expect(done.expectedFinishAt).toBeNull();

    const arrivals = fcm.received
      .slice(before)
      .filter((r) => r.token.startsWith(`${app.id.slice(-6)}-`))
      .map((r) => r.receivedAt)
      .sort((a, b) => a - b);
    expect(arrivals).toHaveLength(N);
    const first = arrivals[0] ?? 0;
    const last = arrivals.at(-1) ?? 0;
    // Pages are one second's worth (10); the first goes at once, so the last starts after (N/10 - 1) s.
    const ideal = ((N - RATE / 60) / RATE) * 60_000;
    const span = last - first;
    expect(span).toBeGreaterThan(ideal * 0.95);
    expect(span).toBeLessThan(ideal * 1.15);
    // Never faster: in any 5 s, at most 5 s worth plus one page.
    for (const start of arrivals) {
      const inWindow = arrivals.filter((t) => t >= start && t < start + 5000).length;
      expect(inWindow).toBeLessThanOrEqual((RATE / 60) * 5 + RATE / 60);
    }
    // The finish time shown while it ran was within a few seconds of the real one.
    const shown = Date.parse(running.expectedFinishAt ?? '');
    expect(Math.abs(shown - last)).toBeLessThan(3000);
  });
});

describe('the pace in the push row', () => {
  it('a new attempt waits for the pace an earlier one left; the app default applies; bounds are refused', async () => {
    const { app, api } = await appWithFcm(1);
    // A push that waits a day: its row is there to pace without any page running.
    const sendAt = new Date(Date.now() + 24 * 3600_000).toISOString();
    const made = await api<Push>('POST', '/v1/pushes', {
      message: text('x'),
      sendAt,
      throttlePerMinute: 600,
    });
    const ref = { appId: app.id, pushId: made.body.id };
    expect(await paceDelayMs(stack.database.db, ref)).toBe(0);
    // 100 recipients at 600/min are 10 s of pace: whoever reads the row next waits for them.
    const after = await advancePace(stack.database.db, ref, {
      recipients: 100,
      notified: 100,
      perMinute: 600,
    });
    expect(after).toBeGreaterThan(9_500);
    expect(after).toBeLessThanOrEqual(10_000);
    const fresh = await paceDelayMs(stack.database.db, ref);
    expect(fresh).toBeGreaterThan(9_000);
    // Pace adds up from where it stands, not from now: 50 more are 5 s more.
    expect(
      await advancePace(stack.database.db, ref, { recipients: 50, notified: 50, perMinute: 600 }),
    ).toBeGreaterThan(14_000);
    const [row] = await stack.database.db
      .select({ r: pushes.pacedRecipients, n: pushes.pacedNotified })
      .from(pushes)
      .where(and(eq(pushes.appId, app.id), eq(pushes.id, made.body.id)));
    expect(row).toEqual({ r: 150, n: 150 });
    await api('POST', `/v1/pushes/${made.body.id}/cancel`);

    // The app's default throttles a push that names none; null turns it off for one push.
    const set = await api<{ defaultThrottlePerMinute: number | null }>('PATCH', '/v1/apps/current', {
      defaultThrottlePerMinute: 1200,
    });
    expect(set.body.defaultThrottlePerMinute).toBe(1200);
    const byDefault = await api<Push>('POST', '/v1/pushes', { message: text('d'), sendAt });
    expect(byDefault.body.throttlePerMinute).toBe(1200);
    const unthrottled = await api<Push>('POST', '/v1/pushes', {
      message: text('u'),
      sendAt,
      throttlePerMinute: null,
    });
    expect(unthrottled.body.throttlePerMinute).toBeNull();
    expect(unthrottled.body.expectedFinishAt).toBeNull();
    for (const p of [byDefault, unthrottled]) await api('POST', `/v1/pushes/${p.body.id}/cancel`);

    for (const [path, method, body, message] of [
      [
        '/v1/pushes',
        'POST',
        { message: text('b'), throttlePerMinute: 9 },
        /^throttlePerMinute: must be at least 10/,
      ],
      [
        '/v1/pushes',
        'POST',
        { message: text('b'), throttlePerMinute: 1_000_001 },
        /^throttlePerMinute: must be at most 1000000/,
      ],
      ['/v1/pushes', 'POST', { message: text('b'), throttlePerMinute: 1.5 }, /^throttlePerMinute/],
      [
        '/v1/apps/current',
        'PATCH',
        { defaultThrottlePerMinute: 0 },
        /^defaultThrottlePerMinute: must be at least 10/,
      ],
      [
        '/v1/campaigns',
        'POST',
        { name: 'c', steps: [{ at: sendAt, message: text('c'), throttlePerMinute: 5 }] },
        /^steps.0.throttlePerMinute: must be at least 10/,
      ],
    ] as const) {
      const res = await api<ErrorBody>(method, path, body);
      expect([res.status, res.body.error.code]).toEqual([400, 'invalid_request']);
      expect(res.body.error.message).toMatch(message);
    }
  });
});
