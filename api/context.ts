import { OpenAPIHono } from '@hono/zod-openapi';
import type { Client } from '@temporalio/client';
import type { Env } from 'hono';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import type { App } from '../db/apps.ts';
import type { Database } from '../db/client.ts';
import { ApiError, describeZodError } from './errors.ts';

export interface ApiDeps {
  config: Config;
  database: Database;
  temporal: Client;
  log: Logger;
}

export type AppEnv = { Variables: { app: App } };

/** A router whose validation failures are our 400 `invalid_request` with the field to fix. */
export function router<E extends Env = AppEnv>() {
  return new OpenAPIHono<E>({
    defaultHook: (result) => {
      if (!result.success) throw new ApiError(400, 'invalid_request', describeZodError(result.error));
    },
  });
}
