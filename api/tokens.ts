import { createRoute, z } from '@hono/zod-openapi';
import { mintUserToken } from '../core/user-token.ts';
import { accountIdSchema } from './accounts.ts';
import { type ApiDeps, router } from './context.ts';
import { commonErrors, jsonContent, security } from './schemas.ts';

export const MAX_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

const mint = createRoute({
  method: 'post',
  path: '/{id}/token',
  tags: ['Accounts'],
  security,
  summary: 'Mint a user token for a device to connect to the WebSocket gateway as this account',
  description:
    'A JWT (HS256 with the app secret key; `iss` = app id, `sub` = account id, `exp`). App servers can mint ' +
    'the same tokens themselves; see docs/protocol.md. Minting does not create the account: connecting does.',
  request: {
    params: z.object({ id: accountIdSchema.openapi({ param: { name: 'id', in: 'path' } }) }),
    body: {
      required: false,
      content: {
        'application/json': {
          schema: z.strictObject({
            ttlSeconds: z
              .number()
              .int()
              .min(60, 'ttlSeconds is at least 60')
              .max(MAX_TOKEN_TTL_SECONDS, `ttlSeconds is at most ${MAX_TOKEN_TTL_SECONDS} (30 days)`)
              .default(86_400),
          }),
        },
      },
    },
  },
  responses: {
    200: jsonContent(
      z.object({ token: z.string(), accountId: z.string(), expiresAt: z.string() }).openapi('UserToken'),
      'The token',
    ),
    ...commonErrors,
  },
});

export function tokensRoutes(_deps: ApiDeps) {
  const r = router();
  r.openapi(mint, async (c) => {
    const app = c.get('app');
    const accountId = c.req.valid('param').id;
    // An empty body means the defaults; the validator only sees a body that was sent.
    const body = (c.req.valid('json') as { ttlSeconds?: number } | undefined) ?? {};
    const { token, expiresAt } = await mintUserToken({
      appId: app.id,
      secretKey: app.secretKey,
      accountId,
      ttlSeconds: body.ttlSeconds ?? 86_400,
    });
    return c.json({ token, accountId, expiresAt: expiresAt.toISOString() }, 200);
  });
  return r;
}
