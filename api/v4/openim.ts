/**
 * v4/openim/query_online_status: each account's login state from the gateways' presence. Herald does not know
 * the platform of a socket, so `Detail` (asked with IsNeedDetail 1) is always an empty list.
 */
import { checkBatchSize } from '../../db/accounts.ts';
import { onlineStates } from '../../db/sessions.ts';
import type { Command } from './command.ts';
import { ACCOUNT_NOT_FOUND, TencentFailure } from './errors.ts';
import { arrayField } from './translate.ts';

/** Tencent: at most 500 accounts in one query_online_status. */
export const MAX_ONLINE_QUERY = 500;

/**
 * Online: connected to a live gateway. PushOnline (Tencent: in the background, reachable by offline push): not
 * connected, with a device APNs / FCM can reach. Offline: neither. The state is under `Status` (Tencent's
 * Chinese pages and server SDKs) and `State` (its English pages). Unknown accounts are in ErrorList (70107).
 */
const queryOnlineStatus: Command = async ({ deps, app, body }) => {
  const ids = arrayField(body, 'To_Account');
  checkBatchSize(ids.length, MAX_ONLINE_QUERY, ['To_Account']);
  ids.forEach((id, i) => {
    if (typeof id !== 'string')
      throw new TencentFailure('invalid_request', ['To_Account', i], 'must be a string');
  });
  const detail = body.IsNeedDetail;
  if (detail !== undefined && detail !== 0 && detail !== 1)
    throw new TencentFailure('invalid_request', ['IsNeedDetail'], 'must be 0 or 1');
  const unique = [...new Set(ids as string[])];
  const states = await onlineStates(deps.database.db, app.id, unique);
  const known = unique.filter((id) => states.has(id));
  return {
    QueryResult: known.map((id) => {
      const s = states.get(id);
      const status = s?.online ? 'Online' : s?.pushable ? 'PushOnline' : 'Offline';
      return { To_Account: id, Status: status, State: status, ...(detail === 1 ? { Detail: [] } : {}) };
    }),
    ErrorList: unique
      .filter((id) => !states.has(id))
      .map((id) => ({ To_Account: id, ErrorCode: ACCOUNT_NOT_FOUND })),
  };
};

export const openimCommands: Record<string, Command> = { query_online_status: queryOnlineStatus };
