import { startHttp1Fake } from './http1.ts';

/**
 * What the phone makers' fakes (Xiaomi, OPPO, vivo) share on top of fakes/http1.ts: a latency before each
 * answer, the peak of requests in flight, injected failures, and readers of their form and JSON bodies.
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
  let inFlight = 0;
  let maxInFlight = 0;
  const server = await startHttp1Fake(async (request) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      if (opts.latencyMs) await new Promise((r) => setTimeout(r, opts.latencyMs));
      const reply = await handle(request);
      return {
        status: reply.status ?? 200,
        body: reply.body,
        ...(reply.headers ? { headers: reply.headers } : {}),
      };
    } finally {
      inFlight--;
    }
  });
  return {
    url: server.url,
    ca: server.ca,
    get maxInFlight() {
      return maxInFlight;
    },
    close: () => server.close(),
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
