/**
 * v4/all_member_push: push, attributes, tags, reports. Each command translates Tencent's body onto the native
 * db functions and push service, with Tencent's limits passed as options (100 accounts a call, 10 tags a
 * request), and translates the answer back.
 */
import type { AccountFailure } from '../../db/accounts.ts';
import {
  getAttributeNames,
  getAttributeValues,
  removeAttributeValues,
  setAttributeNames,
  setAttributeValues,
} from '../../db/attributes.ts';
import { findPushByIdempotencyKey } from '../../db/pushes.ts';
import { addTags, getTags, removeAllTags, removeTags } from '../../db/tags.ts';
import { PushError } from '../../pushes/errors.ts';
import { createPush } from '../../pushes/service.ts';
import type { Command } from './command.ts';
import { ACCOUNT_NOT_FOUND, batchPaths, named, renameFirst, TencentFailure } from './errors.ts';
import { findPushesByIds, report } from './reports.ts';
import { arrayField, isObject, type Json, objectItems, translatePush } from './translate.ts';

/** Tencent: at most 100 accounts in one call of the attribute and tag commands (90018). */
export const MAX_ACCOUNTS = 100;
/** Tencent: at most 10 tags for one account in one add / remove request (90032). */
export const MAX_TAGS_PER_REQUEST = 10;
/** Tencent: at most 500 TaskIds in one im_get_push_report. */
export const MAX_REPORT_TASKS = 500;

const limits = { maxAccounts: MAX_ACCOUNTS };
const toAccountList = renameFirst('accounts', ['To_Account']);

/**
 * Accounts a batch could not change (the others were changed, as natively): listed in FailAccounts, the reasons
 * in ErrorInfo; ActionStatus stays OK.
 */
function failures(failed: readonly AccountFailure[]): Json {
  if (!failed.length) return {};
  return { ErrorInfo: failed.map((f) => f.message).join('; '), FailAccounts: failed.map((f) => f.id) };
}

/**
 * Accounts a read found no account for, as Tencent's get_tag sample answers them: left out of the list and named
 * in `ErrorList` with 70107 (the account does not exist).
 */
const notFound = (ids: readonly string[]): Json =>
  ids.length ? { ErrorList: ids.map((id) => ({ To_Account: id, ErrorCode: ACCOUNT_NOT_FOUND })) } : {};

/** The asked ids without repeats, in order (the native reads answer each once). */
const uniqueIds = (ids: unknown[]) => [...new Set(ids as string[])];

const imPush: Command = async ({ deps, app, identifier, body }) => {
  const { input, msgRandom } = translatePush(body, identifier);
  const idempotencyKey = `v4:${msgRandom}`;
  try {
    const { push } = await createPush(deps, app, input, { idempotencyKey, source: 'v4' });
    return { TaskId: push.id };
  } catch (err) {
    if (err instanceof PushError && err.code === 'idempotency_key_reused') {
      const earlier = await findPushByIdempotencyKey(deps.database.db, app.id, idempotencyKey);
      throw new TencentFailure(
        err.code,
        ['MsgRandom'],
        `${msgRandom} was used for a different push in the last 7 days${earlier ? ` (TaskId ${earlier.id})` : ''}; a retry must repeat its body exactly, a new push needs a new MsgRandom`,
      );
    }
    throw err;
  }
};

const imGetPushReport: Command = async ({ deps, app, body }) => {
  const ids = arrayField(body, 'TaskIds');
  if (ids.length === 0 || ids.length > MAX_REPORT_TASKS)
    throw new TencentFailure(
      'invalid_request',
      ['TaskIds'],
      `list 1 to ${MAX_REPORT_TASKS} TaskIds, got ${ids.length}`,
    );
  ids.forEach((id, i) => {
    if (typeof id !== 'string')
      throw new TencentFailure('invalid_request', ['TaskIds', i], 'must be a string');
  });
  const rows = new Map(
    (await findPushesByIds(deps.database.db, app.id, ids as string[])).map((p) => [p.id, p]),
  );
  return {
    Reports: uniqueIds(ids).flatMap((id) => {
      const p = rows.get(id);
      return p ? [report(p)] : [];
    }),
  };
};

// ——— attributes ———

