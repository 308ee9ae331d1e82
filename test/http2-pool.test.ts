import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createSessionPool, type SessionPool } from '../delivery/http2-pool.ts';

/** A plain h2c server whose answer each request's path chooses (no provider rules: the pool's own behaviour). */
async function startServer() {
  const closedStreams: { path: string; rstCode: number }[] = [];
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const path = String(headers[':path']);
    stream.on('close', () => closedStreams.push({ path, rstCode: stream.rstCode }));
    stream.on('error', () => {});
    // The request body is read whole before answering, as a provider does.
    stream.resume();
    stream.on('end', () => {
      if (path === '/ok') {
        stream.respond({ ':status': 200 });
        stream.end('{"name":"projects/p/messages/1"}');
      } else if (path === '/empty') {
        stream.respond({ ':status': 200 }, { endStream: true });
      } else if (path === '/bad') {
        stream.respond({ ':status': 400, 'retry-after': '7' });
        stream.write('{"reason":');
        stream.end('"BadDeviceToken"}');
      } else if (path === '/reset') {
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      }
      // '/hang': never answered.
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    closedStreams,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}

interface Answered {
  error: string | undefined;
  status: number;
  retryAfter: string | undefined;
  body: string;
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

/** Sends one request and collects every call of its callback (there must be exactly one). */
function send(pool: SessionPool, origin: string, path: string, body: string | Buffer = 'x') {
  const calls: Answered[] = [];
  const first = new Promise<Answered>((resolve) => {
    pool.request(origin, { ':method': 'POST', ':path': path }, body, (error, status, headers, text) => {
      const answered = {
        error: error?.message,
        status,
        retryAfter: headers?.['retry-after'] as string | undefined,
        body: text,
      };
      calls.push(answered);
      resolve(answered);
    });
  });
  return { calls, first };
}

describe('HTTP/2 session pool', () => {
  async function setup(timeoutMs = 15_000) {
    const server = await startServer();
    const pool = createSessionPool(2, timeoutMs);
    cleanup.push(server.close, () => pool.close());
    return { server, pool };
  }

  it('answers a 200 without its body and another status with its body and headers', async () => {
    const { server, pool } = await setup();
    const shared = Buffer.from('{"aps":{}}');
    expect(await send(pool, server.origin, '/ok', shared).first).toEqual({
      error: undefined,
      status: 200,
      retryAfter: undefined,
      body: '',
    });
    expect(await send(pool, server.origin, '/empty', shared).first).toMatchObject({
      error: undefined,
      status: 200,
    });
    expect(await send(pool, server.origin, '/bad').first).toEqual({
      error: undefined,
      status: 400,
      retryAfter: '7',
      body: '{"reason":"BadDeviceToken"}',
    });
  });

  it('fails a reset stream and a request that gets no answer in time, calling back once each', async () => {
    const { server, pool } = await setup(300);
    const reset = send(pool, server.origin, '/reset');
    const hung = send(pool, server.origin, '/hang');
    const ok = send(pool, server.origin, '/ok');
    expect(await reset.first).toMatchObject({
      error: 'Stream closed with error code NGHTTP2_REFUSED_STREAM',
      status: 0,
    });
    expect(await ok.first).toMatchObject({ error: undefined, status: 200 });
    // The hung request is cancelled by the pool's sweep (NGHTTP2_CANCEL, 8), which the server sees.
    expect(await hung.first).toMatchObject({ error: 'stream closed (code 8)', status: 0 });
    // Exactly once each, also after another sweep has run over the finished requests.
    const later = send(pool, server.origin, '/hang');
    await later.first;
    expect([reset.calls.length, hung.calls.length, ok.calls.length, later.calls.length]).toEqual([
      1, 1, 1, 1,
    ]);
    const hungAtServer = () => server.closedStreams.filter((s) => s.path === '/hang');
    while (hungAtServer().length < 2) await new Promise((r) => setTimeout(r, 5));
    expect(hungAtServer().map((s) => s.rstCode)).toEqual([8, 8]);
  });

  it('fails every request once when the origin cannot be reached, and after close', async () => {
    const { server, pool } = await setup();
    await server.close();
    const requests = Array.from({ length: 5 }, () => send(pool, server.origin, '/ok'));
    for (const r of requests) expect((await r.first).error).toBeDefined();
    expect(requests.map((r) => r.calls.length)).toEqual([1, 1, 1, 1, 1]);
    await pool.close();
    expect(await send(pool, server.origin, '/ok').first).toMatchObject({ error: 'ClientClosed', status: 0 });
  });
});
