import { createRoute, z } from '@hono/zod-openapi';
import { PROTOCOL } from '../gateway/protocol.ts';
import { router } from './context.ts';
import { ApiError } from './errors.ts';
import { ErrorSchema } from './schemas.ts';

const connect = createRoute({
  method: 'get',
  path: '/',
  tags: ['Gateway'],
  summary: `WebSocket endpoint for client devices (subprotocol ${PROTOCOL})`,
  description:
    'Upgrade to a WebSocket here, authenticated by a user token (see `POST /v1/accounts/{id}/token`): ' +
    `offer the subprotocols \`${PROTOCOL}\` and \`herald.token.<token>\`, or pass \`?token=<token>\`, or send ` +
    '`{"type":"auth","token":…}` as the first frame. Frames, close codes and sync are in docs/protocol.md. ' +
    'The app API key is not used here.',
  request: {
    query: z.object({ token: z.string().optional().openapi({ description: 'A user token' }) }),
  },
  responses: {
    101: { description: 'Switching protocols: the WebSocket is open' },
    426: {
      description: '`upgrade_required`: a plain HTTP request',
      content: { 'application/json': { schema: ErrorSchema } },
    },
  },
});

/** The upgrade itself is handled on the http server; a plain GET gets a 426 that says what to do. */
export function connectRoutes() {
  const r = router();
  r.openapi(connect, () => {
    throw new ApiError(
      426,
      'upgrade_required',
      `Connect with a WebSocket (subprotocol ${PROTOCOL})`,
      undefined,
      {
        upgrade: 'websocket',
      },
    );
  });
  return r;
}
