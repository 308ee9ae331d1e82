import { createRoute, z } from '@hono/zod-openapi';
import { type DeviceRow, ENVIRONMENTS, listDevices, registerDevice, removeDevice } from '../db/devices.ts';
import {
  asChannelName,
  CHANNEL_NAMES,
  channelOf,
  devicePlatform,
  providerSettings,
} from '../delivery/registry.ts';
import { accountIdSchema } from './accounts.ts';
import { type ApiDeps, router } from './context.ts';
import { ApiError } from './errors.ts';
import { commonErrors, jsonContent, notFoundError, security } from './schemas.ts';

const tags = ['Devices'];

export const DeviceSchema = z
  .object({
    platform: z.enum(CHANNEL_NAMES),
    token: z.string(),
    accountId: z.string(),
    environment: z.enum(ENVIRONMENTS),
    topic: z.string().nullable(),
    deviceId: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    disabledAt: z.string().nullable(),
    disabledReason: z.string().nullable(),
  })
  .openapi('Device');

export function deviceView(d: DeviceRow) {
  return {
    platform: asChannelName(d.platform),
    token: d.token,
    accountId: d.accountId,
    environment: d.environment,
    topic: d.topic,
    deviceId: d.deviceId,
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
    disabledAt: d.disabledAt ? d.disabledAt.toISOString() : null,
    disabledReason: d.disabledReason,
  };
}

/** The app's id of the installation: its tokens of several channels are one device (docs/pushes.md). */
export const deviceIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, "letters, digits, '.', '_', ':' and '-' only")
  .openapi({
    description:
      'The app’s id of this installation. Tokens of several channels with the same deviceId are one ' +
      'device: it holds one token per channel, gets one notification per push and counts once against the cap.',
  });

const accountParam = accountIdSchema.openapi({ param: { name: 'id', in: 'path' } });
const deviceParams = z.object({
  id: accountParam,
  platform: z.enum(CHANNEL_NAMES).openapi({ param: { name: 'platform', in: 'path' } }),
  token: z
    .string()
    .min(1)
    .max(4096)
    .openapi({
      param: { name: 'token', in: 'path' },
      description:
        'APNs: hex; FCM: the registration token; Web Push: the subscription JSON in base64url (docs/webpush.md)',
    }),
});

const put = createRoute({
  method: 'put',
  path: '/{id}/devices/{platform}/{token}',
  tags,
  security,
  summary: 'Register a device token for an account (a token of another account moves here)',
  description:
    'Idempotent. Re-registering a token that a provider reported dead enables it again. APNs tokens are ' +
    'hex (64 digits or more) and stored lower-case; FCM tokens are 1–4096 characters.',
  request: {
    params: deviceParams,
    body: {
      required: false,
      content: {
        'application/json': {
          schema: z.strictObject({
            environment: z.enum(ENVIRONMENTS).default('production').openapi({
              description: 'APNs endpoint to use: sandbox for development builds',
            }),
            topic: z.string().min(1).max(255).optional().openapi({
              description: 'APNs topic (bundle id) when it differs from the app’s credentials',
            }),
            deviceId: deviceIdSchema.optional(),
          }),
        },
      },
    },
  },
  responses: {
    200: jsonContent(
      z.object({ device: DeviceSchema, movedFrom: z.string().nullable() }),
      'Updated (re-registered, or moved from `movedFrom`)',
    ),
    201: jsonContent(z.object({ device: DeviceSchema, movedFrom: z.null() }), 'Registered'),
    ...commonErrors,
  },
});

const list = createRoute({
  method: 'get',
  path: '/{id}/devices',
  tags,
  security,
  summary: 'The devices of an account, enabled and disabled',
  request: { params: z.object({ id: accountParam }) },
  responses: {
    200: jsonContent(z.object({ devices: z.array(DeviceSchema) }), 'Devices'),
    ...commonErrors,
  },
});

const remove = createRoute({
  method: 'delete',
  path: '/{id}/devices/{platform}/{token}',
  tags,
  security,
  summary: 'Remove a device token from an account',
  request: { params: deviceParams },
  responses: {
    204: { description: 'Removed' },
    ...commonErrors,
    ...notFoundError,
  },
});

export function devicesRoutes(deps: ApiDeps) {
  const r = router();
  const { db } = deps.database;
  const settings = providerSettings(deps.config);

  r.openapi(put, async (c) => {
    const { id, platform, token } = c.req.valid('param');
    const body =
      (c.req.valid('json') as {
        environment?: 'sandbox' | 'production';
        topic?: string;
        deviceId?: string;
      }) ?? {};
    const result = await registerDevice(
      db,
      c.get('app').id,
      {
        accountId: id,
        platform: devicePlatform(platform, settings),
        token,
        environment: body.environment,
        topic: body.topic,
        deviceId: body.deviceId,
      },
      { maxDevices: deps.config.HERALD_MAX_DEVICES_PER_ACCOUNT },
    );
    // A malformed token or topic is a DeviceTokenError: 400 invalid_device_token through the error handler.
    const view = { device: deviceView(result.device), movedFrom: result.movedFrom };
    return result.created ? c.json({ ...view, movedFrom: null }, 201) : c.json(view, 200);
  });

  r.openapi(list, async (c) => {
    const rows = await listDevices(db, c.get('app').id, c.req.valid('param').id);
    return c.json({ devices: rows.map(deviceView) }, 200);
  });

  r.openapi(remove, async (c) => {
    const { id, platform, token } = c.req.valid('param');
    if (!(await removeDevice(db, c.get('app').id, id, channelOf(platform), token))) {
      throw new ApiError(404, 'not_found', `Account ${id} has no ${platform} device with this token`);
    }
    return c.body(null, 204);
  });
  return r;
}
