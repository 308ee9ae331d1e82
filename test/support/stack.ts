import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { inject } from 'vitest';
import type { ActivityTesting } from '../../activities/deps.ts';
import { type ApiHandle, startApi } from '../../cli/api.ts';
import { connectTemporal } from '../../cli/services.ts';
import { startWorker, type WorkerHandle } from '../../cli/worker.ts';
import { type Config, loadConfig } from '../../core/config.ts';
import { createLogger, type Logger } from '../../core/log.ts';
import { type CreatedApp, createApp } from '../../db/apps.ts';
import { connectDatabase, type Database } from '../../db/client.ts';
import type { FanoutBus } from '../../delivery/bus.ts';
import { type ProviderRegistry, providerRegistry } from '../../delivery/registry.ts';
import type { GatewayOptions } from '../../gateway/index.ts';

export interface TestStack {
  url: string;
  /** The WebSocket gateway of the API: `ws://…/v1/connect`. */
  wsUrl: string;
  api: ApiHandle;
  config: Config;
  database: Database;
  temporal: Client;
  worker: WorkerHandle | undefined;
  /** A fresh app with no pushing limits that get in a test's way. */
  newApp(opts?: { dailyPushQuota?: number; minPushIntervalMs?: number }): Promise<CreatedApp>;
  /** Starts (again) a worker on this stack's task queue. */
  startWorker(): Promise<WorkerHandle>;
  stop(): Promise<void>;
}

export interface TestStackOptions {
  providers?: ProviderRegistry;
  /** false: no in-process worker (a test that runs its own, e.g. in a child process). */
  worker?: boolean;
  env?: Record<string, string>;
  batchSize?: number;
  /** Gateway settings for the API (short timers, small buffers). */
  gateway?: Partial<GatewayOptions>;
  /** Test-only knobs of the worker's activities (a slow snapshot). */
  testing?: ActivityTesting;
  /** The gateway's fan-out bus, made from the stack's database (default: LISTEN/NOTIFY on it). */
  bus?: (database: Database) => FanoutBus;
  /** The API's and worker's logger (a test that reads the log lines). */
  log?: Logger;
}

/** The real API and worker against the run's PostgreSQL and Temporal, on a task queue of its own. */
export async function startTestStack(opts: TestStackOptions = {}): Promise<TestStack> {
  const config = loadConfig({
    PORT: '0',
    DATABASE_URL: inject('databaseUrl'),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `test-${randomBytes(4).toString('hex')}`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    HERALD_ROOT_KEY: 'test-root-key-0123456789abcdefghijklmn',
    // The reconciler sweeps the whole database: only a test about it turns its Schedule on.
    HERALD_RECONCILE_SECONDS: '0',
    ...opts.env,
  });
  const log = opts.log ?? createLogger(config.LOG_LEVEL, 'test');
  const database = connectDatabase(inject('databaseUrl'), 5);
  const temporal = await connectTemporal(config, inject('temporalAddress'));
  const providers = opts.providers ?? providerRegistry({});
  const launchWorker = () =>
    startWorker({
      config,
      temporalAddress: inject('temporalAddress'),
      database,
      providers,
      log,
      workflowBundle: { codePath: inject('workflowBundlePath') },
      batchSize: opts.batchSize,
      testing: opts.testing,
    });
  const stack: TestStack = {
    url: '',
    wsUrl: '',
    api: undefined as unknown as ApiHandle,
    config,
    database,
    temporal,
    worker: opts.worker === false ? undefined : await launchWorker(),
    newApp: (o = {}) =>
      createApp(database.db, {
        name: `test-${randomBytes(3).toString('hex')}`,
        dailyPushQuota: 10_000,
        minPushIntervalMs: 0,
        ...o,
      }),
    async startWorker() {
      stack.worker = await launchWorker();
      return stack.worker;
    },
    async stop() {
      await api.stop();
      await stack.worker?.stop();
      await providers.close();
      await temporal.connection.close();
      await database.close();
    },
  };
  const api = await startApi(
    { config, database, temporal, log },
    { gateway: opts.gateway, ...(opts.bus ? { bus: opts.bus(database) } : {}) },
  );
  stack.url = api.url;
  stack.api = api;
  stack.wsUrl = `${api.url.replace(/^http/, 'ws')}/v1/connect`;
  return stack;
}

/** A small JSON client for the tests: sends the app key, returns status and parsed body. */
export function client(baseUrl: string, apiKey?: string) {
  return async <T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as T };
  };
}

export async function waitFor<T>(
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await fn();
  while (!ok(last)) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await fn();
  }
  return last;
}
