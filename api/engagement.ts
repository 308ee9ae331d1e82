import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { jwtVerifier, UserTokenError } from '../core/user-token.ts';
import { tokensValidAfter } from '../db/sessions.ts';
import { CHANNEL_NAMES } from '../delivery/registry.ts';
import { authenticate, cachedAppSecrets } from '../gateway/auth.ts';
import { revoked } from '../gateway/login.ts';
import { userSigVerifier } from '../gateway/usersig-verifier.ts';
import { MAX_ACTION_CHARS, recordEngagement } from '../pushes/engagement.ts';
import type { ApiDeps } from './context.ts';
import { router } from './context.ts';
import { ApiError } from './errors.ts';
import { jsonBody, limitBody } from './middleware.ts';
import { commonErrors, jsonBodyOf, jsonContent, notFoundError } from './schemas.ts';

/** An engagement report is a few ids: a larger body is refused before it is read. */
const MAX_ENGAGEMENT_BODY_BYTES = 4096;

type UserEnv = { Variables: { user: { appId: string; accountId: string } } };

const bodySchema = z.strictObject({
  pushId: z.string().min(1).max(64).openapi({ description: 'The `pushId` of the notification’s data' }),
  event: z.enum(['opened', 'clicked']),
  channel: z.enum(CHANNEL_NAMES).openapi({ description: 'The channel whose notification was shown' }),
  action: z.string().min(1).max(MAX_ACTION_CHARS).optional().openapi({ description: 'What was clicked' }),
});

const report = createRoute({
  method: 'post',
  path: '/',
  tags: ['Engagement'],
  security: [{ userToken: [] }],
  summary: 'A device reports that it opened (or clicked) a push’s notification, with its user token',
  description:
    'Counted once per account and push (a click also counts as an open). Authenticated by the user token ' +
    '(`Authorization: Bearer <user token>`), not the app key, so a native app can call it directly.',
  request: { body: jsonBodyOf(bodySchema.openapi('EngagementReport')) },
  responses: {
    200: jsonContent(
      z.object({ counted: z.object({ opened: z.boolean(), clicked: z.boolean() }) }),
      'Recorded; `counted` says what was counted now (false: reported before)',
    ),
    ...commonErrors,
    ...notFoundError,
  },
});

/**
 * `POST /v1/engagement`, authenticated by a user token (the same JWT or UserSig the WebSocket takes) before
 * the body is read. A kicked account's older tokens are refused as at the gateway.
 */
export function engagementRoutes(deps: ApiDeps) {
  const secrets = cachedAppSecrets(deps.database);
  const verifiers = [jwtVerifier, userSigVerifier];
  const userAuth: MiddlewareHandler<UserEnv> = async (c, next) => {
    const token = c.req.header('authorization')?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    if (!token)
      throw new ApiError(401, 'unauthorized', 'Send the user token as `Authorization: Bearer <token>`');
    let identity: Awaited<ReturnType<typeof authenticate>>;
    try {
      identity = await authenticate(token, secrets, verifiers);
    } catch (err) {
      if (err instanceof UserTokenError)
        throw new ApiError(401, 'unauthorized', `The user token: ${err.message}`);
      throw err;
    }
    const after = await tokensValidAfter(deps.database.db, identity.appId, identity.accountId);
    if (revoked(identity.issuedAt, after))
      throw new ApiError(401, 'unauthorized', 'The user token: token_revoked: the account was kicked');
    c.set('user', { appId: identity.appId, accountId: identity.accountId });
    await next();
  };

  const routes = router<UserEnv>();
  routes.use('*', userAuth);
  routes.use(
    '*',
    limitBody(() => MAX_ENGAGEMENT_BODY_BYTES),
  );
  routes.use('*', jsonBody());
  routes.openapi(report, async (c) => {
    const { appId, accountId } = c.get('user');
    const body = c.req.valid('json');
    const result = await recordEngagement(deps.database.db, { appId, accountId, ...body });
    if (!result.found)
      throw new ApiError(
        404,
        'not_found',
        `Push ${body.pushId} does not exist in this app or has not started`,
      );
    return c.json({ counted: { opened: result.opened, clicked: result.clicked } }, 200);
  });
  return routes;
}
