import path from 'node:path';
import { z } from 'zod';

/** Every setting Herald reads, from the environment, checked once at start-up. */
const emptyToUndefined = (v: unknown) => (v === '' ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());

export const configSchema = z.object({
  PORT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(65535).default(8080)),
  HOST: z.preprocess(emptyToUndefined, z.string().default('127.0.0.1')),
  DATABASE_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
  ),
  DATABASE_POOL_SIZE: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(500).default(10)),
  TEMPORAL_ADDRESS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^[^\s:/]+:\d+$/, 'must be host:port, e.g. 127.0.0.1:7233')
      .optional(),
  ),
  TEMPORAL_NAMESPACE: z.preprocess(emptyToUndefined, z.string().min(1).default('default')),
  TEMPORAL_TASK_QUEUE: z.preprocess(emptyToUndefined, z.string().min(1).default('herald')),
  TEMPORAL_CLI: optionalString,
  TEMPORAL_UI_PORT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(65535).default(8233)),
  HERALD_POSTGRES_PORT: z.preprocess(
    emptyToUndefined,
    z.coerce.number().int().min(1).max(65535).default(54329),
  ),
  HERALD_TEMPORAL_PORT: z.preprocess(
    emptyToUndefined,
    z.coerce.number().int().min(1).max(65535).default(7233),
  ),
  /** Recipients per offline page (keyset batch) of a push. */
  HERALD_PAGE_SIZE: z.preprocess(emptyToUndefined, z.coerce.number().int().min(10).max(10_000).default(1000)),
  /** Seconds between reconciler sweeps for rows without a workflow (pushes/reconcile.ts); 0 = no sweeps. */
  HERALD_RECONCILE_SECONDS: z.preprocess(
    emptyToUndefined,
    z.coerce.number().int().min(0).max(3600).default(60),
  ),
  /**
   * Seconds a stopping worker lets running activities finish; then they are canceled: a page activity ends
   * its pages in flight and hands its cursor over to the next worker.
   */
  HERALD_SHUTDOWN_GRACE_SECONDS: z.preprocess(
    emptyToUndefined,
    z.coerce.number().min(0).max(3600).default(10),
  ),
  HERALD_DATA_DIR: z.preprocess(emptyToUndefined, z.string().default('./.herald')),
  HERALD_ROOT_KEY: z.preprocess(
    emptyToUndefined,
    z.string().min(16, 'must be at least 16 characters (it guards app creation)').optional(),
  ),
  APNS_URL: optionalString,
  APNS_SANDBOX_URL: optionalString,
  FCM_URL: z.preprocess(emptyToUndefined, z.url().default('https://fcm.googleapis.com')),
  LOG_LEVEL: z.preprocess(
    emptyToUndefined,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
});

export type Config = z.infer<typeof configSchema> & { dataDir: string };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; a bad value throws one line naming the variable and what is wrong with it. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = issue?.path.join('.') ?? 'environment';
    const value = typeof issue?.path[0] === 'string' ? env[issue.path[0]] : undefined;
    throw new ConfigError(
      `Invalid configuration: ${name}${value === undefined ? '' : `=${JSON.stringify(value)}`}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return { ...parsed.data, dataDir: path.resolve(parsed.data.HERALD_DATA_DIR) };
}
