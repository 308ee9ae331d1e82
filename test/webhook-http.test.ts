import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPrivateAddress } from '../core/net-guard.ts';
import { postWebhook } from '../delivery/webhook-http.ts';
import { openRoutes } from './routes/app.ts';

// What Herald does with an operator's URL: private addresses refused (at creation and at connect time), no
// redirect followed, a bounded wait, and the Standard Webhooks signature any verifier accepts.
type Seen = { path: string; headers: http.IncomingHttpHeaders; body: string };
const seen: Seen[] = [];
let server: http.Server;
let port = 0;
const secret = `whsec_${Buffer.from('0123456789abcdef01234567').toString('base64')}`;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      if (req.url === '/redirect') res.writeHead(302, { location: '/elsewhere' }).end();
      else if (req.url === '/slow') setTimeout(() => res.writeHead(200).end(), 2000);
      else if (req.url === '/big') res.writeHead(200).end('x'.repeat(1024 * 1024));
      else res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const send = (path: string, opts: { allowPrivate?: boolean; host?: string; timeoutMs?: number } = {}) =>
  postWebhook({
    url: `http://${opts.host ?? '127.0.0.1'}:${port}${path}`,
    secret,
    id: 'msg_test',
    body: '{"type":"batch"}',
    allowPrivate: opts.allowPrivate ?? true,
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
  });

describe('addresses', () => {
  it('knows loopback, private, link-local and mapped addresses from public ones', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
    ])
      expect([a, isPrivateAddress(a)]).toEqual([a, true]);
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8'])
      expect([a, isPrivateAddress(a)]).toEqual([a, false]);
  });

  it('refuses a loopback literal, and a name that resolves to loopback, at connect time', async () => {
    const before = seen.length;
    expect(await send('/x', { allowPrivate: false })).toEqual({
      ok: false,
      reason: '127.0.0.1 is a private or loopback address',
    });
    const byName = await send('/x', { allowPrivate: false, host: 'localhost' });
    expect(byName.ok).toBe(false);
    expect(!byName.ok && byName.reason).toMatch(/localhost resolves only to private or loopback addresses/);
    expect(seen.length).toBe(before);
  });

  it('refuses private URLs when an endpoint is created, unless the installation allows them', async () => {
    const routes = await openRoutes();
    try {
      for (const url of [
        'http://127.0.0.1:9/h',
        'http://localhost/h',
        'http://[::1]/h',
        'http://10.0.0.8/h',
      ]) {
        const r = await routes.request('POST', '/v1/webhooks', { body: { url, eventTypes: ['push.*'] } });
        expect([url, r.status, r.body.error?.code]).toEqual([url, 400, 'webhook_url_forbidden']);
      }
    } finally {
      await routes.close();
    }
  });
});

describe('requests', () => {
  it('carries the Standard Webhooks headers, which the standardwebhooks verifier accepts', async () => {
    expect(await send('/ok')).toEqual({ ok: true, status: 200 });
    const req = seen.at(-1) as Seen;
    expect(req.headers['webhook-id']).toBe('msg_test');
    expect(req.headers['webhook-signature']).toMatch(/^v1,/);
    expect(new Webhook(secret).verify(req.body, req.headers as Record<string, string>)).toEqual({
      type: 'batch',
    });
    expect(() => new Webhook(secret).verify(`${req.body} `, req.headers as Record<string, string>)).toThrow();
  });

  it('follows no redirect, gives up after the timeout, and reads a bounded answer', async () => {
    expect(await send('/redirect')).toEqual({
      ok: false,
      status: 302,
      reason: 'HTTP 302 (redirects are not followed)',
    });
    expect(seen.some((s) => s.path === '/elsewhere')).toBe(false);
    expect(await send('/slow', { timeoutMs: 300 })).toEqual({ ok: false, reason: 'no answer within 0.3 s' });
    expect(await send('/big')).toEqual({ ok: true, status: 200 });
  });
});
