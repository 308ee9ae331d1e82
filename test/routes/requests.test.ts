import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRoutes } from './app.ts';

// What every request meets before a route sees it: the key, the content type, the JSON, the route table.
let routes: Awaited<ReturnType<typeof openRoutes>>;
beforeAll(async () => {
  routes = await openRoutes();
});
afterAll(async () => {
  await routes?.close();
});

describe('the request gate', () => {
  it.each([
    ['no key', null],
    ['a wrong key', 'hk_not-a-key-of-any-app'],
  ])('%s is a 401 unauthorized', async (_, key) => {
    const res = await routes.request('GET', '/v1/accounts', { key });
    expect(res.status).toBe(401);
    expect(res.body.error?.code).toBe('unauthorized');
  });

  it('a key that is not a bearer token is a 401', async () => {
    const res = await routes.request('GET', '/v1/accounts', {
      key: null,
      headers: { authorization: 'Basic abc' },
    });
    expect(res).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['form data', 'application/x-www-form-urlencoded'],
  ])('a body sent as %s is a 400 unsupported_content_type', async (_, type) => {
    const res = await routes.request('POST', '/v1/accounts', {
      body: '{"accounts":[{"id":"a"}]}',
      headers: { 'content-type': type },
    });
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('unsupported_content_type');
    expect(res.body.error?.message).toContain(type);
  });

  it.each(['{"accounts": [', 'not json', '{"a":1}}'])(
    'broken JSON %j is a 400 invalid_json',
    async (body) => {
      const res = await routes.request('POST', '/v1/pushes', { body });
      expect(res.status).toBe(400);
      expect(res.body.error?.code).toBe('invalid_json');
    },
  );

  it('a JSON type with a suffix (application/merge-patch+json) is JSON', async () => {
    const res = await routes.request('POST', '/v1/accounts', {
      body: { accounts: [{ id: 'typed' }] },
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(res.status).toBe(200);
  });

  it.each([
    ['GET', '/v1/nothing-here'],
    ['POST', '/v2/pushes'],
    ['DELETE', '/nowhere'],
  ])('%s %s is a 404 not_found', async (method, path) => {
    const res = await routes.request(method, path);
    expect(res.status).toBe(404);
    expect(res.body.error?.code).toBe('not_found');
  });

  it('a push id that does not exist is a 404 not_found', async () => {
    const res = await routes.request('GET', '/v1/pushes/00000000-0000-0000-0000-000000000000');
    expect(res).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
  });
});
