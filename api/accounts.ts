import { createRoute, z } from '@hono/zod-openapi';
import { type FieldPath, rerooting } from '../core/errors.ts';
import {
  type AccountDetail,
  type AccountSummary,
  accountIdProblem,
  DEFAULT_PAGE_SIZE,
  deleteAccounts,
  getAccount,
  importAccounts,
  listAccounts,
  MAX_ACCOUNT_ID_BYTES,
  MAX_BATCH_ACCOUNTS,
  MAX_FACE_URL_LENGTH,
  MAX_NICK_LENGTH,
  MAX_PAGE_SIZE,
  resolveCondition,
  updateAccountProfile,
} from '../db/accounts.ts';
import { asChannelName, CHANNEL_NAMES } from '../delivery/registry.ts';
import { type ApiDeps, router } from './context.ts';
import { ApiError } from './errors.ts';
import { commonErrors, jsonBodyOf, jsonContent, notFoundError, security } from './schemas.ts';

/** Account id: 1–32 bytes of UTF-8, no control characters (the rule is db/accounts.ts accountIdProblem). */
export const accountIdSchema = z.string().superRefine((id, ctx) => {
  const problem = accountIdProblem(id);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const MAX_BATCH = MAX_BATCH_ACCOUNTS;

// ——— shared by the audience routes (accounts, tags, attributes, audience) ———

/**
 * A batch function called for one account (`[id]`) speaks of `accounts[0]`; a single-account route moves that
 * place to its own names: `accounts[0].tags[1]` → `tags[1]` (ONE), `accounts[0]` → `id` (ONE_ID).
 */
export type OneAccountPaths = { from: FieldPath; to: FieldPath };
export const ONE: OneAccountPaths = { from: ['accounts', 0], to: [] };
export const ONE_ID: OneAccountPaths = { from: ['accounts', 0], to: ['id'] };

/** Runs a batch function for one account, its errors placed in the single-account route's names. */
export const forOne = <T>(paths: OneAccountPaths, fn: () => Promise<T>): Promise<T> =>
  rerooting(paths.from, paths.to, fn);

export const accountParam = z.object({
  id: z.string().openapi({
    param: { name: 'id', in: 'path' },
    description: `Account id, 1–${MAX_ACCOUNT_ID_BYTES} bytes of UTF-8 (percent-encode it in the path)`,
    example: 'alice',
  }),
});

export const accountNotFound = (id: string) =>
  new ApiError(404, 'not_found', `account ${JSON.stringify(id)} does not exist in this app`);

/** Reads one account through a batch getter (tags, attributes): its entry, or a 404. */
export function oneAccount<T>(get: (appId: string, ids: string[]) => Promise<{ accounts: T[] }>) {
  return async (appId: string, id: string): Promise<T> => {
    const { accounts } = await forOne(ONE_ID, () => get(appId, [id]));
    const found = accounts[0];
    if (!found) throw accountNotFound(id);
    return found;
  };
}

/**
 * Runs a batch change (tags, attributes) for one account and answers with that account's entry afterwards; the
 * batch's failure for it becomes the route's error: 404 for an unknown account, 409 for any other reason.
 */
export function changeOneAccount<T>(current: (appId: string, id: string) => Promise<T>) {
  return async (
    appId: string,
    id: string,
    change: () => Promise<{ failed: { code: string; message: string }[] }>,
    paths: OneAccountPaths = ONE,
  ): Promise<T> => {
    const { failed } = await forOne(paths, change);
    const failure = failed[0];
    if (failure?.code === 'not_found') throw accountNotFound(id);
    if (failure) throw new ApiError(409, failure.code, failure.message);
    return current(appId, id);
  };
}

export const AccountFailureSchema = z
  .object({
    id: z.string(),
    code: z.enum(['not_found', 'tag_limit_exceeded']),
    message: z.string(),
  })
  .openapi('AccountFailure');

export const BatchResultSchema = z
  .object({
    succeeded: z.number().int().openapi({ description: 'Accounts the change applied to' }),
    failed: z.array(AccountFailureSchema).openapi({
      description: 'Accounts left unchanged, and why; every other account of the batch was changed',
    }),
  })
  .openapi('BatchResult');

export const accountIdList = z.array(z.string()).openapi({
  description: `1–${MAX_BATCH_ACCOUNTS} account ids`,
  minItems: 1,
  maxItems: MAX_BATCH_ACCOUNTS,
});

/** `{"accounts": ["id", …]}`, the body of the batch calls that take ids only. */
export const AccountIdsBody = z.strictObject({ accounts: accountIdList }).openapi('AccountIds');

const batchErrors = {
  400: {
    description:
      'Invalid input, nothing written: `invalid_request`, `invalid_json`, `unsupported_content_type`, ' +
      '`batch_too_large`, `invalid_account_id` and the route’s own codes',
    content: { 'application/json': { schema: commonErrors[400].content['application/json'].schema } },
  },
};
export const audienceErrors = { ...commonErrors, ...batchErrors };

const iso = (d: Date | null) => (d ? d.toISOString() : null);

// ——— views ———

const conditionDoc =
  'An audience condition: `TagsAnd`, `TagsOr`, `TagsNot` (tag lists), `AttrsAnd`, `AttrsOr`, `AttrsNot` ' +
  '({name: value}), nested `all` / `any` (lists of conditions) and `not` (a condition); keys of one object are ' +
  'ANDed and `{}` matches everyone. See docs/audience.md.';
export const ConditionSchema = z
  .record(z.string(), z.unknown())
  .openapi('Condition', { description: conditionDoc, example: { TagsOr: ['vip', 'beta'] } });

/** `"all"` or a condition object; anything else is a 400 that says so. */
export const audienceSchema = z.union([z.literal('all'), ConditionSchema], {
  error: 'must be "all" or a condition object ({} also means everyone)',
});

export const AccountSchema = z
  .object({
    id: z.string(),
    nick: z.string().nullable(),
    faceUrl: z.string().nullable(),
    timezone: z
      .string()
      .nullable()
      .openapi({ description: "IANA zone for local-time delivery; null: the app's default zone" }),
    tags: z.array(z.string()),
    attributes: z.record(z.string(), z.string()).openapi({ description: 'Attribute values by name' }),
    language: z.string().nullable().openapi({
      description: 'BCP 47 tag (canonical): the variant of a localized push it gets; null: the default',
    }),
    eligible: z.boolean().openapi({ description: 'Receives pushes: imported, or logged in at least once' }),
    importedAt: z.string().nullable(),
    lastLoginAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('Account');

export const AccountDetailSchema = AccountSchema.extend({
  devices: z.array(
    z.object({
      platform: z.enum(CHANNEL_NAMES),
      token: z.string(),
      environment: z.enum(['sandbox', 'production']),
      topic: z.string().nullable(),
      createdAt: z.string(),
      updatedAt: z.string(),
      disabledAt: z.string().nullable(),
      disabledReason: z.string().nullable(),
    }),
  ),
}).openapi('AccountDetail');

export const accountView = (a: AccountSummary): z.infer<typeof AccountSchema> => ({
  id: a.id,
  nick: a.nick,
  faceUrl: a.faceUrl,
  timezone: a.timezone,
  tags: a.tags,
  attributes: a.attributes,
  language: a.language,
  eligible: a.eligible,
  importedAt: iso(a.importedAt),
  lastLoginAt: iso(a.lastLoginAt),
  createdAt: a.createdAt.toISOString(),
});

const accountDetailView = (a: AccountDetail): z.infer<typeof AccountDetailSchema> => ({
  ...accountView(a),
  devices: a.devices.map((d) => ({
    ...d,
    platform: asChannelName(d.platform),
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
    disabledAt: iso(d.disabledAt),
  })),
});

const PageSchema = z
  .object({
    accounts: z.array(AccountSchema),
    nextCursor: z
      .string()
      .nullable()
      .openapi({ description: 'Pass as `cursor` for the next page; null on the last page' }),
  })
  .openapi('AccountPage');

// ——— routes ———

const languageField = z.string().nullable().optional().openapi({
  description:
    'BCP 47 language tag (e.g. `zh-Hant-TW`), stored canonical; picks the variant of localized pushes. null clears it; absent leaves it',
  example: 'zh-CN',
});

const tags = ['Accounts'];

const importRoute = createRoute({
  method: 'post',
  path: '/',
  tags,
  security,
  summary: `Import accounts (up to ${MAX_BATCH_ACCOUNTS}); re-import is a no-op that may update nick`,
  description:
    'Imported accounts are eligible for pushes. An id listed twice counts once. The whole batch is checked ' +
    'before anything is written.',
  request: {
    body: jsonBodyOf(
      z
        .strictObject({
          accounts: z
            .array(
              z.strictObject({
                id: z.string().openapi({ description: `1–${MAX_ACCOUNT_ID_BYTES} bytes of UTF-8` }),
                nick: z.string().optional().openapi({ maxLength: MAX_NICK_LENGTH }),
                faceUrl: z.string().optional().openapi({ maxLength: MAX_FACE_URL_LENGTH }),
                language: languageField,
                timezone: z.string().nullable().optional().openapi({
                  description:
                    'IANA zone name (e.g. "Asia/Kolkata"); null clears it; absent keeps it. Unknown: 400 invalid_timezone',
                }),
              }),
            )
            .openapi({ minItems: 1, maxItems: MAX_BATCH_ACCOUNTS }),
        })
        .openapi('AccountImport'),
    ),
  },
  responses: {
    200: jsonContent(
      z.object({
        imported: z.number().openapi({ description: 'Distinct accounts in the request' }),
        created: z.number().openapi({ description: 'Of which new' }),
      }),
      'Imported',
    ),
    ...audienceErrors,
  },
});

const listQuery = z.object({
  condition: z.string().optional().openapi({
    description: 'Only accounts matching this condition, as JSON (URL-encoded), e.g. {"TagsOr":["vip"]}',
    example: '{"TagsOr":["vip"]}',
  }),
  eligible: z
    .enum(['true', 'false'])
    .optional()
    .openapi({ description: 'true: only accounts that receive pushes; false: only those that do not (yet)' }),
  cursor: z.string().optional().openapi({ description: 'The nextCursor of the previous page' }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_SIZE)
    .default(DEFAULT_PAGE_SIZE)
    .openapi({ description: `Page size, 1–${MAX_PAGE_SIZE}` }),
});

const conditionErrors =
  'Invalid input: `invalid_request`, `invalid_cursor`, and for the condition `invalid_condition`, ' +
  '`condition_too_deep`, `condition_too_large`, `unknown_attribute`';

const listRoute = createRoute({
  method: 'get',
  path: '/',
  tags,
  security,
  summary: 'List accounts in import order, a page at a time, optionally filtered by a condition',
  request: { query: listQuery },
  responses: {
    200: jsonContent(PageSchema, 'A page of accounts'),
    ...commonErrors,
    400: { ...commonErrors[400], description: conditionErrors },
  },
});

const searchRoute = createRoute({
  method: 'post',
  path: '/search',
  tags,
  security,
  summary: 'List the accounts matching a condition (the condition in the body), a page at a time',
  request: {
    body: jsonBodyOf(
      z
        .strictObject({
          condition: audienceSchema.optional(),
          eligible: z.boolean().optional(),
          cursor: z.string().optional(),
          limit: z.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
        })
        .openapi('AccountSearch'),
    ),
  },
  responses: {
    200: jsonContent(PageSchema, 'A page of accounts'),
    ...commonErrors,
    400: { ...commonErrors[400], description: conditionErrors },
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/{id}',
  tags,
  security,
  summary: 'One account: tags, attributes by name, devices, eligibility, last login',
  request: { params: accountParam },
  responses: {
    200: jsonContent(AccountDetailSchema, 'The account'),
    ...commonErrors,
    ...notFoundError,
  },
});

const patchRoute = createRoute({
  method: 'patch',
  path: '/{id}',
  tags,
  security,
  summary: 'Change an account’s nick, face URL, language or zone (fields left out stay as they are)',
  request: {
    params: accountParam,
    body: jsonBodyOf(
      z
        .strictObject({
          nick: z.string().optional().openapi({ maxLength: MAX_NICK_LENGTH }),
          faceUrl: z.string().optional().openapi({ maxLength: MAX_FACE_URL_LENGTH }),
          language: languageField,
          timezone: z.string().nullable().optional().openapi({
            description:
              'IANA zone name (e.g. "Asia/Kolkata"); null clears it; absent keeps it. Unknown: 400 invalid_timezone',
          }),
        })
        .openapi('AccountPatch'),
    ),
  },
  responses: {
    200: jsonContent(AccountDetailSchema, 'The account'),
    ...commonErrors,
    ...notFoundError,
  },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/{id}',
  tags,
  security,
  summary: 'Delete an account with its tags, attributes, devices and the pushes still waiting for it',
  request: { params: accountParam },
  responses: {
    204: { description: 'Deleted' },
    ...commonErrors,
    ...notFoundError,
  },
});

const deleteManyRoute = createRoute({
  method: 'post',
  path: '/delete',
  tags,
  security,
  summary: `Delete up to ${MAX_BATCH_ACCOUNTS} accounts, as DELETE /v1/accounts/{id} does one`,
  request: { body: jsonBodyOf(AccountIdsBody) },
  responses: {
    200: jsonContent(
      z.object({ deleted: z.number().int(), notFound: z.array(z.string()) }),
      'Deleted; the ids that did not exist are listed',
    ),
    ...audienceErrors,
  },
});

function parseConditionParam(raw: string | undefined): unknown {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    throw new ApiError(
      400,
      'invalid_condition',
      'condition: is not valid JSON; pass the condition as URL-encoded JSON, e.g. {"TagsOr":["vip"]}',
    );
  }
}

export function accountsRoutes(deps: ApiDeps) {
  const r = router();
  const db = () => deps.database.db;

  r.openapi(importRoute, async (c) => {
    const { accounts } = c.req.valid('json');
    const result = await importAccounts(db(), c.get('app').id, accounts);
    return c.json(result, 200);
  });

  const list = async (
    appId: string,
    q: { condition?: unknown; eligible?: boolean | undefined; cursor?: string | undefined; limit: number },
  ) => {
    const condition = await resolveCondition(db(), appId, q.condition, ['condition']);
    const page = await listAccounts(db(), appId, {
      condition,
      eligible: q.eligible,
      cursor: q.cursor,
      limit: q.limit,
    });
    return { accounts: page.accounts.map(accountView), nextCursor: page.nextCursor };
  };

  r.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    const page = await list(c.get('app').id, {
      condition: parseConditionParam(q.condition),
      eligible: q.eligible === undefined ? undefined : q.eligible === 'true',
      cursor: q.cursor,
      limit: q.limit,
    });
    return c.json(page, 200);
  });

  r.openapi(searchRoute, async (c) => {
    const body = c.req.valid('json');
    return c.json(await list(c.get('app').id, body), 200);
  });

  r.openapi(deleteManyRoute, async (c) => {
    const { accounts } = c.req.valid('json');
    const result = await deleteAccounts(db(), c.get('app').id, accounts);
    return c.json({ deleted: result.deleted.length, notFound: result.notFound }, 200);
  });

  r.openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    const account = await getAccount(db(), c.get('app').id, id);
    if (!account) throw accountNotFound(id);
    return c.json(accountDetailView(account), 200);
  });

  r.openapi(patchRoute, async (c) => {
    const { id } = c.req.valid('param');
    const appId = c.get('app').id;
    if (!(await updateAccountProfile(db(), appId, id, c.req.valid('json')))) throw accountNotFound(id);
    const account = await getAccount(db(), appId, id);
    if (!account) throw accountNotFound(id);
    return c.json(accountDetailView(account), 200);
  });

  r.openapi(deleteRoute, async (c) => {
    const { id } = c.req.valid('param');
    const result = await forOne(ONE_ID, () => deleteAccounts(db(), c.get('app').id, [id]));
    if (result.deleted.length === 0) throw accountNotFound(id);
    return c.body(null, 204);
  });

  return r;
}
