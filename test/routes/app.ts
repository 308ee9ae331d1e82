import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createApi } from '../../api/app.ts';
import { connectTemporal } from '../../cli/services.ts';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { createApp } from '../../db/apps.ts';
import { connectDatabase } from '../../db/client.ts';

export interface RouteResponse {
  status: number;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

export interface RequestOptions {
  /** A JSON value, or a string sent as it is. */
  body?: unknown;
  headers?: Record<string, string>;
  /** The bearer key; the app's own unless given (null: none). */
  key?: string | null;
}

/**
 * The Hono app of the API, called through `app.request()` with no HTTP server, against the run's database
 * and Temporal. No worker polls its task queue, so a push it starts only waits there.
 */
export async function openRoutes() {
  const config = loadConfig({
    DATABASE_URL: inject('databaseUrl'),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `routes-${randomBytes(4).toString('hex')}`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    HERALD_ROOT_KEY: 'test-root-key-0123456789abcdefghijklmn',
  });
  const log = createLogger(config.LOG_LEVEL, 'test');
  const database = connectDatabase(inject('databaseUrl'), 2);
  const temporal = await connectTemporal(config, inject('temporalAddress'));
  const api = createApi({ config, database, temporal, log });
  const app = await createApp(database.db, {
    name: `routes-${randomBytes(3).toString('hex')}`,
    dailyPushQuota: 10_000,
    minPushIntervalMs: 0,
  });

  async function request(method: string, path: string, opts: RequestOptions = {}): Promise<RouteResponse> {
    const key = opts.key === undefined ? app.apiKey : opts.key;
    const body =
      opts.body === undefined
        ? undefined
        : typeof opts.body === 'string'
          ? opts.body
          : JSON.stringify(opts.body);
    const res = await api.request(path, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        // A Request built in process carries no Content-Length; an HTTP client always sends one.
        ...(body !== undefined
          ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }
          : {}),
        ...opts.headers,
      },
      body,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : {} };
  }

  return {
    request,
    async close() {
      await temporal.connection.close();
      await database.close();
    },
  };
}

/** A time this many ms from now, as the API takes it. */
export const inFromNow = (ms: number) => new Date(Date.now() + ms).toISOString();
