/**
 * v4/im_open_login_svc: importing, checking, deleting and kicking accounts. An imported account is eligible for
 * pushes at once; importing it again is harmless (nick and face URL are updated when given).
 */
import { accountIdIssue, checkBatchSize, deleteAccounts, importAccounts } from '../../db/accounts.ts';
import { existingAccountIds, revokeUserTokens } from '../../db/sessions.ts';
import { postgresBus } from '../../delivery/bus.ts';
import type { Command } from './command.ts';
import {
  ACCOUNT_NOT_FOUND,
  ACCOUNT_NOT_FOUND_INFO,
  BAD_PARAMETERS,
  named,
  type PathRename,
  TencentFailure,
} from './errors.ts';
import { arrayField, isObject, type Json } from './translate.ts';

/** Tencent: at most 100 accounts in one multiaccount_import. */
export const MAX_IMPORT = 100;

/** Native import field → Tencent's. */
const IMPORT_FIELDS: Record<string, string> = { id: 'UserID', nick: 'Nick', faceUrl: 'FaceUrl' };

/** `{"UserID", "Nick"?, "FaceUrl"?}`; the oldest format named the account `Identifier`. */
const accountImport: Command = async ({ deps, app, body }) => {
  const item = {
    id: (body.UserID ?? body.Identifier) as string,
    nick: body.Nick as string | undefined,
    faceUrl: body.FaceUrl as string | undefined,
  };
  await named(
    (path) => {
      const [list, index, field, ...rest] = path;
      const tencent = typeof field === 'string' ? IMPORT_FIELDS[field] : undefined;
      return list === 'accounts' && index === 0 && tencent ? [tencent, ...rest] : path;
    },
    () => importAccounts(deps.database.db, app.id, [item], { maxAccounts: 1 }),
  );
  return {};
};

/**
 * `{"Accounts": ["u1", …]}`, or the newer `{"AccountList": [{"UserID", "Nick"?, "FaceUrl"?}, …]}`; at most 100.
 * An id Herald cannot store (the native account id rule) is listed in FailAccounts and the others are imported.
 */
const multiaccountImport: Command = async ({ deps, app, body }) => {
  const useList = body.Accounts === undefined && body.AccountList !== undefined;
  const list = useList ? 'AccountList' : 'Accounts';
  const raw = arrayField(body, list);
  checkBatchSize(raw.length, MAX_IMPORT, [list]);
  const items = raw.map((entry, i) => {
    if (useList) {
      if (!isObject(entry)) throw new TencentFailure('invalid_request', [list, i], 'must be an object');
      return {
        id: entry.UserID as string,
        nick: entry.Nick as string | undefined,
        faceUrl: entry.FaceUrl as string | undefined,
      };
    }
    if (typeof entry !== 'string') throw new TencentFailure('invalid_request', [list, i], 'must be a string');
    return { id: entry };
  });
  const bad = (id: unknown) => typeof id !== 'string' || accountIdIssue(id) !== undefined;
  const good = items.flatMap((it, i) => (bad(it.id) ? [] : [{ it, i }]));
  if (good.length) {
    // Native paths count the imported accounts only; name the entry of the request.
    const rename: PathRename = (path) => {
      const [top, k, field, ...rest] = path;
      if (top !== 'accounts') return path;
      if (typeof k !== 'number') return [list, ...path.slice(1)];
      const at = [list, good[k]?.i ?? k];
      if (field === undefined) return at;
      return [...at, (typeof field === 'string' && IMPORT_FIELDS[field]) || field, ...rest];
    };
    await named(rename, () =>
      importAccounts(
        deps.database.db,
        app.id,
        good.map((g) => g.it),
        { maxAccounts: MAX_IMPORT },
      ),
    );
  }
  return { FailAccounts: items.filter((it) => bad(it.id)).map((it) => it.id) };
};

/** Tencent: at most 100 accounts in one account_check or account_delete. */
export const MAX_CHECK = 100;

/**
 * `{"<list>": [{"UserID": "…"}, …]}` (1 to 100): the UserIDs in order, and the problem of each one Herald
 * cannot store (answered in its ResultItem, as Tencent answers per account).
 */
function userIdItems(body: Json, list: string): { ids: string[]; invalid: Map<string, string> } {
  const raw = arrayField(body, list);
  checkBatchSize(raw.length, MAX_CHECK, [list]);
  const invalid = new Map<string, string>();
  const ids = raw.map((item, i) => {
    if (!isObject(item) || typeof item.UserID !== 'string')
      throw new TencentFailure('invalid_request', [list, i, 'UserID'], 'required, a string');
    const issue = accountIdIssue(item.UserID);
    if (issue) invalid.set(item.UserID, issue.message);
    return item.UserID;
  });
  return { ids, invalid };
}

const result = (id: string, code = 0, info = '') => ({ UserID: id, ResultCode: code, ResultInfo: info });

/** `{"CheckItem": [{"UserID"}]}` → one ResultItem per asked account, `AccountStatus` Imported / NotImported. */
const accountCheck: Command = async ({ deps, app, body }) => {
  const { ids, invalid } = userIdItems(body, 'CheckItem');
  const found = await existingAccountIds(
    deps.database.db,
    app.id,
    ids.filter((id) => !invalid.has(id)),
  );
  return {
    ResultItem: ids.map((id) => {
      const problem = invalid.get(id);
      return {
        ...(problem ? result(id, BAD_PARAMETERS, `UserID: ${problem}`) : result(id)),
        AccountStatus: found.has(id) ? 'Imported' : 'NotImported',
      };
    }),
  };
};

/**
 * `{"DeleteItem": [{"UserID"}]}` → one ResultItem per asked account: 0, or 70107 for an account that does not
 * exist (the native deletion: tags, attributes, devices and the stored copies go with it).
 */
const accountDelete: Command = async ({ deps, app, body }) => {
  const { ids, invalid } = userIdItems(body, 'DeleteItem');
  const valid = ids.filter((id) => !invalid.has(id));
  const { deleted } = valid.length
    ? await deleteAccounts(deps.database.db, app.id, valid, { maxAccounts: MAX_CHECK })
    : { deleted: [] as string[] };
  const gone = new Set(deleted);
  return {
    ResultItem: ids.map((id) => {
      const problem = invalid.get(id);
      if (problem) return result(id, BAD_PARAMETERS, `UserID: ${problem}`);
      return gone.has(id) ? result(id) : result(id, ACCOUNT_NOT_FOUND, ACCOUNT_NOT_FOUND_INFO);
    }),
  };
};

/**
 * `{"UserID"}` → —: the tokens issued before now stop connecting (db/sessions.ts) and every gateway closes the
 * account's sockets (close 4001 `token_revoked`, through the fan-out bus). A new token connects.
 */
const kick: Command = async ({ deps, app, body }) => {
  const id = body.UserID;
  if (typeof id !== 'string' || id === '')
    throw new TencentFailure('invalid_request', ['UserID'], 'required, the account to kick');
  if (!(await revokeUserTokens(deps.database.db, app.id, id)))
    throw new TencentFailure(
      'account_not_found',
      ['UserID'],
      `${JSON.stringify(id)} is no account of this app`,
    );
  // Written first, published second: a socket logging in meanwhile either reads the revocation or is closed.
  await postgresBus(deps.database.sql).publish({ type: 'kick', appId: app.id, accountId: id });
  return {};
};

export const imOpenLoginSvcCommands: Record<string, Command> = {
  account_import: accountImport,
  multiaccount_import: multiaccountImport,
  account_check: accountCheck,
  account_delete: accountDelete,
  kick,
};
