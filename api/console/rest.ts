/**
 * The console's only way to read or change anything: a call of the REST API, in process, with the session's
 * key. Validation, quotas, errors and tenant separation are the REST API's own, so the console cannot drift
 * from it; what it shows of a refusal is the API's error code and message.
 */
import type { Context } from 'hono';
import type { ConsoleSession } from '../../db/console-sessions.ts';
import { ACT_AS_APP_HEADER } from '../middleware.ts';
import { REQUEST_ID_HEADER, requestIdOf } from '../request-log.ts';

export type Fetch = (request: Request) => Response | Promise<Response>;

export interface ApiFailure {
  status: number;
  code: string;
  message: string;
}

export type RestResult<T> = { ok: true; status: number; body: T } | ({ ok: false } & ApiFailure);

/** A refusal to show on the page (thrown by `must`). */
export class ConsoleApiError extends Error {
  constructor(readonly failure: ApiFailure) {
    super(failure.message);
  }
}

export interface RestOptions {
  body?: unknown;
  query?: Record<string, string | undefined>;
  idempotencyKey?: string;
  /** Call without acting as the session's app (the root key's own routes, or a key being checked). */
  key?: string;
  actAsApp?: boolean;
}

export type Rest = <T = unknown>(method: string, path: string, opts?: RestOptions) => Promise<RestResult<T>>;

/** The REST caller of one console request, acting with its session's key (and, for a root session, its app). */
export function restFor(
  fetch: Fetch,
  c: Context,
  session: Pick<ConsoleSession, 'key' | 'kind' | 'appId'> | undefined,
): Rest {
  return async <T>(method: string, path: string, opts: RestOptions = {}): Promise<RestResult<T>> => {
    const key = opts.key ?? session?.key;
    const headers: Record<string, string> = {};
    if (key) headers.authorization = `Bearer ${key}`;
    const actAs = opts.actAsApp ?? opts.key === undefined;
    if (actAs && session?.kind === 'root' && session.appId) headers[ACT_AS_APP_HEADER] = session.appId;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
    const requestId = requestIdOf(c);
    if (requestId) headers[REQUEST_ID_HEADER] = requestId;
    const query = Object.entries(opts.query ?? {}).filter(
      (e): e is [string, string] => e[1] !== undefined && e[1] !== '',
    );
    const url = new URL(path, 'http://herald.internal');
    for (const [k, v] of query) url.searchParams.set(k, v);
    const res = await fetch(
      new Request(url, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      }),
    );
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (res.ok) return { ok: true, status: res.status, body: parsed as T };
    const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    return {
      ok: false,
      status: res.status,
      code: error?.code ?? 'error',
      message: error?.message ?? `HTTP ${res.status}`,
    };
  };
}

/** The body of a successful call, or the API's refusal thrown for the page to show. */
export function must<T>(result: RestResult<T>): T {
  if (!result.ok) throw new ConsoleApiError(result);
  return result.body;
}
