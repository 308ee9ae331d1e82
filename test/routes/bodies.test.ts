import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inFromNow, openRoutes } from './app.ts';

// Invalid bodies of the create routes, each a 400 with its documented code and a message that starts with the
// field to fix (docs/pushes.md, docs/audience.md), and one body of each that validates.
let routes: Awaited<ReturnType<typeof openRoutes>>;
beforeAll(async () => {
  routes = await openRoutes();
});
afterAll(async () => {
  await routes?.close();
});

const DAY = 24 * 3600_000;
const message = { elements: [{ type: 'text', text: 'hello' }] };
const step = (over: Record<string, unknown> = {}) => ({ at: inFromNow(DAY), message, ...over });

type Case = [what: string, body: unknown, code: string, messageStart: string];

async function expectRefused(path: string, [, body, code, start]: Case, headers?: Record<string, string>) {
  const res = await routes.request('POST', path, { body, headers });
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body.error?.code).toBe(code);
  expect(res.body.error?.message.startsWith(start), res.body.error?.message).toBe(true);
}

describe('POST /v1/pushes', () => {
  const cases: Case[] = [
    ['no message', {}, 'invalid_request', 'message:'],
    ['no elements', { message: { elements: [] } }, 'invalid_request', 'message.elements:'],
    [
      'an unknown element type',
      { message: { elements: [{ type: 'gif' }] } },
      'invalid_request',
      'message.elements.0',
    ],
    [
      'an empty text',
      { message: { elements: [{ type: 'text', text: '' }] } },
      'invalid_request',
      'message.elements.0.text:',
    ],
    ['retention over 7 days', { message, retentionSeconds: 604_801 }, 'invalid_request', 'retentionSeconds:'],
    ['a negative retention', { message, retentionSeconds: -1 }, 'invalid_request', 'retentionSeconds:'],
    ['sendAt that is no date', { message, sendAt: 'tomorrow' }, 'invalid_request', 'sendAt:'],
    ['sendAt in the past', { message, sendAt: inFromNow(-60_000) }, 'time_in_past', 'sendAt'],
    ['sendAt over a year ahead', { message, sendAt: inFromNow(400 * DAY) }, 'time_too_far', 'sendAt'],
    ['a badge that is no number', { message, offline: { badge: 'x' } }, 'invalid_request', 'offline.badge:'],
    ['an audience that is a list', { message, audience: ['vip'] }, 'invalid_request', 'audience'],
    [
      'a condition with an unknown key',
      { message, audience: { TagsXor: ['a'] } },
      'invalid_condition',
      'audience',
    ],
    [
      'a condition on an unknown attribute',
      { message, audience: { AttrsAnd: { nope: 'x' } } },
      'unknown_attribute',
      'audience',
    ],
  ];
  it.each(cases)('%s', (...c) => expectRefused('/v1/pushes', c));

  it('an Idempotency-Key in the v4 namespace', () =>
    expectRefused('/v1/pushes', ['', { message }, 'invalid_request', 'idempotency-key:'], {
      'idempotency-key': 'v4:123',
    }));

  it('a body that validates is a 201', async () => {
    const res = await routes.request('POST', '/v1/pushes', { body: { message, sendAt: inFromNow(DAY) } });
    expect(res).toMatchObject({ status: 201, body: { status: 'scheduled' } });
  });
});

describe('POST /v1/campaigns', () => {
  const cases: Case[] = [
    ['no name', { steps: [step()] }, 'invalid_request', 'name:'],
    ['no steps', { name: 'c', steps: [] }, 'invalid_request', 'steps:'],
    ['21 steps', { name: 'c', steps: Array.from({ length: 21 }, () => step()) }, 'invalid_request', 'steps:'],
    ['a step with no time', { name: 'c', steps: [{ message }] }, 'invalid_request', 'steps.0.at:'],
    [
      'a step time that is no date',
      { name: 'c', steps: [step({ at: 'soon' })] },
      'invalid_request',
      'steps.0.at:',
    ],
    [
      'a step in the past',
      { name: 'c', steps: [step(), step({ at: inFromNow(-1000) })] },
      'time_in_past',
      'steps.1.at',
    ],
    [
      'a step with no message',
      { name: 'c', steps: [{ at: inFromNow(DAY) }] },
      'invalid_request',
      'steps.0.message:',
    ],
    [
      'a negative retention',
      { name: 'c', steps: [step({ retentionSeconds: -1 })] },
      'invalid_request',
      'steps.0.retentionSeconds:',
    ],
    [
      'a bad condition',
      { name: 'c', steps: [step(), step({ audience: { TagsOr: 'vip' } })] },
      'invalid_condition',
      'steps.1.audience',
    ],
  ];
  it.each(cases)('%s', (...c) => expectRefused('/v1/campaigns', c));

  it('a body that validates is a 201', async () => {
    const res = await routes.request('POST', '/v1/campaigns', { body: { name: 'launch', steps: [step()] } });
    expect(res.status).toBe(201);
  });
});

describe('POST /v1/accounts', () => {
  const cases: Case[] = [
    ['no accounts', {}, 'invalid_request', 'accounts:'],
    ['an empty list', { accounts: [] }, 'invalid_request', 'accounts:'],
    ['an account without id', { accounts: [{ nick: 'n' }] }, 'invalid_request', 'accounts.0.id:'],
    ['an unknown field', { accounts: [{ id: 'a', tags: ['x'] }] }, 'invalid_request', 'accounts.0'],
    [
      'an id over 32 bytes',
      { accounts: [{ id: 'a' }, { id: '音'.repeat(11) }] },
      'invalid_account_id',
      'accounts[1].id:',
    ],
    ['an empty id', { accounts: [{ id: '' }] }, 'invalid_account_id', 'accounts[0].id:'],
    [
      '1,001 accounts',
      { accounts: Array.from({ length: 1001 }, (_, i) => ({ id: `a${i}` })) },
      'batch_too_large',
      'accounts:',
    ],
  ];
  it.each(cases)('%s', (...c) => expectRefused('/v1/accounts', c));

  it('a body that validates is imported (200)', async () => {
    const res = await routes.request('POST', '/v1/accounts', {
      body: { accounts: [{ id: 'route-1', nick: 'R' }] },
    });
    expect(res).toMatchObject({ status: 200, body: { imported: 1, created: 1 } });
  });
});
