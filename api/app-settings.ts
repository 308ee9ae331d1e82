import { createRoute, z } from '@hono/zod-openapi';
import { eq } from 'drizzle-orm';
import { importPKCS8 } from 'jose';
import { type App, updateAppSettings } from '../db/apps.ts';
import { apps } from '../db/schema.ts';
import { type ApiDeps, router } from './context.ts';
import { ApiError } from './errors.ts';
import { checkCeilings } from './limits.ts';
import { commonErrors, jsonBodyOf, jsonContent, security } from './schemas.ts';

const tags = ['App'];

const AppSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    sdkAppId: z.number(),
    adminIdentifier: z.string(),
    dailyPushQuota: z.number(),
    minPushIntervalMs: z.number(),
    attributeSlots: z.number(),
    credentials: z.object({
      apns: z.object({ keyId: z.string(), teamId: z.string(), topic: z.string() }).nullable(),
      fcm: z.object({ projectId: z.string(), clientEmail: z.string() }).nullable(),
    }),
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
    attributeSlots: a.attrSlots,
    credentials: {
      apns: a.apnsCredentials
        ? { keyId: a.apnsCredentials.keyId, teamId: a.apnsCredentials.teamId, topic: a.apnsCredentials.topic }
        : null,
      fcm: a.fcmCredentials
        ? { projectId: a.fcmCredentials.projectId, clientEmail: a.fcmCredentials.clientEmail }
        : null,
    },
  };
}

const apnsBody = z.strictObject({
  keyId: z
    .string()
    .regex(/^[A-Z0-9]{10}$/, 'keyId is the 10-character id of the .p8 key in your Apple account'),
  teamId: z.string().regex(/^[A-Z0-9]{10}$/, 'teamId is your 10-character Apple team id'),
  topic: z.string().min(1).max(255).openapi({ description: 'The app bundle id' }),
  privateKey: z
    .string()
    .includes('BEGIN PRIVATE KEY', { message: 'privateKey is the PEM text of the .p8 file' }),
});

const fcmBody = z.strictObject({
  serviceAccount: z
    .looseObject({
      type: z.literal('service_account', 'serviceAccount.type must be "service_account"'),
      project_id: z.string().min(1),
      client_email: z.email(),
      private_key: z.string().includes('BEGIN PRIVATE KEY'),
      token_uri: z.url().optional(),
    })
    .openapi({ description: 'The service-account JSON downloaded from the Firebase console' }),
});

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
    'Change the app’s name, quota, minimum push interval or Tencent admin identifier (within the operator’s ceilings)',
  request: {
    body: jsonBodyOf(
      z.strictObject({
        name: z.string().trim().min(1).max(100).optional(),
        dailyPushQuota: z.number().int().min(1).max(1_000_000).optional(),
        minPushIntervalMs: z.number().int().min(0).max(3_600_000).optional(),
        adminIdentifier: z.string().min(1).max(32).optional(),
      }),
    ),
  },
  responses: { 200: jsonContent(AppSchema, 'The app'), ...commonErrors },
});

const putCredentials = (provider: 'apns' | 'fcm') =>
  createRoute({
    method: 'put',
    path: `/credentials/${provider}`,
    tags,
    security,
    summary: provider === 'apns' ? 'Set the APNs token-auth key (.p8)' : 'Set the FCM service account',
    request: { body: jsonBodyOf(provider === 'apns' ? apnsBody : fcmBody) },
    responses: { 200: jsonContent(AppSchema, 'The app'), ...commonErrors },
  });

const deleteCredentials = createRoute({
  method: 'delete',
  path: '/credentials/{provider}',
  tags,
  security,
  summary: 'Remove APNs or FCM credentials',
  request: { params: z.object({ provider: z.enum(['apns', 'fcm']) }) },
  responses: { 200: jsonContent(AppSchema, 'The app'), ...commonErrors },
});

async function checkKey(pem: string, alg: 'ES256' | 'RS256', what: string): Promise<void> {
  try {
    await importPKCS8(pem, alg);
  } catch {
    throw new ApiError(
      400,
      'invalid_credentials',
      `${what} is not a ${alg === 'ES256' ? 'P-256 (.p8)' : 'RSA'} private key in PKCS#8 PEM`,
    );
  }
}

export function appSettingsRoutes({ config, database }: ApiDeps) {
  const r = router();
  const save = async (appId: string, set: Partial<typeof apps.$inferInsert>) => {
    const [row] = await database.db.update(apps).set(set).where(eq(apps.id, appId)).returning();
    if (!row) throw new ApiError(404, 'not_found', 'The app no longer exists');
    return appView(row);
  };
  r.openapi(get, (c) => c.json(appView(c.get('app')), 200));
  r.openapi(patch, async (c) => {
    const body = c.req.valid('json');
    // The operator's ceilings (HERALD_MAX_DAILY_PUSH_QUOTA, HERALD_MIN_PUSH_INTERVAL_MS): api/limits.ts.
    checkCeilings(config, body, c.get('app'));
    return c.json(appView(await updateAppSettings(database.db, c.get('app').id, body)), 200);
  });
  r.openapi(putCredentials('apns'), async (c) => {
    const body = c.req.valid('json') as z.infer<typeof apnsBody>;
    await checkKey(body.privateKey, 'ES256', 'privateKey');
    return c.json(await save(c.get('app').id, { apnsCredentials: body }), 200);
  });
  r.openapi(putCredentials('fcm'), async (c) => {
    const { serviceAccount } = c.req.valid('json') as z.infer<typeof fcmBody>;
    await checkKey(serviceAccount.private_key, 'RS256', 'serviceAccount.private_key');
    const fcmCredentials = {
      projectId: serviceAccount.project_id,
      clientEmail: serviceAccount.client_email,
      serviceAccount,
    };
    return c.json(await save(c.get('app').id, { fcmCredentials }), 200);
  });
  r.openapi(deleteCredentials, async (c) => {
    const { provider } = c.req.valid('param');
    return c.json(
      await save(c.get('app').id, provider === 'apns' ? { apnsCredentials: null } : { fcmCredentials: null }),
      200,
    );
  });
  return r;
}
