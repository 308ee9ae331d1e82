import { afterAll, beforeAll, expect, it } from 'vitest';
import { seedAccounts } from './support/seed.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';

// A scheduled push keeps the attribute slots it was created with: a rename keeps its target, a removal of an
// attribute it uses is refused, and a push whose audience can no longer be resolved fails instead of waiting
// forever, giving back its quota.
type Push = {
  id: string;
  status: string;
  audience: unknown;
  failureReason: string | null;
  counters: { audience: number };
};

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.stop());

const text = (t: string) => ({ elements: [{ type: 'text', text: t }] });
const inFromNow = (ms: number) => new Date(Date.now() + ms).toISOString();

/** 30 accounts; every third lives in Paris (attribute `city` in slot 2). */
async function parisApp() {
  const app = await stack.newApp();
  await seedAccounts(stack.database.sql, app.id, 30);
  const api = client(stack.url, app.apiKey);
  expect((await api('PATCH', '/v1/attributes', { names: { '2': 'city' } })).status).toBe(200);
  await stack.database.sql`
    update accounts set attrs = '{"2": "paris"}'::jsonb
    where app_id = ${app.id} and substr(account_id, 2)::int % 3 = 0`;
  return { app, api };
}

const quotaUsed = async (appId: string) => {
  const [row] = await stack.database.sql<{ used: number }[]>`
    select coalesce(sum(used), 0)::int as used from push_quota where app_id = ${appId}`;
  return row?.used ?? 0;
};

it('a rename keeps a scheduled push on its slot; removing an attribute it uses is refused (409)', async () => {
  const { api } = await parisApp();
  const audience = { AttrsAnd: { city: 'paris' } };
  const created = await api<Push>('POST', '/v1/pushes', {
    audience,
    message: text('bonjour'),
    sendAt: inFromNow(3000),
  });
  expect(created.status).toBe(201);

  const refused = await api<{ error: { code: string; message: string } }>('DELETE', '/v1/attributes/city');
  expect(refused.status).toBe(409);
  expect(refused.body.error.code).toBe('attribute_in_use');
  expect(refused.body.error.message).toContain(created.body.id);

  // Renamed under the push: same slot, same values. A new attribute called `city` in another slot has other
  // values, and the push must not follow the name there.
  expect((await api('PATCH', '/v1/attributes', { names: { '2': 'town', '5': 'city' } })).status).toBe(200);
  const done = await waitFor(
    () => api<Push>('GET', `/v1/pushes/${created.body.id}`).then((r) => r.body),
    (p) => p.status === 'completed',
    30_000,
    'the push to complete',
  );
  expect(done.counters.audience).toBe(10);
  // The report shows the condition as it was sent.
  expect(done.audience).toEqual(audience);
  // Once it has started, the slot is free to go.
  expect((await api('DELETE', '/v1/attributes/town')).status).toBe(200);
});

it('a push whose audience can no longer be resolved ends failed with its reason and gives back its quota', async () => {
  const { app, api } = await parisApp();
  const created = await api<Push>('POST', '/v1/pushes', {
    audience: { AttrsAnd: { city: 'paris' } },
    message: text('bonjour'),
    sendAt: inFromNow(3000),
  });
  expect(created.status).toBe(201);
  expect(await quotaUsed(app.id)).toBe(1);
  // A push stored before slots were resolved at creation: it names its attribute only, so a removal is allowed.
  await stack.database.sql`update pushes set audience_slots = null where id = ${created.body.id}`;
  expect((await api('DELETE', '/v1/attributes/city')).status).toBe(200);

  const failed = await waitFor(
    () => api<Push>('GET', `/v1/pushes/${created.body.id}`).then((r) => r.body),
    (p) => p.status !== 'scheduled' && p.status !== 'running',
    30_000,
    'the push to end',
  );
  expect(failed.status).toBe('failed');
  expect(failed.failureReason).toBe(
    'snapshot failed: the audience names attribute "city", which no longer exists',
  );
  expect(await quotaUsed(app.id)).toBe(0);
  const handle = stack.temporal.workflow.getHandle(`push-${app.id}-${created.body.id}`);
  // The workflow completes normally (no retries left waiting): its result is the push's last phase.
  expect(await handle.result()).toBe('done');
  expect((await handle.describe()).status.name).toBe('COMPLETED');
});
