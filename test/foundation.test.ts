import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApp } from '../db/apps.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';

let stack: TestStack;
let appA: CreatedApp;
let appB: CreatedApp;

beforeAll(async () => {
  stack = await startTestStack();
  appA = await stack.newApp();
  appB = await stack.newApp();
});
afterAll(() => stack?.stop());

type Push = {
  id: string;
  status: string;
  counters: { audience: number; storedOffline: number };
  workflowId: string;
};

describe('a first push, end to end', () => {
  it('imports accounts, pushes to all, snapshots the audience in a Temporal workflow', async () => {
    const api = client(stack.url, appA.apiKey);
    const imported = await api('POST', '/v1/accounts', {
      accounts: [{ id: 'alice' }, { id: 'bob', nick: 'Bob' }],
    });
    expect(imported).toMatchObject({ status: 200, body: { imported: 2, created: 2 } });

    const created = await api<Push>('POST', '/v1/pushes', {
      audience: 'all',
      message: { elements: [{ type: 'text', text: 'Hello' }] },
      retentionSeconds: 60,
    });
    expect(created.status).toBe(201);
    expect(created.body.workflowId).toBe(`push-${appA.id}-${created.body.id}`);

    const done = await waitFor(
      () => api<Push>('GET', `/v1/pushes/${created.body.id}`),
      (r) => r.body.status === 'completed',
      30_000,
      'push completed',
    );
    expect(done.body.counters.audience).toBe(2);
    expect(done.body.counters.storedOffline).toBe(2);

    const description = await stack.temporal.workflow.getHandle(created.body.workflowId).describe();
    expect(description.type).toBe('pushWorkflow');
    const recipients = await stack.database.sql<{ account_id: string }[]>`
      select account_id from push_recipients where push_id = ${created.body.id} order by account_id`;
    expect(recipients.map((r) => r.account_id)).toEqual(['alice', 'bob']);
  });

  it('counts only the app’s own accounts and keeps apps apart', async () => {
    const b = client(stack.url, appB.apiKey);
    await b('POST', '/v1/accounts', { accounts: [{ id: 'carol' }] });
    const push = await b<Push>('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text: 'B only' }] },
    });
    const done = await waitFor(
      () => b<Push>('GET', `/v1/pushes/${push.body.id}`),
      (r) => r.body.status === 'completed',
    );
    expect(done.body.counters.audience).toBe(1);

    const a = client(stack.url, appA.apiKey);
    const peek = await a('GET', `/v1/pushes/${push.body.id}`);
    expect(peek.status).toBe(404);
    expect(peek.body).toMatchObject({ error: { code: 'not_found' } });
    const listed = await a<{ pushes: Push[] }>('GET', '/v1/pushes');
    expect(listed.body.pushes.map((p) => p.id)).not.toContain(push.body.id);
  });
});

describe('authentication', () => {
  it('refuses a missing or wrong key with a JSON 401', async () => {
    const none = await client(stack.url)('GET', '/v1/pushes');
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ error: { code: 'unauthorized' } });
    const wrong = await client(stack.url, 'hk_not-a-key')('GET', '/v1/pushes');
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ error: { code: 'unauthorized', message: expect.any(String) } });
  });

  it('creates apps only with the root key, and shows keys once', async () => {
    const denied = await client(stack.url, appA.apiKey)('POST', '/v1/apps', { name: 'x' });
    expect(denied.status).toBe(401);
    const root = client(stack.url, stack.config.HERALD_ROOT_KEY);
    const made = await root<CreatedApp>('POST', '/v1/apps', { name: 'made over http' });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ name: 'made over http', sdkAppId: expect.any(Number) });
    expect(made.body.apiKey).toMatch(/^hk_/);
    expect(made.body.secretKey).toMatch(/^[0-9a-f]{64}$/);
    const works = await client(stack.url, made.body.apiKey)('GET', '/v1/pushes');
    expect(works.status).toBe(200);
    const [row] = await stack.database.sql<
      { api_key_hash: string }[]
    >`select api_key_hash from apps where id = ${made.body.id}`;
    expect(row?.api_key_hash).not.toContain(made.body.apiKey);
  });
});

describe('health and bad input', () => {
  it('answers /healthz and /readyz', async () => {
    expect((await client(stack.url)('GET', '/healthz')).status).toBe(200);
    const ready = await client(stack.url)('GET', '/readyz');
    expect(ready).toMatchObject({ status: 200, body: { checks: { postgres: 'ok', temporal: 'ok' } } });
  });

  it('says what is wrong with a body', async () => {
    const api = client(stack.url, appA.apiKey);
    const badJson = await api('POST', '/v1/accounts', '{"accounts": [', {});
    expect(badJson).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
    const wrongType = await api('POST', '/v1/accounts', 'accounts=alice', { 'content-type': 'text/plain' });
    expect(wrongType).toMatchObject({ status: 400, body: { error: { code: 'unsupported_content_type' } } });
    const invalid = await api('POST', '/v1/pushes', { message: { elements: [] } });
    expect(invalid).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    expect((invalid.body as { error: { message: string } }).error.message).toContain('message.elements');
  });

  it('serves the OpenAPI document and the docs page', async () => {
    const doc = await client(stack.url)<{ paths: Record<string, unknown> }>('GET', '/openapi.json');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/v1/pushes', '/v1/pushes/{id}', '/v1/accounts']),
    );
    const page = await fetch(`${stack.url}/docs`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/openapi.json');
  });
});
