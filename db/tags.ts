/**
 * Tags of accounts: add, remove, remove all, get — one statement per batch, whatever its size.
 *
 * Limits as Tencent's: a tag is 1–50 bytes of UTF-8; an account has at most 100 tags. An add that would take
 * an account past 100 fails for that account only (the others in the batch apply) and the result says so.
 * Everything else about a batch is checked whole before anything is written.
 */
import { sql } from 'drizzle-orm';
import {
  type AccountFailure,
  type BatchOptions,
  type BatchResult,
  checkAccountId,
  checkAccountIds,
  checkBatchSize,
  checkText,
  DomainError,
  MAX_BATCH_ACCOUNTS,
  notFoundFailure,
  textIssue,
  updateAccountBatch,
} from './accounts.ts';
import type { Queryable } from './client.ts';
import { MAX_TAG_BYTES } from './conditions.ts';

export { MAX_TAG_BYTES };
/** An account has at most this many tags. */
export const MAX_TAGS_PER_ACCOUNT = 100;

export interface TagBatchOptions extends BatchOptions {
  /** At most this many tags for one account in one request; default MAX_TAGS_PER_ACCOUNT (Tencent's v4: 10). */
  maxTagsPerRequest?: number;
}

export interface AccountTags {
  id: string;
  tags: string[];
}

/** Why a value is not a valid tag (reason `empty`, `too_long`, …), or undefined. */
export const tagIssue = (tag: unknown) => textIssue('tag', tag, 1, MAX_TAG_BYTES);

/** Checks a batch of {id, tags}; returns it with each account once (tags of repeated ids joined, in order). */
function checkTagItems(items: readonly AccountTags[], opts: TagBatchOptions): AccountTags[] {
  checkBatchSize(items.length, opts.maxAccounts ?? MAX_BATCH_ACCOUNTS);
  const perRequest = opts.maxTagsPerRequest ?? MAX_TAGS_PER_ACCOUNT;
  const byId = new Map<string, string[]>();
  items.forEach((item, i) => {
    checkAccountId(item.id, ['accounts', i, 'id']);
    const path = ['accounts', i, 'tags'];
    if (!Array.isArray(item.tags)) throw new DomainError('invalid_request', path, 'must be an array of tags');
    if (item.tags.length === 0) throw new DomainError('invalid_request', path, 'list at least one tag');
    if (item.tags.length > perRequest)
      throw new DomainError(
        'too_many_tags',
        path,
        `at most ${perRequest} tags for one account in one request, got ${item.tags.length}`,
        'invalid',
        { limit: perRequest },
      );
    item.tags.forEach((tag, j) => {
      checkText('invalid_tag', [...path, j], tagIssue(tag));
    });
    byId.set(item.id, [...(byId.get(item.id) ?? []), ...item.tags]);
  });
  return [...byId].map(([id, tags]) => ({ id, tags: [...new Set(tags)] }));
}

const recordset = (items: AccountTags[]) =>
  sql`jsonb_to_recordset(${JSON.stringify(items)}::jsonb) as i(id text, tags text[])`;

/** The account's tags followed by the new ones it lacks, in order, each once. */
const merged = sql`array(select t from unnest(a.tags || i.tags) with ordinality u(t, n) group by t order by min(n))`;

/**
 * Adds tags to accounts. One statement for the whole batch: each account gets the tags it lacks, unless that
 * would give it more than `maxTagsPerAccount` tags, in which case it is left as it was and listed in `failed`
 * (code tag_limit_exceeded), as are accounts that do not exist (code not_found).
 * Concurrent adds to one account never lose a tag: the new array is computed from the row being updated.
 */
export async function addTags(
  db: Queryable,
  appId: string,
  items: readonly AccountTags[],
  opts: TagBatchOptions & { maxTagsPerAccount?: number } = {},
): Promise<BatchResult> {
  const batch = checkTagItems(items, opts);
  const max = opts.maxTagsPerAccount ?? MAX_TAGS_PER_ACCOUNT;
  const rows = await db.execute<{ id: string; exists: boolean; has: number; would: number }>(sql`
    with i as (select * from ${recordset(batch)}),
    updated as (
      update accounts a set tags = ${merged}
      from i
      where a.app_id = ${appId} and a.account_id = i.id
        and not (a.tags @> i.tags)
        and cardinality(${merged}) <= ${max}
      returning a.account_id
    )
    select i.id, a.account_id is not null as exists,
      coalesce(cardinality(a.tags), 0) as has, coalesce(cardinality(${merged}), 0) as would
    from i left join accounts a on a.app_id = ${appId} and a.account_id = i.id
    where i.id not in (select account_id from updated)`);
  const failed: AccountFailure[] = [];
  for (const r of rows) {
    if (!r.exists) failed.push(notFoundFailure(r.id));
    else if (r.would > max)
      failed.push({
        id: r.id,
        code: 'tag_limit_exceeded',
        message: `account ${JSON.stringify(r.id)} has ${r.has} tags and would have ${r.would}; an account has at most ${max} tags, so none were added — remove some first`,
      });
  }
  return { succeeded: batch.length - failed.length, failed };
}

/** Removes the listed tags from each account (tags it does not have are ignored); unknown accounts fail. */
export async function removeTags(
  db: Queryable,
  appId: string,
  items: readonly AccountTags[],
  opts: TagBatchOptions = {},
): Promise<BatchResult> {
  const batch = checkTagItems(items, opts);
  return updateAccountBatch(
    db,
    appId,
    sql`i as (select * from ${recordset(batch)})`,
    sql`update accounts a
      set tags = array(select t from unnest(a.tags) with ordinality u(t, n) where t <> all(i.tags) order by n)
      from i
      where a.app_id = ${appId} and a.account_id = i.id and a.tags && i.tags`,
    batch.length,
  );
}

const idList = (ids: string[]) => sql`(select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`;

/** Removes every tag of each listed account; unknown accounts fail. */
export async function removeAllTags(
  db: Queryable,
  appId: string,
  ids: readonly string[],
  opts: BatchOptions = {},
): Promise<BatchResult> {
  const unique = checkAccountIds(ids, opts);
  return updateAccountBatch(
    db,
    appId,
    sql`i(id) as ${idList(unique)}`,
    sql`update accounts a set tags = '{}'
      where a.app_id = ${appId} and a.account_id in (select id from i) and cardinality(a.tags) > 0`,
    unique.length,
  );
}

/** The tags of each listed account that exists, in the order asked, and the ids that do not exist. */
export async function getTags(
  db: Queryable,
  appId: string,
  ids: readonly string[],
  opts: BatchOptions = {},
): Promise<{ accounts: AccountTags[]; notFound: string[] }> {
  const unique = checkAccountIds(ids, opts);
  const rows = await db.execute<{ id: string; tags: string[] }>(sql`
    select a.account_id as id, a.tags from accounts a
    where a.app_id = ${appId} and a.account_id in ${idList(unique)}`);
  const found = new Map(rows.map((r) => [r.id, r.tags]));
  return {
    accounts: unique.flatMap((id) => {
      const tags = found.get(id);
      return tags ? [{ id, tags }] : [];
    }),
    notFound: unique.filter((id) => !found.has(id)),
  };
}
