import { createRoute, z } from '@hono/zod-openapi';
import { checkTimezone } from '../db/accounts.ts';
import { type App, removeChannelCredentials, setChannelCredentials, updateAppSettings } from '../db/apps.ts';
import { type Channel, InvalidCredentialsError } from '../delivery/channel.ts';
import { CHANNEL_NAMES, CHANNELS, perChannel, providerSettings } from '../delivery/registry.ts';
import { sendWindowSchema } from '../pushes/local-delivery.ts';
import { throttleSchema } from '../pushes/throttle.ts';
import { type ApiDeps, router } from './context.ts';
import { ApiError } from './errors.ts';
import { checkCeilings } from './limits.ts';
import { commonErrors, jsonBodyOf, jsonContent, security } from './schemas.ts';

const tags = ['App'];

export const MAX_FREQUENCY_CAP = 1000;
export const MAX_CAP_WINDOW_HOURS = 168;

const FrequencyCapSchema = z
  .object({
    max: z.number().int().min(1).max(MAX_FREQUENCY_CAP).openapi({
      description: 'At most this many capped pushes per account in any window',
    }),
    windowHours: z.number().int().min(1).max(MAX_CAP_WINDOW_HOURS).default(24).openapi({
      description: 'The rolling window, in hours (default 24)',
    }),
  })
  .strict()
  .openapi('FrequencyCap');

const AppSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    sdkAppId: z.number(),
    adminIdentifier: z.string(),
    dailyPushQuota: z.number(),
    minPushIntervalMs: z.number(),
    frequencyCap: z
      .object({ max: z.number(), windowHours: z.number() })
      .nullable()
      .openapi({ description: 'At most `max` capped pushes per account in any `windowHours`; null: no cap' }),
    defaultThrottlePerMinute: z.number().nullable().openapi({
      description: 'The throttle of a push that names none (recipients notified per minute); null = none',
    }),
    attributeSlots: z.number(),
    defaultTimezone: z
      .string()
      .openapi({ description: 'The zone of accounts without one, for local-time delivery and send windows' }),
    defaultWindow: z
      .object({ from: z.string(), to: z.string() })
      .nullable()
      .openapi({ description: 'The send window of pushes that name none; null: any hour' }),
    credentials: z.object(perChannel((c) => c.credentialsViewSchema.nullable())),
  })
  .openapi('App');

/** Never the keys themselves: only whether they are set and the ids that name them. */
function appView(a: App): z.infer<typeof AppSchema> {
  return {
    id: a.id,
    name: a.name,
    sdkAppId: a.sdkAppId,
    adminIdentifier: a.adminIdentifier,
    dailyPushQuota: a.dailyPushQuota,
    minPushIntervalMs: a.minPushIntervalMs,
    frequencyCap: a.frequencyCap,
    defaultThrottlePerMinute: a.defaultThrottlePerMinute,
    attributeSlots: a.attrSlots,
    defaultTimezone: a.defaultTimezone,
    defaultWindow: a.defaultWindow ?? null,
    credentials: perChannel((c) => {
      const stored = a.channelCredentials[c.name];
      return stored === undefined ? null : c.viewCredentials(stored);
    }),
  };
}

const get = createRoute({
  method: 'get',
  path: '/',
  tags,
  security,
  summary: 'This app: settings, and which provider credentials are set',
  responses: { 200: jsonContent(AppSchema, 'The app'), ...commonErrors },
});

const patch = createRoute({
  method: 'patch',
  path: '/',
  tags,
  security,
  summary:
    'Change the app’s name, quota, minimum push interval, Tencent admin identifier (within the operator’s ceilings), frequency cap, default zone, default send window or default throttle',
  request: {
    body: jsonBodyOf(
      z.strictObject({
        name: z.string().trim().min(1).max(100).optional(),
        dailyPushQuota: z.number().int().min(1).max(1_000_000).optional(),
        minPushIntervalMs: z.number().int().min(0).max(3_600_000).optional(),
        defaultThrottlePerMinute: throttleSchema.nullable().optional(),
        adminIdentifier: z.string().min(1).max(32).optional(),
        frequencyCap: FrequencyCapSchema.nullable().optional(),
        defaultTimezone: z.string().optional().openapi({
          description: 'IANA zone name (default UTC); unknown: 400 invalid_timezone',
        }),
        defaultWindow: sendWindowSchema.nullable().optional(),
      }),
    ),
  },
  responses: { 200: jsonContent(AppSchema, 'The app'), ...commonErrors },
});

const putCredentials = (channel: Channel) =>
  createRoute({
    method: 'put',
    path: `/credentials/${channel.name}`,
    tags,
    security,
    summary: channel.credentialsSummary,
    request: { body: jsonBodyOf(channel.credentialsSchema) },
    responses: { 200: jsonContent(AppSchema, 'The app'), ...commonErrors },
  });

const deleteCredentials = createRoute({
  method: 'delete',
  path: '/credentials/{provider}',
  tags,
  security,
  summary: `Remove ${CHANNELS.map((c) => c.label).join(' or ')} credentials`,
  request: { params: z.object({ provider: z.enum(CHANNEL_NAMES) }) },
  responses: { 200: jsonContent(AppSchema, 'The app'), ...commonErrors },
});

export function appSettingsRoutes({ config, database }: ApiDeps) {
  const r = router();
  const saved = (row: App | undefined) => {
    if (!row) throw new ApiError(404, 'not_found', 'The app no longer exists');
    return appView(row);
  };
  const settings = providerSettings(config);
  r.openapi(get, (c) => c.json(appView(c.get('app')), 200));
  r.openapi(patch, async (c) => {
    const body = c.req.valid('json');
    // The operator's ceilings (HERALD_MAX_DAILY_PUSH_QUOTA, HERALD_MIN_PUSH_INTERVAL_MS): api/limits.ts.
    checkCeilings(config, body, c.get('app'));
    const { defaultTimezone, ...rest } = body;
    const patch = {
      ...rest,
      ...(defaultTimezone === undefined
        ? {}
        : { defaultTimezone: await checkTimezone(database.db, defaultTimezone, ['defaultTimezone']) }),
    };
    return c.json(appView(await updateAppSettings(database.db, c.get('app').id, patch)), 200);
  });
  for (const channel of CHANNELS) {
    r.openapi(putCredentials(channel), async (c) => {
      let stored: unknown;
      try {
        const current = c.get('app').channelCredentials[channel.name];
        stored = await channel.storeCredentials(c.req.valid('json'), settings, current);
      } catch (err) {
        if (err instanceof InvalidCredentialsError)
          throw new ApiError(400, 'invalid_credentials', err.message);
        throw err;
      }
      // Sealed under the encryption key (db/apps.ts → core/secrets.ts) before it reaches the row.
      return c.json(
        saved(await setChannelCredentials(database.db, c.get('app').id, channel.name, stored)),
        200,
      );
    });
  }
  r.openapi(deleteCredentials, async (c) => {
    const { provider } = c.req.valid('param');
    return c.json(saved(await removeChannelCredentials(database.db, c.get('app').id, provider)), 200);
  });
  return r;
}
