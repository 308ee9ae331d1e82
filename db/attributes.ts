/**
 * Attributes: the app's attribute names, each in a numbered slot (0 .. apps.attr_slots - 1, 10 by default), and
 * the values accounts have for them.
 *
 * Values are stored in `accounts.attrs` keyed by slot number ("0".."9"), so renaming a slot keeps every value
 * and removing a name removes its values from all accounts with one `attrs - 'slot'` update. Callers speak
 * names; a name that is not set is an `unknown_attribute` error that names it.
 *
 * Name changes take an exclusive per-app advisory lock and value writes a shared one, so a value can never be
 * written under a slot whose name is being removed at the same moment.
 */
import { sql } from 'drizzle-orm';
import type { FieldPath } from '../core/errors.ts';
import {
  type BatchOptions,
  type BatchResult,
  checkAccountId,
  checkAccountIds,
  checkBatchSize,
  checkText,
  DomainError,
  MAX_BATCH_ACCOUNTS,
  type TextIssue,
  textIssue,
  updateAccountBatch,
} from './accounts.ts';
import type { Queryable } from './client.ts';
import { MAX_ATTRIBUTE_NAME_BYTES, MAX_ATTRIBUTE_VALUE_BYTES } from './conditions.ts';

export { MAX_ATTRIBUTE_NAME_BYTES, MAX_ATTRIBUTE_VALUE_BYTES };

export type AttributeName = {
  slot: number;
  name: string;
};

export interface AttributeNames {
  /** How many slots the app has (0 .. slots - 1). */
  slots: number;
  /** The named slots, by slot number. */
  names: AttributeName[];
}

/** Why a value is not a valid attribute name, or undefined. */
export function attributeNameIssue(name: unknown): TextIssue | undefined {
  const issue = textIssue('attribute name', name, 1, MAX_ATTRIBUTE_NAME_BYTES);
  if (issue) return issue;
  if (name === '__proto__')
    return { reason: 'bad_character', message: 'attribute name "__proto__" is not allowed' };
  return undefined;
}

/** Why a value is not a valid attribute value (0–50 bytes), or undefined. */
export const attributeValueIssue = (value: unknown): TextIssue | undefined =>
  textIssue('attribute value', value, 0, MAX_ATTRIBUTE_VALUE_BYTES);

const LOCK_CLASS = 7262532;
const lockNames = (db: Queryable, appId: string) =>
  db.execute(sql`select pg_advisory_xact_lock(${LOCK_CLASS}, hashtext(${appId}))`);
const lockValues = (db: Queryable, appId: string) =>
  db.execute(sql`select pg_advisory_xact_lock_shared(${LOCK_CLASS}, hashtext(${appId}))`);

async function slotCount(db: Queryable, appId: string): Promise<number> {
  const [row] = await db.execute<{ attr_slots: number }>(
    sql`select attr_slots from apps where id = ${appId}`,
  );
  if (!row) throw new DomainError('not_found', [], `app ${appId} does not exist`, 'not_found');
  return row.attr_slots;
}

async function namedSlots(db: Queryable, appId: string): Promise<AttributeName[]> {
  return db.execute<AttributeName>(
    sql`select slot, name from attribute_names where app_id = ${appId} order by slot`,
  );
}

/** The app's slot count and its attribute names. */
export async function getAttributeNames(db: Queryable, appId: string): Promise<AttributeNames> {
  const [slots, names] = await Promise.all([slotCount(db, appId), namedSlots(db, appId)]);
  return { slots, names: [...names] };
}

/**
 * Sets the names of the listed slots (`{"0": "sex", "3": "city"}`, as Tencent's im_set_attr_name); other
 * slots keep theirs. Giving a named slot another name renames it and keeps its values. A name may be held by one
 * slot only: moving a name to another slot in one call is fine when its old slot gets a new name in the same call.
 */
export async function setAttributeNames(
  db: Queryable,
  appId: string,
  names: Readonly<Record<string, string>>,
): Promise<AttributeNames> {
  const entries = Object.entries(names);
  if (entries.length === 0)
    throw new DomainError('invalid_request', ['names'], 'give at least one {"slot": "name"}');
  return db.transaction(async (tx) => {
    const slots = await slotCount(tx, appId);
    const wanted = new Map<number, string>();
    const seen = new Map<string, number>();
    for (const [key, name] of entries) {
      const path = ['names', key];
      const slot = /^(0|[1-9]\d{0,3})$/.test(key) ? Number(key) : Number.NaN;
      if (!(slot >= 0 && slot < slots))
        throw new DomainError(
          'attribute_slot_out_of_range',
          path,
          `slots are numbered 0 to ${slots - 1} in this app, got ${JSON.stringify(key)}`,
        );
      checkText('invalid_attribute_name', path, attributeNameIssue(name));
      const other = seen.get(name);
      if (other !== undefined)
        throw new DomainError(
          'duplicate_attribute_name',
          path,
          `the name ${JSON.stringify(name)} is also given to slot ${other}; a name may be held by one slot only`,
        );
      seen.set(name, slot);
      wanted.set(slot, name);
    }
    await lockNames(tx, appId);
    const current = await namedSlots(tx, appId);
    for (const { slot, name } of current) {
      const taker = seen.get(name);
      if (taker !== undefined && taker !== slot && !wanted.has(slot))
        throw new DomainError(
          'attribute_name_taken',
          ['names', String(taker)],
          `the name ${JSON.stringify(name)} is held by slot ${slot}; rename or remove that slot first`,
          'conflict',
        );
    }
    const changed = [...wanted].filter(
      ([slot, name]) => !current.some((c) => c.slot === slot && c.name === name),
    );
    if (changed.length > 0) {
      const rows = JSON.stringify(changed.map(([slot, name]) => ({ slot, name })));
      await tx.execute(sql`
        delete from attribute_names
        where app_id = ${appId} and slot in (select (x->>'slot')::smallint from jsonb_array_elements(${rows}::jsonb) x)`);
      await tx.execute(sql`
        insert into attribute_names (app_id, slot, name)
        select ${appId}, x.slot, x.name from jsonb_to_recordset(${rows}::jsonb) as x(slot smallint, name text)`);
    }
    return { slots, names: [...(await namedSlots(tx, appId))] };
  });
}