const imSetAttrName: Command = async ({ deps, app, body }) => {
  const names = body.AttrNames;
  if (!isObject(names))
    throw new TencentFailure(
      'invalid_request',
      ['AttrNames'],
      'must be an object of {"slot": "name"}, e.g. {"0": "sex"}',
    );
  await named(renameFirst('names', ['AttrNames']), () =>
    setAttributeNames(deps.database.db, app.id, names as Record<string, string>),
  );
  return {};
};

const imGetAttrName: Command = async ({ deps, app }) => {
  const { names } = await getAttributeNames(deps.database.db, app.id);
  return { AttrNames: Object.fromEntries(names.map((n) => [String(n.slot), n.name])) };
};

const imGetAttr: Command = async ({ deps, app, body }) => {
  const ids = arrayField(body, 'To_Account');
  const r = await named(toAccountList, () =>
    getAttributeValues(deps.database.db, app.id, ids as string[], limits),
  );
  const found = new Map(r.accounts.map((a) => [a.id, a.attributes]));
  return {
    UserAttrs: uniqueIds(ids).flatMap((id) => {
      const attrs = found.get(id);
      return attrs ? [{ To_Account: id, Attrs: attrs }] : [];
    }),
    ...notFound(r.notFound),
  };
};

const imSetAttr: Command = async ({ deps, app, body }) => {
  const items = objectItems(body, 'UserAttrs').map((u) => ({
    id: u.To_Account as string,
    attributes: u.Attrs as Record<string, string>,
  }));
  const r = await named(batchPaths('UserAttrs', { id: 'To_Account', attributes: 'Attrs' }), () =>
    setAttributeValues(deps.database.db, app.id, items, limits),
  );
  return failures(r.failed);
};

const imRemoveAttr: Command = async ({ deps, app, body }) => {
  const items = objectItems(body, 'UserAttrs').map((u) => ({
    id: u.To_Account as string,
    names: u.Attrs as string[],
  }));
  const r = await named(batchPaths('UserAttrs', { id: 'To_Account', names: 'Attrs' }), () =>
    removeAttributeValues(deps.database.db, app.id, items, limits),
  );
  return failures(r.failed);
};

// ——— tags ———

const tagItems = (body: Json) =>
  objectItems(body, 'UserTags').map((u) => ({ id: u.To_Account as string, tags: u.Tags as string[] }));
const tagPaths = batchPaths('UserTags', { id: 'To_Account', tags: 'Tags' });
const tagLimits = { ...limits, maxTagsPerRequest: MAX_TAGS_PER_REQUEST };

const imGetTag: Command = async ({ deps, app, body }) => {
  const ids = arrayField(body, 'To_Account');
  const r = await named(toAccountList, () => getTags(deps.database.db, app.id, ids as string[], limits));
  const found = new Map(r.accounts.map((a) => [a.id, a.tags]));
  return {
    UserTags: uniqueIds(ids).flatMap((id) => {
      const tags = found.get(id);
      return tags ? [{ To_Account: id, Tags: tags }] : [];
    }),
    ...notFound(r.notFound),
  };
};

const imAddTag: Command = async ({ deps, app, body }) => {
  const items = tagItems(body);
  const r = await named(tagPaths, () => addTags(deps.database.db, app.id, items, tagLimits));
  return failures(r.failed);
};

const imRemoveTag: Command = async ({ deps, app, body }) => {
  const items = tagItems(body);
  const r = await named(tagPaths, () => removeTags(deps.database.db, app.id, items, tagLimits));
  return failures(r.failed);
};

const imRemoveAllTags: Command = async ({ deps, app, body }) => {
  const ids = arrayField(body, 'To_Account');
  const r = await named(toAccountList, () =>
    removeAllTags(deps.database.db, app.id, ids as string[], limits),
  );
  return failures(r.failed);
};

export const allMemberPushCommands: Record<string, Command> = {
  im_push: imPush,
  im_get_push_report: imGetPushReport,
  im_set_attr_name: imSetAttrName,
  im_get_attr_name: imGetAttrName,
  im_get_attr: imGetAttr,
  im_set_attr: imSetAttr,
  im_remove_attr: imRemoveAttr,
  im_get_tag: imGetTag,
  im_add_tag: imAddTag,
  im_remove_tag: imRemoveTag,
  im_remove_all_tags: imRemoveAllTags,
};
