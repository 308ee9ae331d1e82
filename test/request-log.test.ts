import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLogs } from './support/logs.ts';
import { startTestStack, type TestStack } from './support/stack.ts';

const logs = captureLogs('info');
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ log: logs.logger, worker: false });
});
afterAll(() => stack?.stop());

type ErrorBody = { error: { code: string; requestId?: string } };

const requestLines = () => logs.lines.filter((l) => l.msg === 'request');

describe('request logs and request ids', () => {
  it('logs one line per request by route pattern, without values, query strings or keys', async () => {
    const app = await stack.newApp();
    logs.clear();
    const res = await fetch(`${stack.url}/v1/accounts/ghost-account/tags?token=query-secret-123`, {
      headers: { authorization: `Bearer ${app.apiKey}` },
    });
    expect(res.status).toBe(404);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const body = (await res.json()) as ErrorBody;
    expect(body.error).toMatchObject({ code: 'not_found', requestId: id });

    const ok = await fetch(`${stack.url}/v1/accounts/ghost-account/tags`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${app.apiKey}`,
        'content-type': 'application/json',
        'x-request-id': 'proxy-given-id-0001',
      },
      body: JSON.stringify({ tags: ['a'] }),
    });
    expect(ok.status).toBe(404);
    expect(ok.headers.get('x-request-id')).toBe('proxy-given-id-0001');
    expect(((await ok.json()) as ErrorBody).error.requestId).toBe('proxy-given-id-0001');

    const lines = requestLines();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      method: 'GET',
      route: '/v1/accounts/:id/tags',
      status: 404,
      appId: app.id,
      requestId: id,
    });
    expect(typeof lines[0]?.durationMs).toBe('number');
    expect(lines[1]).toMatchObject({
      method: 'POST',
      route: '/v1/accounts/:id/tags',
      status: 404,
      requestId: 'proxy-given-id-0001',
    });
    const text = logs.text();
    for (const secret of ['query-secret-123', app.apiKey, 'ghost-account'])
      expect(text).not.toContain(secret);
  });

  it('gives unauthenticated, unmatched and invalid requests an id in the header and the error body', async () => {
    logs.clear();
    const unauthorized = await fetch(`${stack.url}/v1/pushes`, {
      headers: { authorization: 'Bearer nope-key' },
    });
    expect(unauthorized.status).toBe(401);
    const u = (await unauthorized.json()) as ErrorBody;
    expect(u.error.requestId).toBe(unauthorized.headers.get('x-request-id'));

    const missing = await fetch(`${stack.url}/nowhere/at-all`);
    expect(missing.status).toBe(404);
    const m = (await missing.json()) as ErrorBody;
    expect(m.error.requestId).toBe(missing.headers.get('x-request-id'));

    expect(requestLines()).toMatchObject([
      { method: 'GET', status: 401, route: '/v1/pushes' },
      { method: 'GET', status: 404, route: '(unmatched)' },
    ]);
    expect(requestLines()[0]?.appId).toBeUndefined();
    expect(logs.text()).not.toContain('nope-key');
  });
});
