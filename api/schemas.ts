import { z } from '@hono/zod-openapi';

/** The error body every 4xx and 5xx carries. */
export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'invalid_request' }),
      message: z.string().openapi({ example: 'accounts.0.id: must be 1-32 bytes' }),
    }),
  })
  .openapi('Error');

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorSchema } },
});

/** The error responses most routes share, for the OpenAPI document. */
export const commonErrors = {
  400: errorResponse(
    'Invalid input: `invalid_request`, `invalid_json`, `unsupported_content_type` and route-specific codes',
  ),
  401: errorResponse('`unauthorized`: missing or wrong API key'),
  413: errorResponse(
    '`payload_too_large`: the body is over HERALD_MAX_BODY_BYTES (HERALD_MAX_IMPORT_BODY_BYTES for batch imports)',
  ),
  500: errorResponse('`internal`: an unexpected failure; the body carries an id that is in the log'),
} as const;

export const notFoundError = { 404: errorResponse('`not_found`') } as const;
export const conflictError = (what: string) => ({ 409: errorResponse(what) }) as const;
export const tooManyError = {
  429: errorResponse('`quota_exceeded` or `too_frequent`, with Retry-After'),
} as const;

export const jsonContent = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

export const jsonBodyOf = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
});

export const security = [{ appKey: [] }];

/**
 * The `Idempotency-Key` header of a create route: the same key within 7 days and the same body is the same
 * resource. Keys starting with `v4:` belong to the Tencent layer (`v4:<MsgRandom>`); one namespace must not
 * reach into the other.
 */
export const idempotencyKeyHeader = (what: string) =>
  z.object({
    'idempotency-key': z
      .string()
      .min(1)
      .max(200)
      .refine(
        (k) => !k.startsWith('v4:'),
        'Idempotency-Key must not start with "v4:" (reserved for Tencent MsgRandom)',
      )
      .refine(
        (k) => !k.startsWith('schedule:'),
        'Idempotency-Key must not start with "schedule:" (reserved for the runs of schedules)',
      )
      .optional()
      .openapi({
        description: `Same key within 7 days and same body = same ${what} (200); keys starting with \`v4:\` or \`schedule:\` are reserved`,
      }),
  });

/**
 * The query of a list read newest first by a uuid cursor (pushes, campaigns, schedules): `cursor`, the
 * previous page's nextCursor, and `limit`, 1 to `max` rows.
 */
export const uuidPageQuery = (max: number, defaultLimit: number) => ({
  cursor: z.uuid('cursor must be the nextCursor of a previous page').optional(),
  limit: z.coerce.number().int().min(1).max(max).default(defaultLimit),
});
