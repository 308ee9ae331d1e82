import { createRoute, z } from '@hono/zod-openapi';
import { PREVIEW_SAMPLE_SIZE, previewAudience, resolveCondition } from '../db/accounts.ts';
import { audienceSchema } from './accounts.ts';
import { type ApiDeps, router } from './context.ts';
import { commonErrors, jsonBodyOf, jsonContent, security } from './schemas.ts';

const preview = createRoute({
  method: 'post',
  path: '/preview',
  tags: ['Audience'],
  security,
  summary: 'How many accounts a push to this audience would reach now, and a few of them',
  description:
    'Counts the eligible accounts (imported or logged in) that match, with the same predicate a push ' +
    `snapshots its audience with, and returns the first ${PREVIEW_SAMPLE_SIZE} of them in import order.`,
  request: {
    body: jsonBodyOf(
      z
        .strictObject({
          audience: audienceSchema
            .default('all')
            .openapi({ description: '"all" or a condition, as in POST /v1/pushes' }),
        })
        .openapi('AudiencePreviewRequest'),
    ),
  },
  responses: {
    200: jsonContent(
      z
        .object({
          count: z.number().int(),
          sample: z.array(z.string()).openapi({ description: `Up to ${PREVIEW_SAMPLE_SIZE} account ids` }),
        })
        .openapi('AudiencePreview'),
      'The audience now',
    ),
    ...commonErrors,
    400: {
      ...commonErrors[400],
      description:
        '`invalid_request`, `invalid_json`, `unsupported_content_type`, `invalid_condition`, ' +
        '`condition_too_deep`, `condition_too_large`, `unknown_attribute`',
    },
  },
});

/** Mount at /v1/audience. */
export function audienceRoutes(deps: ApiDeps) {
  const r = router();
  r.openapi(preview, async (c) => {
    const appId = c.get('app').id;
    const { audience } = c.req.valid('json');
    const db = deps.database.db;
    const result = await previewAudience(
      db,
      appId,
      await resolveCondition(db, appId, audience, ['audience']),
    );
    return c.json(result, 200);
  });
  return r;
}
