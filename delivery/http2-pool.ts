import http2 from 'node:http2';
import { rootCertificates } from 'node:tls';
import { providerRequestSeconds, secondsSince } from '../core/metrics.ts';

/** HTTP/2 sessions per origin, shared by every request of one provider client. */
export interface SessionPool {
  /** The next session for `origin`, round-robin; a slot whose session closed or got GOAWAY is reconnected. */
  session(origin: string): http2.ClientHttp2Session;
  close(): Promise<void>;
}

/**
 * `size` sessions per origin. An https:// origin is h2 over TLS, trusting `ca` besides the usual roots when
 * given; an http:// origin is h2c with prior knowledge (local fakes and gateways only).
 */
export function createSessionPool(size: number, ca?: string | Buffer): SessionPool {
  const pools = new Map<string, { slots: (http2.ClientHttp2Session | undefined)[]; next: number }>();
  const options: http2.SecureClientSessionOptions = ca ? { ca: [...rootCertificates, ca.toString()] } : {};
  let closed = false;

  function connect(origin: string, slots: (http2.ClientHttp2Session | undefined)[], i: number) {
    const session = http2.connect(origin, options);
    // Errors surface on the streams; a broken session is replaced on next use.
    session.on('error', () => {});
    session.on('close', () => {
      if (slots[i] === session) slots[i] = undefined;
    });
    slots[i] = session;
    return session;
  }

  return {
    session(origin) {
      if (closed) throw new Error('ClientClosed');
      let pool = pools.get(origin);
      if (!pool) {
        pool = { slots: new Array(size).fill(undefined), next: 0 };
        pools.set(origin, pool);
      }
      const i = pool.next++ % size;
      const session = pool.slots[i];
      // Node closes a session by itself after GOAWAY, so `closed` covers that too.
      if (session && !session.closed && !session.destroyed) return session;
      return connect(origin, pool.slots, i);
    },
    async close() {
      closed = true;
      const open = [...pools.values()].flatMap((p) => p.slots).filter((s) => s && !s.destroyed);
      pools.clear();
      await Promise.all(open.map((s) => new Promise<void>((resolve) => s?.close(() => resolve()))));
    },
  };
}

/**
 * Called once per request: with the error that ended it (a reset, a failed session, the timeout), or with
 * the response's status, headers and body. A 200's body is not kept: neither provider says anything in it
 * that a sender needs.
 */
export type ResponseCallback = (
  error: Error | undefined,
  status: number,
  headers: http2.IncomingHttpHeaders | undefined,
  body: string,
) => void;

/** The origin's host, the label of its latency (an origin is a handful of provider hosts). */
const hosts = new Map<string, string>();
const hostOf = (origin: string): string => {
  let host = hosts.get(origin);
  if (host === undefined) {
    host = URL.canParse(origin) ? new URL(origin).host : 'unknown';
    hosts.set(origin, host);
  }
  return host;
};

/**
 * One request on a stream of the pool's next session for `origin`, answered through `done` rather than a
 * promise: a provider page issues hundreds of these from one loop. `headers` is read before this returns,
 * so a caller may reuse and change one object between calls.
 */
export function request(
  pool: SessionPool,
  origin: string,
  headers: http2.OutgoingHttpHeaders,
  body: string | Buffer,
  timeoutMs: number,
  done: ResponseCallback,
): void {
  let stream: http2.ClientHttp2Stream;
  const started = performance.now();
  try {
    stream = pool.session(origin).request(headers);
  } catch (err) {
    // Asynchronous like every other outcome, so a caller's loop never re-enters itself.
    process.nextTick(done, err instanceof Error ? err : new Error(String(err)), 0, undefined, '');
    return;
  }
  let status = 0;
  let responseHeaders: http2.IncomingHttpHeaders | undefined;
  const chunks: Buffer[] = [];
  let settled = false;
  const finish = (error: Error | undefined) => {
    if (settled) return;
    settled = true;
    const result = error ? 'error' : `${Math.floor(status / 100)}xx`;
    providerRequestSeconds.observe({ origin: hostOf(origin), result }, secondsSince(started));
    done(error, status, responseHeaders, chunks.length > 0 ? Buffer.concat(chunks).toString('utf8') : '');
  };
  stream.setTimeout(timeoutMs, () => stream.close(http2.constants.NGHTTP2_CANCEL));
  stream.on('response', (h) => {
    status = Number(h[':status']);
    responseHeaders = h;
  });
  stream.on('data', (chunk: Buffer) => {
    if (status !== 200) chunks.push(chunk);
  });
  stream.on('end', () => finish(undefined));
  stream.on('error', finish);
  // Covers resets and our own timeout, which end the stream without 'end' or 'error'. Every stream closes, so
  // the Error (a stack trace, microseconds) is only made when nothing else finished it.
  stream.on('close', () => {
    if (!settled) finish(new Error(`stream closed (code ${stream.rstCode})`));
  });
  stream.end(body);
}
