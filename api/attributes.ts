import { createRoute, z } from '@hono/zod-openapi';
import { MAX_BATCH_ACCOUNTS } from '../db/accounts.ts';
import {
  getAttributeNames,
  getAttributeValues,
  MAX_ATTRIBUTE_NAME_BYTES,
  MAX_ATTRIBUTE_VALUE_BYTES,
  removeAttributeName,
  removeAttributeValues,
  setAttributeNames,
  setAttributeValues,
} from '../db/attributes.ts';
import {
  AccountIdsBody,
  accountParam,
  audienceErrors,
  BatchResultSchema,
  changeOneAccount,
  oneAccount,
} from './accounts.ts';
import { type ApiDeps, router } from './context.ts';
import { commonErrors, conflictError, jsonBodyOf, jsonContent, notFoundError, security } from './schemas.ts';

const tags = ['Attributes'];

const NamesSchema = z
  .object({
    slots: z.number().int().openapi({ description: 'Slots of this app, numbered 0 .. slots - 1' }),
    names: z.array(z.object({ slot: z.number().int(), name: z.string() })),
  })
  .openapi('AttributeNames');

const valueMap = z.record(z.string(), z.string()).openapi({
  description: `{"name": "value"}: names set with PATCH /v1/attributes; values of 0–${MAX_ATTRIBUTE_VALUE_BYTES} bytes of UTF-8`,
  example: { city: 'Shenzhen', level: 'gold' },
});
const nameList = z.array(z.string()).openapi({ minItems: 1, example: ['city'] });
const AccountAttributesSchema = z
  .object({ id: z.string(), attributes: z.record(z.string(), z.string()) })
  .openapi('AccountAttributes');

const valueErrors = {
  ...audienceErrors,
  400: {
    ...audienceErrors[400],
    description: `${audienceErrors[400].description}, \`unknown_attribute\` (naming it), \`invalid_attribute_name\`, \`invalid_attribute_value\``,
  },
};

// ——— names ———

const getNames = createRoute({
  method: 'get',
  path: '/attributes',
  tags,
  security,
  summary: 'The app’s attribute names and their slots',
  responses: { 200: jsonContent(NamesSchema, 'Names by slot'), ...commonErrors },
});

const setNames = createRoute({
  method: 'patch',
  path: '/attributes',
  tags,
  security,
  summary: 'Set or rename the attribute names of some slots (other slots keep theirs)',
  description:
    'Values are stored by slot, so giving a named slot another name renames the attribute and keeps every ' +
    `value. Names are 1–${MAX_ATTRIBUTE_NAME_BYTES} bytes of UTF-8, each held by one slot.`,
  request: {
    body: jsonBodyOf(
      z
        .strictObject({
          names: z
            .record(z.string(), z.string())
            .openapi({ description: '{"slot": "name"}', example: { '0': 'city', '1': 'level' } }),
        })
        .openapi('AttributeNamesUpdate'),
    ),
  },
  responses: {
    200: jsonContent(NamesSchema, 'The names now'),
    ...commonErrors,
    400: {
      ...commonErrors[400],
      description:
        '`invalid_request`, `attribute_slot_out_of_range`, `invalid_attribute_name`, `duplicate_attribute_name`',
    },
    ...conflictError('`attribute_name_taken`: another slot, not renamed in this call, has the name'),
  },
});

const removeName = createRoute({
  method: 'delete',
  path: '/attributes/{name}',
  tags,
  security,
  summary: 'Remove an attribute name and its values from every account',
  request: {
    params: z.object({ name: z.string().openapi({ param: { name: 'name', in: 'path' }, example: 'city' }) }),
  },
  responses: {
    200: jsonContent(
      z.object({ slot: z.number().int(), name: z.string(), accountsCleared: z.number().int() }),
      'Removed; accountsCleared accounts had a value',
    ),
    ...commonErrors,
    404: {
      description: '`unknown_attribute`: no slot has that name',
      content: notFoundError[404].content,
    },
    ...conflictError('`attribute_in_use`: a push that has not started yet targets this attribute'),
  },
});

// ——— values, one account ———

const oneResponses = {
  200: jsonContent(AccountAttributesSchema, 'The account’s attributes now'),
  ...valueErrors,
  ...notFoundError,
};
const SetOneBody = z.strictObject({ attributes: valueMap }).openapi('AttributeValues');
const RemoveOneBody = z.strictObject({ names: nameList }).openapi('AttributeNameList');
const getOne = createRoute({
  method: 'get',
  path: '/accounts/{id}/attributes',
  tags,
  security,
  summary: 'The attribute values of an account, by name',
  request: { params: accountParam },
  responses: oneResponses,
});
const setOne = createRoute({
  method: 'post',
  path: '/accounts/{id}/attributes',
  tags,
  security,
  summary: 'Set attribute values of an account (others keep theirs)',
  request: { params: accountParam, body: jsonBodyOf(SetOneBody) },
  responses: oneResponses,
});
const removeOne = createRoute({
  method: 'post',
  path: '/accounts/{id}/attributes/remove',
  tags,
  security,
  summary: 'Remove attribute values of an account',
  request: { params: accountParam, body: jsonBodyOf(RemoveOneBody) },
  responses: oneResponses,
});

