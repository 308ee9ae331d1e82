import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { testCertificate } from './keys.ts';

/**
 * The HTTPS (HTTP/1.1, keep-alive) server behind the phone makers' fakes (Xiaomi, OPPO, vivo), which speak
 * plain HTTPS like the real services: the test certificate of ./keys.ts, one handler per path.
 */

export interface VendorRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface VendorReply {
  status?: number;
  headers?: Record<string, string>;
  body: unknown;
}

export type VendorHandler = (request: VendorRequest) => VendorReply | Promise<VendorReply>;

export interface VendorServer {
  url: string;
  ca: string;
  readonly maxInFlight: number;
  close(): Promise<void>;
}

/** What every vendor fake's test control has: injected failures, in the vendor's own words. */
export type FailureKind = 'throttle' | 'quota' | 'server';

export interface InjectedFailure {
  kind: FailureKind;
  retryAfterSeconds?: number | undefined;
}

export async function startVendorServer(
  handle: VendorHandler,
  opts: { latencyMs?: number | undefined } = {},
): Promise<VendorServer> {
  const { key, cert } = await testCertificate();
  let inFlight = 0;
  let maxInFlight = 0;
  const sockets = new Set<Socket>();
  const server = https.createServer({ key, cert, keepAlive: true }, (req, res) => {
    void (async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        if (opts.latencyMs) await new Promise((r) => setTimeout(r, opts.latencyMs));
        const reply = await handle({
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
        res.writeHead(reply.status ?? 200, {
          'content-type': 'application/json;charset=UTF-8',
          ...reply.headers,
        });
        res.end(body);
      } catch {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('Internal Server Error');
      } finally {
        inFlight--;
      }
    })();
  });
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ca: cert,
    get maxInFlight() {
      return maxInFlight;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A header's single value. */
export const header = (request: VendorRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** The form fields of an application/x-www-form-urlencoded body, or undefined for another content type. */
export function formOf(request: VendorRequest): URLSearchParams | undefined {
  const type = header(request, 'content-type') ?? '';
  return type.startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(request.body) : undefined;
}

/** A JSON object body sent as application/json, or undefined. */
export function jsonOf(request: VendorRequest): Record<string, unknown> | undefined {
  if (!(header(request, 'content-type') ?? '').startsWith('application/json')) return undefined;
  try {
    const value: unknown = JSON.parse(request.body);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Characters as the vendors count them by default: code points. */
export const chars = (s: string): number => [...s].length;

/** A Retry-After header for an injected failure that asks for one. */
export const retryAfter = (f: InjectedFailure): Record<string, string> =>
  f.retryAfterSeconds === undefined ? {} : { 'retry-after': String(f.retryAfterSeconds) };
