import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BusEvent, type FanoutBus, postgresBus } from '../delivery/bus.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';
import { TestSocket } from './support/ws.ts';

describe('the PostgreSQL bus', () => {
  it('says when a dropped LISTEN connection has come back', async () => {
    const sql = postgres(inject('databaseUrl'), {
      max: 1,
      onnotice: () => {},
      connection: { application_name: 'herald-bus-test' },
    });
    const seen: BusEvent[] = [];
    let resubscribed = 0;
    // Other test files share the database and its channel: only this test's own events count.
    const unlisten = await postgresBus(sql).subscribe(
      (e) => {
        if (e.type === 'push' && e.appId === 'a') seen.push(e);
      },
      () => resubscribed++,
    );
    await sql`select pg_terminate_backend(pid) from pg_stat_activity
      where application_name = 'herald-bus-test' and pid <> pg_backend_pid()`.catch(() => undefined);
    await waitFor(
      async () => resubscribed,
      (n) => n === 1,
      15_000,
      'the listen to come back',
    );
    const other = postgres(inject('databaseUrl'), { max: 1 });
    // The LISTEN may still be on its way when the callback runs: publish until one arrives.
    await waitFor(
      async () => {
        if (!seen.length) await postgresBus(other).publish({ type: 'push', appId: 'a', pushId: 'p' });
        return seen.length;
      },
      (n) => n >= 1,
      15_000,
      'an event after the reconnect',
    );
    expect(seen[0]).toEqual({ type: 'push', appId: 'a', pushId: 'p' });
    await unlisten();
    await other.end();
    await sql.end();
  });
});

describe('a gateway whose bus was away', () => {
  let stack: TestStack;
  let dropping = false;
  let resubscribe: (() => void) | undefined;

  beforeAll(async () => {
    // A bus that can lose events and then report the subscription back, as a dropped LISTEN does.
    const lossy = (inner: FanoutBus): FanoutBus => ({
      publish: (e) => inner.publish(e),
      subscribe: (handler, onResubscribed) => {
        resubscribe = onResubscribed;
        return inner.subscribe((e) => {
          if (!dropping) handler(e);
        }, onResubscribed);
      },
    });
    stack = await startTestStack({ bus: (database) => lossy(postgresBus(database.sql)) });
  });
  afterAll(() => stack?.stop());

  it('replays the pushes it missed to its sockets once the bus is back', async () => {
    const app = await stack.newApp();
    const api = client(stack.url, app.apiKey);
    await api('POST', '/v1/accounts', { accounts: [{ id: 'ann' }] });
    const minted = await api<{ token: string }>('POST', '/v1/accounts/ann/token', { ttlSeconds: 600 });
    const socket = await TestSocket.open(stack.wsUrl, minted.body.token);
    await socket.until('welcome', () => socket.frames.find((f) => f.type === 'welcome'));

    dropping = true;
    const push = await api<{ id: string; status: string }>('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text: 'while the bus was away' }] },
    });
    // Retention 0 on purpose: nothing is stored, so only the replay can bring it to the open socket.
    await waitFor(
      () => api<{ status: string }>('GET', `/v1/pushes/${push.body.id}`).then((r) => r.body),
      (p) => p.status === 'completed',
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(socket.messages()).toHaveLength(0);

    dropping = false;
    resubscribe?.();
    const got = await socket.until('the replayed push', () =>
      socket.messages().find((m) => m.pushId === push.body.id),
    );
    expect(got.elements).toEqual([{ type: 'text', text: 'while the bus was away' }]);
    await socket.close();
  });
});