// ——— values, batches ———

const SetManyBody = z
  .strictObject({
    accounts: z
      .array(z.strictObject({ id: z.string(), attributes: valueMap }))
      .openapi({ minItems: 1, maxItems: MAX_BATCH_ACCOUNTS }),
  })
  .openapi('AttributeValuesBatch');
const RemoveManyBody = z
  .strictObject({
    accounts: z
      .array(z.strictObject({ id: z.string(), names: nameList }))
      .openapi({ minItems: 1, maxItems: MAX_BATCH_ACCOUNTS }),
  })
  .openapi('AttributeRemovalBatch');

const batchRoute = <B extends z.ZodType>(path: string, summary: string, body: B) =>
  createRoute({
    method: 'post',
    path: `/attributes/${path}`,
    tags,
    security,
    summary,
    description:
      'An unknown attribute name or a bad value fails the whole batch before anything is written; accounts ' +
      'that do not exist are listed in failed (`not_found`) and the others are changed.',
    request: { body: jsonBodyOf(body) },
    responses: {
      200: jsonContent(BatchResultSchema, 'Done; failed lists accounts left unchanged'),
      ...valueErrors,
    },
  });
const setMany = batchRoute(
  'set',
  `Set attribute values of up to ${MAX_BATCH_ACCOUNTS} accounts`,
  SetManyBody,
);
const removeMany = batchRoute(
  'remove',
  `Remove attribute values of up to ${MAX_BATCH_ACCOUNTS} accounts`,
  RemoveManyBody,
);
const getMany = createRoute({
  method: 'post',
  path: '/attributes/get',
  tags,
  security,
  summary: `The attribute values of up to ${MAX_BATCH_ACCOUNTS} accounts, by name`,
  request: { body: jsonBodyOf(AccountIdsBody) },
  responses: {
    200: jsonContent(
      z.object({ accounts: z.array(AccountAttributesSchema), notFound: z.array(z.string()) }),
      'Values of the accounts that exist, in the order asked; the ids that do not exist',
    ),
    ...audienceErrors,
  },
});

/** Attribute routes: names at `/attributes`, values at `/accounts/{id}/attributes…` and `/attributes/…`. Mount at /v1. */
export function attributesRoutes(deps: ApiDeps) {
  const r = router();
  const db = () => deps.database.db;

  const current = oneAccount((appId, ids) => getAttributeValues(db(), appId, ids));
  const applyOne = changeOneAccount(current);

  r.openapi(getNames, async (c) => c.json(await getAttributeNames(db(), c.get('app').id), 200));

  r.openapi(setNames, async (c) => {
    const { names } = c.req.valid('json');
    return c.json(await setAttributeNames(db(), c.get('app').id, names), 200);
  });

  r.openapi(removeName, async (c) => {
    const { name } = c.req.valid('param');
    return c.json(await removeAttributeName(db(), c.get('app').id, name), 200);
  });

  r.openapi(getOne, async (c) => c.json(await current(c.get('app').id, c.req.valid('param').id), 200));

  r.openapi(setOne, async (c) => {
    const appId = c.get('app').id;
    const { id } = c.req.valid('param');
    const { attributes } = c.req.valid('json');
    return c.json(
      await applyOne(appId, id, () => setAttributeValues(db(), appId, [{ id, attributes }])),
      200,
    );
  });

  r.openapi(removeOne, async (c) => {
    const appId = c.get('app').id;
    const { id } = c.req.valid('param');
    const { names } = c.req.valid('json');
    return c.json(await applyOne(appId, id, () => removeAttributeValues(db(), appId, [{ id, names }])), 200);
  });

  r.openapi(setMany, async (c) => {
    const { accounts } = c.req.valid('json');
    return c.json(await setAttributeValues(db(), c.get('app').id, accounts), 200);
  });

  r.openapi(removeMany, async (c) => {
    const { accounts } = c.req.valid('json');
    return c.json(await removeAttributeValues(db(), c.get('app').id, accounts), 200);
  });

  r.openapi(getMany, async (c) => {
    const { accounts } = c.req.valid('json');
    return c.json(await getAttributeValues(db(), c.get('app').id, accounts), 200);
  });

  return r;
}
