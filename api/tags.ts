import { createRoute, z } from '@hono/zod-openapi';
import { MAX_BATCH_ACCOUNTS } from '../db/accounts.ts';
import {
  addTags,
  getTags,
  MAX_TAG_BYTES,
  MAX_TAGS_PER_ACCOUNT,
  removeAllTags,
  removeTags,
} from '../db/tags.ts';
import {
  AccountIdsBody,
  accountParam,
  audienceErrors,
  BatchResultSchema,
  changeOneAccount,
  ONE_ID,
  oneAccount,
} from './accounts.ts';
import { type ApiDeps, router } from './context.ts';
import { conflictError, jsonBodyOf, jsonContent, notFoundError, security } from './schemas.ts';

const tags = ['Tags'];

const tagList = z.array(z.string()).openapi({
  description: `Tags of 1–${MAX_TAG_BYTES} bytes of UTF-8; at most ${MAX_TAGS_PER_ACCOUNT} in one request`,
  minItems: 1,
  maxItems: MAX_TAGS_PER_ACCOUNT,
  example: ['vip', 'beta'],
});
const TagsBody = z.strictObject({ tags: tagList }).openapi('TagList');
const AccountTagsSchema = z.object({ id: z.string(), tags: z.array(z.string()) }).openapi('AccountTags');
const TagBatchBody = z
  .strictObject({
    accounts: z
      .array(z.strictObject({ id: z.string(), tags: tagList }))
      .openapi({ minItems: 1, maxItems: MAX_BATCH_ACCOUNTS }),
  })
  .openapi('TagBatch');

const tagErrors = {
  ...audienceErrors,
  400: {
    ...audienceErrors[400],
    description: `${audienceErrors[400].description}, \`invalid_tag\`, \`too_many_tags\``,
  },
};

const oneResponses = (conflict: boolean) => ({
  200: jsonContent(AccountTagsSchema, 'The account’s tags now'),
  ...tagErrors,
  ...notFoundError,
  ...(conflict
    ? conflictError(
        `\`tag_limit_exceeded\`: the account would have more than ${MAX_TAGS_PER_ACCOUNT} tags; nothing was added`,
      )
    : {}),
});
const one = (method: 'get' | 'delete', summary: string) =>
  createRoute({
    method,
    path: '/accounts/{id}/tags',
    tags,
    security,
    summary,
    request: { params: accountParam },
    responses: oneResponses(false),
  });
const oneWithBody = (path: string, summary: string) =>
  createRoute({
    method: 'post',
    path: `/accounts/{id}${path}`,
    tags,
    security,
    summary,
    request: { params: accountParam, body: jsonBodyOf(TagsBody) },
    responses: oneResponses(path === '/tags'),
  });

const getOne = one('get', 'The tags of an account');
const addOne = oneWithBody(
  '/tags',
  `Add tags to an account (it may have at most ${MAX_TAGS_PER_ACCOUNT}); tags it has are kept once`,
);
const removeOne = oneWithBody('/tags/remove', 'Remove tags from an account');
const removeAllOne = one('delete', 'Remove every tag of an account');

const batch = <B extends z.ZodType>(path: string, summary: string, body: B, description?: string) =>
  createRoute({
    method: 'post',
    path: `/tags/${path}`,
    tags,
    security,
    summary,
    description,
    request: { body: jsonBodyOf(body) },
    responses: {
      200: jsonContent(BatchResultSchema, 'Done; failed lists accounts left unchanged'),
      ...tagErrors,
    },
  });

const addMany = batch(
  'add',
  `Add tags to up to ${MAX_BATCH_ACCOUNTS} accounts`,
  TagBatchBody,
  `An account that would pass ${MAX_TAGS_PER_ACCOUNT} tags is left unchanged and listed in failed ` +
    '(`tag_limit_exceeded`), as is an account that does not exist (`not_found`); the others are changed. ' +
    'Anything else wrong fails the whole batch before anything is written.',
);
const removeMany = batch('remove', `Remove tags from up to ${MAX_BATCH_ACCOUNTS} accounts`, TagBatchBody);
const removeAllMany = batch(
  'remove-all',
  `Remove every tag of up to ${MAX_BATCH_ACCOUNTS} accounts`,
  AccountIdsBody,
);
const getMany = createRoute({
  method: 'post',
  path: '/tags/get',
  tags,
  security,
  summary: `The tags of up to ${MAX_BATCH_ACCOUNTS} accounts`,
  request: { body: jsonBodyOf(AccountIdsBody) },
  responses: {
    200: jsonContent(
      z.object({ accounts: z.array(AccountTagsSchema), notFound: z.array(z.string()) }),
      'Tags of the accounts that exist, in the order asked; the ids that do not exist',
    ),
    ...audienceErrors,
  },
});

/** Tag routes: `/accounts/{id}/tags…` for one account, `/tags/…` for batches. Mount at /v1. */
export function tagsRoutes(deps: ApiDeps) {
  const r = router();
  const db = () => deps.database.db;

  const current = oneAccount((appId, ids) => getTags(db(), appId, ids));
  const applyOne = changeOneAccount(current);

  r.openapi(getOne, async (c) => c.json(await current(c.get('app').id, c.req.valid('param').id), 200));

  r.openapi(addOne, async (c) => {
    const appId = c.get('app').id;
    const { id } = c.req.valid('param');
    const { tags: list } = c.req.valid('json');
    return c.json(await applyOne(appId, id, () => addTags(db(), appId, [{ id, tags: list }])), 200);
  });

  r.openapi(removeOne, async (c) => {
    const appId = c.get('app').id;
    const { id } = c.req.valid('param');
    const { tags: list } = c.req.valid('json');
    return c.json(await applyOne(appId, id, () => removeTags(db(), appId, [{ id, tags: list }])), 200);
  });

  r.openapi(removeAllOne, async (c) => {
    const appId = c.get('app').id;
    const { id } = c.req.valid('param');
    const result = await applyOne(appId, id, () => removeAllTags(db(), appId, [id]), ONE_ID);
    return c.json(result, 200);
  });

  r.openapi(addMany, async (c) => {
    const { accounts } = c.req.valid('json');
    return c.json(await addTags(db(), c.get('app').id, accounts), 200);
  });

  r.openapi(removeMany, async (c) => {
    const { accounts } = c.req.valid('json');
    return c.json(await removeTags(db(), c.get('app').id, accounts), 200);
  });

  r.openapi(removeAllMany, async (c) => {
    const { accounts } = c.req.valid('json');
    return c.json(await removeAllTags(db(), c.get('app').id, accounts), 200);
  });

  r.openapi(getMany, async (c) => {
    const { accounts } = c.req.valid('json');
    return c.json(await getTags(db(), c.get('app').id, accounts), 200);
  });

  return r;
}
