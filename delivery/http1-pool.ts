import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { providerRequestSeconds, secondsSince } from '../core/metrics.ts';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * Keep-alive HTTP/1.1 connections of one provider client. The batch APIs (Huawei, Honor) take up to 1,000
 * devices per request, so a page is a handful of requests: a few pooled sockets carry them, and nothing
 * depends on the provider speaking HTTP/2.
 */
export interface Http1Pool {
  /** POSTs `body`; resolves with the whole answer (any status), rejects on a network error or the timeout. */
  post(url: URL, headers: Record<string, string>, body: string, timeoutMs: number): Promise<HttpResponse>;
  /** Waits for the requests in flight, then closes every socket. */
  close(): Promise<void>;
}

/** A provider's answer is a small JSON document; anything larger is refused rather than buffered. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/** `maxSockets` per origin; `ca` is trusted besides the usual roots (tests' fakes, private gateways). */
export function createHttp1Pool(opts: { maxSockets: number; ca?: string | Buffer | undefined }): Http1Pool {
  const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets, scheduling: 'lifo' as const };
  const tlsAgent = new https.Agent({
    ...agentOptions,
    ...(opts.ca ? { ca: [...rootCertificates, opts.ca.toString()] } : {}),
  });
  const plainAgent = new http.Agent(agentOptions);
  const inFlight = new Set<Promise<unknown>>();
  let closed = false;

  function post(
    url: URL,
    headers: Record<string, string>,
    body: string,
    timeoutMs: number,
  ): Promise<HttpResponse> {
    if (closed) return Promise.reject(new Error('ClientClosed'));
    const started = performance.now();
    const host = url.host;
    const p = new Promise<HttpResponse>((resolve, reject) => {
      const options: http.RequestOptions = {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        timeout: timeoutMs,
      };
      const onResponse = (res: http.IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new Error('response too large'));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          providerRequestSeconds.observe(
            { origin: host, result: `${Math.floor(status / 100)}xx` },
            secondsSince(started),
          );
          resolve({ status, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      };
      const req =
        url.protocol === 'https:'
          ? https.request(url, { ...options, agent: tlsAgent }, onResponse)
          : http.request(url, { ...options, agent: plainAgent }, onResponse);
      req.on('timeout', () =>
        req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })),
      );
      req.on('error', (err) => {
        providerRequestSeconds.observe({ origin: host, result: 'error' }, secondsSince(started));
        reject(err);
      });
      req.end(body);
    });
    const tracked = p.catch(() => {});
    inFlight.add(tracked);
    void tracked.finally(() => inFlight.delete(tracked));
    return p;
  }

  return {
    post,
    async close() {
      closed = true;
      await Promise.all(inFlight);
      tlsAgent.destroy();
      plainAgent.destroy();
    },
  };
}
