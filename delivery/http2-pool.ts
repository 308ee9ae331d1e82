import http2 from 'node:http2';
import { rootCertificates } from 'node:tls';
import { providerRequestSeconds, secondsSince } from '../core/metrics.ts';

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

/** HTTP/2 sessions per origin, shared by every request of one provider client. */
export interface SessionPool {
  /**
   * One request on a stream of the next session for `origin` (round-robin; a slot whose session closed or got
   * GOAWAY is reconnected), answered through `done` rather than a promise: a provider page issues hundreds of
   * these from one loop. `headers` is read before this returns, so a caller may reuse and change one object
   * between calls; `body` may be one Buffer shared by many requests.
   */
  request(
    origin: string,
    headers: http2.OutgoingHttpHeaders,
    body: string | Buffer,
    done: ResponseCallback,
  ): void;
  close(): Promise<void>;
}

/** A request in flight: what its stream's shared listeners fill in, and what the timeout sweep looks at. */
interface Exchange {
  stream: http2.ClientHttp2Stream;
  /** The pool's in-flight set, left when the stream closes. */
  inFlight: Set<Exchange>;
  host: string;
  started: number;
  status: number;
  headers: http2.IncomingHttpHeaders | undefined;
  /** Only for a status other than 200, whose body says why. */
  chunks: Buffer[] | undefined;
  error: Error | undefined;
  done: ResponseCallback;
}

const EXCHANGE = Symbol('herald.exchange');
type TaggedStream = http2.ClientHttp2Stream & { [EXCHANGE]: Exchange };

/*
 * The stream listeners are the same four functions for every request, reading the request's state from the
 * stream, rather than five closures and a timer made per request (measured in docs/performance.md).
 */
function onResponse(this: TaggedStream, headers: http2.IncomingHttpHeaders): void {
  const x = this[EXCHANGE];
  x.status = Number(headers[':status']);
  x.headers = headers;
  if (x.status === 200) this.resume();
  else {
    x.chunks = [];
    this.on('data', onData);
  }
}

function onData(this: TaggedStream, chunk: Buffer): void {
  this[EXCHANGE].chunks?.push(chunk);
}

function onError(this: TaggedStream, error: Error): void {
  this[EXCHANGE].error ??= error;
}

/**
 * Every stream closes, after its 'end' or 'error': the one place a request finishes. A stream that closed
 * without either (a reset, the timeout's cancel) fails; its Error (a stack trace, microseconds) is made only then.
 */
function onClose(this: TaggedStream): void {
  const x = this[EXCHANGE];
  x.inFlight.delete(x);
  let error = x.error;
  if (!error && (x.status === 0 || !this.readableEnded))
    error = new Error(`stream closed (code ${this.rstCode})`);
  const result = error ? 'error' : `${Math.floor(x.status / 100)}xx`;
  providerRequestSeconds.observe({ origin: x.host, result }, secondsSince(x.started));
  const body = x.chunks && x.chunks.length > 0 ? Buffer.concat(x.chunks).toString('utf8') : '';
  x.done(error, x.status, x.headers, body);
}

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
 * `size` sessions per origin. An https:// origin is h2 over TLS, trusting `ca` besides the usual roots when
 * given; an http:// origin is h2c with prior knowledge (local fakes and gateways only). A request not over
 * `timeoutMs` after it started is cancelled by one sweep per pool (every timeoutMs/15 while any is in flight,
 * so it ends between timeoutMs and timeoutMs × 16/15), not by a timer per stream.
 */
export function createSessionPool(size: number, timeoutMs: number, ca?: string | Buffer): SessionPool {
  const pools = new Map<string, { slots: (http2.ClientHttp2Session | undefined)[]; next: number }>();
  const options: http2.SecureClientSessionOptions = ca ? { ca: [...rootCertificates, ca.toString()] } : {};
  const inFlight = new Set<Exchange>();
  let sweeper: NodeJS.Timeout | undefined;
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

  function session(origin: string): http2.ClientHttp2Session {
    if (closed) throw new Error('ClientClosed');
    let pool = pools.get(origin);
    if (!pool) {
      pool = { slots: new Array(size).fill(undefined), next: 0 };
      pools.set(origin, pool);
    }
    const i = pool.next++ % size;
    const current = pool.slots[i];
    // Node closes a session by itself after GOAWAY, so `closed` covers that too.
    if (current && !current.closed && !current.destroyed) return current;
    return connect(origin, pool.slots, i);
  }

  function sweep(): void {
    const expired = performance.now() - timeoutMs;
    for (const x of inFlight) {
      if (x.started > expired) continue;
      inFlight.delete(x);
      x.stream.close(http2.constants.NGHTTP2_CANCEL);
    }
    if (inFlight.size === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  }

  return {
    request(origin, headers, body, done) {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session(origin).request(headers);
      } catch (err) {
        // Asynchronous like every other outcome, so a caller's loop never re-enters itself.
        process.nextTick(done, err instanceof Error ? err : new Error(String(err)), 0, undefined, '');
        return;
      }
      const x: Exchange = {
        stream,
        inFlight,
        host: hostOf(origin),
        started: performance.now(),
        status: 0,
        headers: undefined,
        chunks: undefined,
        error: undefined,
        done,
      };
      (stream as TaggedStream)[EXCHANGE] = x;
      inFlight.add(x);
      sweeper ??= setInterval(sweep, Math.max(1, Math.floor(timeoutMs / 15))).unref();
      stream.on('response', onResponse);
      stream.on('error', onError);
      stream.on('close', onClose);
      stream.end(body);
    },
    async close() {
      closed = true;
      const open = [...pools.values()].flatMap((p) => p.slots).filter((s) => s && !s.destroyed);
      pools.clear();
      await Promise.all(open.map((s) => new Promise<void>((resolve) => s?.close(() => resolve()))));
      // Every stream has closed with its session; nothing is left for the sweep.
      clearInterval(sweeper);
      sweeper = undefined;
    },
  };
}
