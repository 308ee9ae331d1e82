/**
 * v4/im_open_login_svc: importing accounts. An imported account is eligible for pushes at once; importing it
 * again is harmless (nick and face URL are updated when given).
 */
import { accountIdIssue, checkBatchSize, importAccounts } from '../../db/accounts.ts';
import type { Command } from './command.ts';
import { named, type PathRename, TencentFailure } from './errors.ts';
import { arrayField, isObject } from './translate.ts';

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

export const imOpenLoginSvcCommands: Record<string, Command> = {
  account_import: accountImport,
  multiaccount_import: multiaccountImport,
};