/**
 * The slot of each of `names` that the app has, read under the shared lock that name removals wait for: call it
 * in the transaction that stores what it answers (a push's resolved audience), and no removal can slip between.
 */
export async function lockedSlotsOf(
  tx: Queryable,
  appId: string,
  names: readonly string[],
): Promise<Record<string, number>> {
  if (names.length === 0) return {};
  await lockValues(tx, appId);
  const rows = await tx.execute<{ name: string; slot: number }>(sql`
    select name, slot from attribute_names
    where app_id = ${appId} and name in ${names}`);
  return Object.fromEntries(rows.map((r) => [r.name, r.slot]));
}

/** A push not yet snapshotted whose audience uses this slot (its slot was resolved when it was created). */
async function pushUsingSlot(tx: Queryable, appId: string, slot: number): Promise<string | undefined> {
  const [row] = await tx.execute<{ id: string }>(sql`
    select id from pushes
    where app_id = ${appId} and snapshot_at is null and status in ('scheduled', 'running')
      and jsonb_path_exists(audience_slots, '$.* ? (@ == $slot)', jsonb_build_object('slot', ${slot}::int))
    order by created_at limit 1`);
  return row?.id;
}

/**
 * Removes an attribute name and, with one update, its values from every account of the app. Returns the slot
 * it had and how many accounts had a value. Throws unknown_attribute (kind not_found) when no slot has the name,
 * and attribute_in_use (conflict) while a push that has not started yet (scheduled, or a campaign step) targets
 * its slot: cancel that push first, or wait until it has started.
 */
export async function removeAttributeName(
  db: Queryable,
  appId: string,
  name: string,
): Promise<{ slot: number; name: string; accountsCleared: number }> {
  checkText('invalid_attribute_name', ['name'], attributeNameIssue(name));
  return db.transaction(async (tx) => {
    await lockNames(tx, appId);
    const [row] = await tx.execute<{ slot: number }>(sql`
      delete from attribute_names where app_id = ${appId} and name = ${name} returning slot`);
    if (!row)
      throw new DomainError(
        'unknown_attribute',
        ['name'],
        `unknown attribute ${JSON.stringify(name)}; no slot of this app has that name`,
        'not_found',
        { name },
      );
    const user = await pushUsingSlot(tx, appId, row.slot);
    if (user)
      throw new DomainError(
        'attribute_in_use',
        ['name'],
        `attribute ${JSON.stringify(name)} is used by the audience of push ${user}, which has not started yet; cancel it first or wait until it starts`,
        'conflict',
        { name },
      );
    const key = String(row.slot);
    const cleared = await tx.execute(sql`
      update accounts set attrs = attrs - ${key}::text where app_id = ${appId} and attrs ? ${key}::text`);
    return { slot: row.slot, name, accountsCleared: cleared.count };
  });
}

/** The name → slot map of the app, and a resolver that throws unknown_attribute naming the attribute. */
async function resolver(db: Queryable, appId: string) {
  const rows = await namedSlots(db, appId);
  const slots = new Map(rows.map((r) => [r.name, r.slot]));
  const names = new Map(rows.map((r) => [String(r.slot), r.name]));
  const slotOf = (name: string, path: FieldPath): string => {
    const slot = slots.get(name);
    if (slot === undefined)
      throw new DomainError(
        'unknown_attribute',
        path,
        `unknown attribute ${JSON.stringify(name)}; set its name first (this app has ${
          rows.length ? rows.map((r) => JSON.stringify(r.name)).join(', ') : 'no attribute names'
        })`,
        'invalid',
        { name },
      );
    return String(slot);
  };
  return { slotOf, names };
}

export interface AccountAttributes {
  id: string;
  /** Attribute values by name. */
  attributes: Record<string, string>;
}

export interface AccountAttributeNames {
  id: string;
  names: string[];
}

