import path from 'node:path';
import { z } from 'zod';
import { parseEncryptionKey } from './secrets.ts';

/** Every setting Herald reads, from the environment, checked once at start-up. */
const emptyToUndefined = (v: unknown) => (v === '' ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());

const intSetting = (min: number, max: number, def: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number().int().min(min).max(max).default(def));

const ENCRYPTION_KEY_FORMAT = 'must be 32 bytes as base64 or 64 hex digits (openssl rand -base64 32)';
const splitList = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const booleanSetting = (def: 'true' | 'false') =>
  z.preprocess(
    emptyToUndefined,
    z
      .enum(['true', 'false', '1', '0'], 'must be true or false')
      .default(def)
      .transform((v) => v === 'true' || v === '1'),
  );

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
  /**
   * The Temporal Web UI's base URL, for the console's links to a push's workflow; `herald start` uses its dev
   * server's UI when unset.
   */
  HERALD_TEMPORAL_UI_URL: z.preprocess(emptyToUndefined, z.url({ protocol: /^https?$/ }).optional()),
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
  /**
   * Page ranges of one push sent at once (each an activity, on any worker); unset: 1 per worker polling the
   * task queue when the push starts its pages, at most 32.
   */
  HERALD_PAGE_PARALLELISM: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(32).optional()),
  /** Seconds between reconciler sweeps for rows without a workflow (pushes/reconcile.ts); 0 = no sweeps. */
  HERALD_RECONCILE_SECONDS: z.preprocess(
    emptyToUndefined,
    z.coerce.number().int().min(0).max(3600).default(60),
  ),
  /**
   * Seconds a stopping worker lets running activities finish; then they are canceled: a page activity ends
   * its pages in flight and hands its cursor over to the next worker. A stopping api process lets its live
   * fan-outs, frame writes and requests finish this long before it closes its sockets with 1001.
   */
  HERALD_SHUTDOWN_GRACE_SECONDS: z.preprocess(
    emptyToUndefined,
    z.coerce.number().min(0).max(3600).default(10),
  ),
  HERALD_DATA_DIR: z.preprocess(emptyToUndefined, z.string().default('./.herald')),
  HERALD_ROOT_KEY: z.preprocess(
    emptyToUndefined,
    z.string().min(32, 'must be at least 32 characters (it guards app creation and app limits)').optional(),
  ),
  /** Largest request body of any route, in bytes (refused with 413 while it streams in). */
  HERALD_MAX_BODY_BYTES: z.preprocess(
    emptyToUndefined,
    z.coerce
      .number()
      .int()
      .min(64 * 1024)
      .max(1024 ** 3)
      .default(1024 ** 2),
  ),
  /** Largest body of the batch imports (accounts, tag and attribute batches of 1,000 accounts). */
  HERALD_MAX_IMPORT_BODY_BYTES: z.preprocess(
    emptyToUndefined,
    z.coerce
      .number()
      .int()
      .min(64 * 1024)
      .max(1024 ** 3)
      .default(16 * 1024 ** 2),
  ),
  /** The largest daily push quota an app may give itself (the root API may set more). */
  HERALD_MAX_DAILY_PUSH_QUOTA: z.preprocess(
    emptyToUndefined,
    z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  ),
  /** The smallest interval between pushes an app may give itself (the root API may set less). */
  HERALD_MIN_PUSH_INTERVAL_MS: z.preprocess(
    emptyToUndefined,
    z.coerce.number().int().min(0).max(3_600_000).default(1000),
  ),
  /** Encrypts app secret keys and provider credentials at rest: 32 bytes, base64 or hex (core/secrets.ts). */
  HERALD_ENCRYPTION_KEY: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .refine((v) => parseEncryptionKey(v) !== undefined, ENCRYPTION_KEY_FORMAT)
      .optional(),
  ),
  /** Earlier encryption keys, comma-separated: still read, never written (until `herald keys reencrypt`). */
  HERALD_ENCRYPTION_KEYS_OLD: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .refine(
        (v) => splitList(v).every((k) => parseEncryptionKey(k) !== undefined),
        `each ${ENCRYPTION_KEY_FORMAT}`,
      )
      .transform(splitList)
      .default([]),
  ),
  /**
   * Token endpoints an FCM service account may name besides Google's, comma-separated: an origin
   * (`https://host:port`, any path) or an exact URL. The only way to allow plain http:// (tests' fakes).
   */
  HERALD_ALLOWED_TOKEN_URIS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .refine(
        (v) => splitList(v).every((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol)),
        'must be comma-separated http(s) URLs or origins',
      )
      .transform(splitList)
      .default([]),
  ),
  /**
   * The push services a Web Push subscription's endpoint may name, comma-separated: origins (`https://host[:port]`)
   * or wildcard origins (`https://*.domain`); `default` stands for the browsers' push services
   * (delivery/channels/webpush/push-services.ts). Unset: the default. The only way to allow plain http://.
   */
  HERALD_WEBPUSH_PUSH_SERVICES: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .refine(
        (v) =>
          splitList(v).every(
            (e) =>
              e === 'default' ||
              (/^https?:\/\/(\*\.)?[^/?#@\s*]+\/?$/i.test(e) && URL.canParse(e.replace('*.', ''))),
          ),
        'must be comma-separated origins (https://host[:port], https://*.domain) or the word default',
      )
      .transform(splitList)
      .optional(),
  ),
  APNS_URL: optionalString,
  APNS_SANDBOX_URL: optionalString,
  FCM_URL: z.preprocess(emptyToUndefined, z.url().default('https://fcm.googleapis.com')),
  /** Huawei Push Kit's messages:send origin and its OAuth 2.0 token endpoint. */
  HMS_URL: z.preprocess(emptyToUndefined, z.url().default('https://push-api.cloud.huawei.com')),
  HMS_TOKEN_URL: z.preprocess(
    emptyToUndefined,
    z.url().default('https://oauth-login.cloud.huawei.com/oauth2/v3/token'),
  ),
  /** Honor Push's sendMessage origin and its OAuth 2.0 token endpoint. */
  HONOR_URL: z.preprocess(emptyToUndefined, z.url().default('https://push-api.cloud.honor.com')),
  HONOR_TOKEN_URL: z.preprocess(
    emptyToUndefined,
    z.url().default('https://iam.developer.honor.com/auth/token'),
  ),
  XIAOMI_URL: z.preprocess(emptyToUndefined, z.url().default('https://api.xmpush.xiaomi.com')),
  OPPO_URL: z.preprocess(emptyToUndefined, z.url().default('https://api.push.oppomobile.com')),
  VIVO_URL: z.preprocess(emptyToUndefined, z.url().default('https://api-push.vivo.com.cn')),
  /** Per-statement ceiling on every database pool, in ms (0 = none); long snapshots raise it locally. */
  HERALD_STATEMENT_TIMEOUT_MS: intSetting(0, 3_600_000, 30_000),
  /** WebSocket frames a connection may send per second (token bucket), and the bucket's size. */
  HERALD_WS_FRAMES_PER_SECOND: intSetting(1, 100_000, 50),
  HERALD_WS_FRAME_BURST: intSetting(1, 100_000, 100),
  /** Database statements one connection may have running, and frames waiting behind them. */
  HERALD_WS_MAX_INFLIGHT: intSetting(1, 1000, 4),
  HERALD_WS_MAX_QUEUED: intSetting(0, 10_000, 32),
  /** `rate_limited` answers within 10 s after which the connection is closed (4429). */
  HERALD_WS_MAX_RATE_LIMITED: intSetting(1, 100_000, 100),
  /** Open WebSockets per account and per client IP, counted per api process. */
  HERALD_MAX_CONNECTIONS_PER_ACCOUNT: intSetting(1, 100_000, 20),
  HERALD_MAX_CONNECTIONS_PER_IP: intSetting(1, 10_000_000, 1000),
  /** Device tokens per account; registering one more evicts the least recently updated. */
  HERALD_MAX_DEVICES_PER_ACCOUNT: intSetting(1, 10_000, 20),
  /** Take the client IP from X-Forwarded-For's last hop (only behind a proxy that sets it). */
  HERALD_TRUST_PROXY: z.preprocess(
    emptyToUndefined,
    z
      .enum(['true', 'false', '1', '0'], 'must be true or false')
      .default('false')
      .transform((v) => v === 'true' || v === '1'),
  ),
  /**
   * Start workflows with Herald's Temporal search attributes (HeraldAppId, HeraldStatus, …). They must be
   * registered on the namespace (`herald temporal setup`; the dev server of `herald start` has them): false on
   * a cluster where they cannot be.
   */
  HERALD_SEARCH_ATTRIBUTES: booleanSetting('true'),
  /** `herald worker`: the port of its `/metrics` listener; 0 = none (`herald start` serves them on the API). */
  HERALD_WORKER_METRICS_PORT: intSetting(0, 65535, 0),
  /** When set, `/metrics` answers only `Authorization: Bearer <this>`. */
  HERALD_METRICS_TOKEN: optionalString,
  /** Label push metrics with the app id (one series per app: only with few apps). */
  HERALD_METRICS_APP_LABEL: booleanSetting('false'),
  /** Webhook endpoints may be private or loopback addresses (tests, or an installation inside one network). */
  HERALD_WEBHOOK_ALLOW_PRIVATE: booleanSetting('false'),
  /** How long one webhook batch is retried without a 2xx before its endpoint is disabled (3 days). */
  HERALD_WEBHOOK_GIVE_UP_SECONDS: intSetting(10, 30 * 86_400, 259_200),
  LOG_LEVEL: z.preprocess(
    emptyToUndefined,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
});

export type Config = z.infer<typeof configSchema> & { dataDir: string };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses the environment; a bad value throws one line naming the variable and what is wrong with it, never
 * the value itself (a DATABASE_URL carries a password, HERALD_ROOT_KEY is a secret).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = issue?.path.join('.') || 'environment';
    throw new ConfigError(`Invalid configuration: ${name}: ${issue?.message ?? 'invalid'}`);
  }
  return { ...parsed.data, dataDir: path.resolve(parsed.data.HERALD_DATA_DIR) };
}
