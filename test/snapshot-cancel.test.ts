import { afterAll, beforeAll, expect, it } from 'vitest';
import { pushPhaseQuery } from '../workflows/push.ts';
import { seedAccounts } from './support/seed.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';

// Cancel and recall reach a push in the middle of its snapshot: the snapshot's statement is canceled in
// PostgreSQL and rolled back, and the push ends canceled. Every snapshot of this stack's worker first sleeps
// a minute inside its transaction (as a very large audience would take): far longer than the test waits.
type Push = { id: string; status: string; startedAt: string | null; counters: { audience: number } };

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ testing: { snapshotHoldSeconds: 60 } });
});
afterAll(() => stack?.stop());

/** Snapshot statements of this database running now (pg_sleep inside a snapshot's transaction). */
const sleepingSnapshots = async () => {
  const [row] = await stack.database.sql<{ n: number }[]>`
    select count(*)::int as n from pg_stat_activity
    where datname = current_database() and state = 'active' and query like 'select pg_sleep%'`;
  return row?.n ?? 0;
};

for (const how of ['cancel', 'recall'] as const) {
  it(`a ${how} during the snapshot cancels its statement and ends the push canceled`, async () => {
    const app = await stack.newApp();
    await seedAccounts(stack.database.sql, app.id, 20);
    const api = client(stack.url, app.apiKey);
    const created = await api<Push>('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text: 'never' }] },
      retentionSeconds: 600,
    });
    expect(created.status).toBe(201);
    const handle = stack.temporal.workflow.getHandle(`push-${app.id}-${created.body.id}`);
    await waitFor(
      () => handle.query(pushPhaseQuery),
      (p) => p === 'snapshot',
      30_000,
      'the snapshot phase',
    );
    await waitFor(sleepingSnapshots, (n) => n > 0, 30_000, 'the snapshot statement running');

    const stopped = Date.now();
    expect((await api('POST', `/v1/pushes/${created.body.id}/${how}`)).status).toBe(202);
    const done = await waitFor(
      () => api<Push>('GET', `/v1/pushes/${created.body.id}`).then((r) => r.body),
      (p) => p.status !== 'scheduled' && p.status !== 'running',
      30_000,
      'the push to end',
    );
    expect(done.status).toBe('canceled');
    // Long before the minute the snapshot would have taken: its statement was canceled, not waited out.
    expect(Date.now() - stopped).toBeLessThan(30_000);
    expect(await handle.result()).toBe('done');
    expect(await sleepingSnapshots()).toBe(0);
    const [row] = await stack.database.sql<{ snapshot_at: Date | null; recipients: number }[]>`
      select snapshot_at, (select count(*)::int from push_recipients where push_id = ${created.body.id}) as recipients
      from pushes where id = ${created.body.id}`;
    expect(row).toEqual({ snapshot_at: null, recipients: 0 });
    expect(done.counters.audience).toBe(0);
  });
}