/**
 * Sets attribute values (by name) of accounts; other attributes keep theirs. The whole batch is checked first:
 * an unknown name or a bad value fails it before anything is written. Unknown accounts fail one by one.
 */
export async function setAttributeValues(
  db: Queryable,
  appId: string,
  items: readonly AccountAttributes[],
  opts: BatchOptions = {},
): Promise<BatchResult> {
  checkBatchSize(items.length, opts.maxAccounts ?? MAX_BATCH_ACCOUNTS);
  items.forEach((item, i) => {
    checkAccountId(item.id, ['accounts', i, 'id']);
    const attributes = item.attributes;
    if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes))
      throw new DomainError(
        'invalid_request',
        ['accounts', i, 'attributes'],
        'must be an object of {"name": "value"}',
      );
    for (const [name, value] of Object.entries(attributes)) {
      const path = ['accounts', i, 'attributes', name];
      checkText('invalid_attribute_name', path, attributeNameIssue(name));
      checkText('invalid_attribute_value', path, attributeValueIssue(value));
    }
  });
  return db.transaction(async (tx) => {
    await lockValues(tx, appId);
    const { slotOf } = await resolver(tx, appId);
    const byId = new Map<string, Record<string, string>>();
    items.forEach((item, i) => {
      const patch = byId.get(item.id) ?? {};
      for (const [name, value] of Object.entries(item.attributes))
        patch[slotOf(name, ['accounts', i, 'attributes', name])] = value;
      byId.set(item.id, patch);
    });
    const batch = JSON.stringify([...byId].map(([id, attrs]) => ({ id, attrs })));
    return updateAccountBatch(
      tx,
      appId,
      sql`i as (select * from jsonb_to_recordset(${batch}::jsonb) as i(id text, attrs jsonb))`,
      sql`update accounts a set attrs = a.attrs || i.attrs
        from i
        where a.app_id = ${appId} and a.account_id = i.id and not (a.attrs @> i.attrs)`,
      byId.size,
    );
  });
}

/**
 * Removes attribute values (by name) from accounts. Every name must be an attribute of the app (unknown names
 * fail the batch); a name the account has no value for is ignored. Unknown accounts fail one by one.
 */
export async function removeAttributeValues(
  db: Queryable,
  appId: string,
  items: readonly AccountAttributeNames[],
  opts: BatchOptions = {},
): Promise<BatchResult> {
  checkBatchSize(items.length, opts.maxAccounts ?? MAX_BATCH_ACCOUNTS);
  items.forEach((item, i) => {
    checkAccountId(item.id, ['accounts', i, 'id']);
    const path = ['accounts', i, 'names'];
    if (!Array.isArray(item.names))
      throw new DomainError('invalid_request', path, 'must be an array of attribute names');
    if (item.names.length === 0)
      throw new DomainError('invalid_request', path, 'list at least one attribute name');
    item.names.forEach((name, j) => {
      checkText('invalid_attribute_name', [...path, j], attributeNameIssue(name));
    });
  });
  return db.transaction(async (tx) => {
    await lockValues(tx, appId);
    const { slotOf } = await resolver(tx, appId);
    const byId = new Map<string, Set<string>>();
    items.forEach((item, i) => {
      const keys = byId.get(item.id) ?? new Set<string>();
      item.names.forEach((name, j) => {
        keys.add(slotOf(name, ['accounts', i, 'names', j]));
      });
      byId.set(item.id, keys);
    });
    const batch = JSON.stringify([...byId].map(([id, keys]) => ({ id, keys: [...keys] })));
    return updateAccountBatch(
      tx,
      appId,
      sql`i as (select * from jsonb_to_recordset(${batch}::jsonb) as i(id text, keys text[]))`,
      sql`update accounts a set attrs = a.attrs - i.keys
        from i
        where a.app_id = ${appId} and a.account_id = i.id and a.attrs ?| i.keys`,
      byId.size,
    );
  });
}

/** The attribute values (by name) of each listed account that exists, in the order asked, and the others. */
export async function getAttributeValues(
  db: Queryable,
  appId: string,
  ids: readonly string[],
  opts: BatchOptions = {},
): Promise<{ accounts: AccountAttributes[]; notFound: string[] }> {
  const unique = checkAccountIds(ids, opts);
  const [rows, { names }] = await Promise.all([
    db.execute<{ id: string; attrs: Record<string, string> }>(sql`
      select a.account_id as id, a.attrs from accounts a
      where a.app_id = ${appId}
        and a.account_id in (select jsonb_array_elements_text(${JSON.stringify(unique)}::jsonb))`),
    resolver(db, appId),
  ]);
  const found = new Map(rows.map((r) => [r.id, r.attrs]));
  const accounts: AccountAttributes[] = [];
  for (const id of unique) {
    const attrs = found.get(id);
    if (!attrs) continue;
    const attributes: Record<string, string> = {};
    for (const [slot, value] of Object.entries(attrs)) {
      const name = names.get(slot);
      if (name !== undefined) attributes[name] = value;
    }
    accounts.push({ id, attributes });
  }
  return { accounts, notFound: unique.filter((id) => !found.has(id)) };
}
