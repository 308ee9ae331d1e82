/**
 * Accounts: import, read, list, delete, and the audience preview.
 *
 * The rules of the audience data (limits, per-account failures, unknown attributes) live here and in
 * db/tags.ts and db/attributes.ts, in functions that take `(db, appId, ...)` and either return typed results
 * or throw a DomainError. The REST routes (api/) and the Tencent-compatible v4 layer are thin translations
 * onto these functions; neither re-implements a rule.
 */
import { and, asc, eq, gt, isNotNull, or, type SQL, sql } from 'drizzle-orm';
import { type ErrorDetails, type FieldPath, HeraldError, type TextReason } from '../core/errors.ts';
import { canonicalLanguage, LANGUAGE_PROBLEM } from '../core/languages.ts';
import { utf8Bytes } from '../core/messages.ts';
import { attributeSlots } from './attribute-slots.ts';
import type { Queryable } from './client.ts';
import { type Condition, ConditionError, compileCondition, validateCondition } from './conditions.ts';
import { accounts, devices, RecipientState } from './schema.ts';
import { canonicalZone } from './timezones.ts';

/** At most this many accounts in one batch call (import, tags, attributes, delete). Tencent's v4 uses 100. */
export const MAX_BATCH_ACCOUNTS = 1000;
export const MAX_ACCOUNT_ID_BYTES = 32;
export const MAX_NICK_LENGTH = 100;
export const MAX_FACE_URL_LENGTH = 500;
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
export const PREVIEW_SAMPLE_SIZE = 20;

export type { TextReason };

export type DomainErrorCode =
  | 'invalid_request'
  | 'batch_too_large'
  | 'invalid_account_id'
  | 'invalid_tag'
  | 'too_many_tags'
  | 'tag_limit_exceeded'
  | 'invalid_attribute_name'
  | 'invalid_attribute_value'
  | 'unknown_attribute'
  | 'attribute_slot_out_of_range'
  | 'duplicate_attribute_name'
  | 'attribute_name_taken'
  | 'attribute_in_use'
  | 'invalid_cursor'
  | 'invalid_timezone'
  | 'not_found';

/**
 * A request the caller can fix. `code` is stable (the REST API returns it as is; the v4 layer maps it to
 * Tencent's numbers); `path` says where (`['accounts', 3, 'tags', 0]`) and the message reads
 * `accounts[3].tags[0]: ...`. `kind` says whether the input is wrong, names something that does not exist, or
 * clashes with the stored state.
 */
export class DomainError extends HeraldError {
  override readonly name = 'DomainError';
  declare readonly code: DomainErrorCode;
  constructor(
    code: DomainErrorCode,
    path: FieldPath,
    problem: string,
    kind: 'invalid' | 'not_found' | 'conflict' = 'invalid',
    details: ErrorDetails = {},
  ) {
    super(code, kind, problem, { path, details });
  }
}

/** One account of a batch that was not changed, and why. The others in the batch were. */
export interface AccountFailure {
  id: string;
  code: 'not_found' | 'tag_limit_exceeded';
  message: string;
}

export interface BatchResult {
  /** Accounts the operation applied to (including those it left as they were, e.g. a tag they already had). */
  succeeded: number;
  failed: AccountFailure[];
}

export interface BatchOptions {
  /** At most this many accounts in the call; default MAX_BATCH_ACCOUNTS. */
  maxAccounts?: number;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;
const NUL_OR_SURROGATE = /\0|\p{Cs}/u;

export interface TextIssue {
  reason: TextReason;
  message: string;
}

/** Why a value is not valid text of minBytes–maxBytes UTF-8 bytes without NUL or lone surrogates, or undefined. */
export function textIssue(
  what: string,
  value: unknown,
  minBytes: number,
  maxBytes: number,
): TextIssue | undefined {
  if (typeof value !== 'string') return { reason: 'not_string', message: `${what} must be a string` };
  const bytes = utf8Bytes(value);
  if (bytes < minBytes || bytes > maxBytes)
    return {
      reason: bytes < minBytes ? 'empty' : 'too_long',
      message: `${what} must be ${minBytes}-${maxBytes} UTF-8 bytes, got ${bytes}`,
    };
  if (NUL_OR_SURROGATE.test(value))
    return {
      reason: 'bad_character',
      message: `${what} must not contain NUL or unpaired surrogate characters`,
    };
  return undefined;
}

/** Why a value is not a valid account id (1–32 bytes of UTF-8, no control characters), or undefined. */
export function accountIdIssue(id: unknown): TextIssue | undefined {
  const issue = textIssue('account id', id, 1, MAX_ACCOUNT_ID_BYTES);
  if (issue) return issue;
  if (CONTROL.test(id as string))
    return { reason: 'bad_character', message: 'account id must not contain control characters' };
  return undefined;
}

export const accountIdProblem = (id: unknown): string | undefined => accountIdIssue(id)?.message;

/** Throws `code` for a bad string, with its path and reason. */
export function checkText(code: DomainErrorCode, path: FieldPath, issue: TextIssue | undefined): void {
  if (issue) throw new DomainError(code, path, issue.message, 'invalid', { reason: issue.reason });
}

export function checkAccountId(id: unknown, path: FieldPath): string {
  checkText('invalid_account_id', path, accountIdIssue(id));
  return id as string;
}

/** A batch must list 1..max accounts. */
export function checkBatchSize(length: number, max: number, path: FieldPath = ['accounts']): void {
  if (length === 0) throw new DomainError('invalid_request', path, 'list at least one account');
  if (length > max)
    throw new DomainError(
      'batch_too_large',
      path,
      `at most ${max} accounts per call, got ${length}`,
      'invalid',
      {
        limit: max,
      },
    );
}

/** Checks a list of account ids; returns them without repeats, in first-seen order. */
export function checkAccountIds(
  ids: readonly unknown[],
  opts: BatchOptions = {},
  path: FieldPath = ['accounts'],
): string[] {
  checkBatchSize(ids.length, opts.maxAccounts ?? MAX_BATCH_ACCOUNTS, path);
  ids.forEach((id, i) => {
    checkAccountId(id, [...path, i]);
  });
  return [...new Set(ids as string[])];
}

export const notFoundFailure = (id: string): AccountFailure => ({
  id,
  code: 'not_found',
  message: `account ${JSON.stringify(id)} does not exist in this app; import it first`,
});

/**
 * The batch changes' one shape: runs `update` (an UPDATE of `accounts a` that reads the batch `i`, defined by
 * `batch`, a CTE) and reports the ids of the batch that name no account of the app as failed.
 */
export async function updateAccountBatch(
  db: Queryable,
  appId: string,
  batch: SQL,
  update: SQL,
  size: number,
): Promise<BatchResult> {
  const rows = await db.execute<{ id: string }>(sql`
    with ${batch}, updated as (${update})
    select i.id from i
    where not exists (select 1 from accounts a where a.app_id = ${appId} and a.account_id = i.id)`);
  const failed = rows.map((r) => notFoundFailure(r.id));
  return { succeeded: size - failed.length, failed };
}

/** An account is eligible for pushes once imported or once it has logged in. */
export const eligibleAccount = (alias = 'accounts'): SQL =>
  sql`(${sql.identifier(alias)}.imported_at is not null or ${sql.identifier(alias)}.last_login_at is not null)`;

// ——— import ———

export interface AccountImport {
  id: string;
  nick?: string | undefined;
  faceUrl?: string | undefined;
  /** A BCP 47 tag; null clears it; absent leaves it as it is. */
  language?: string | null | undefined;
  /** An IANA zone name; null clears it (the app's default zone applies); absent keeps it. */
  timezone?: string | null | undefined;
}

/** A zone name as PostgreSQL spells it, or invalid_timezone at `path`. */
export async function checkTimezone(db: Queryable, name: unknown, path: FieldPath): Promise<string> {
  const canonical = typeof name === 'string' ? await canonicalZone(db, name) : undefined;
  if (canonical === undefined)
    throw new DomainError(
      'invalid_timezone',
      path,
      `${JSON.stringify(name)} is not a time zone PostgreSQL knows; use an IANA name such as "Europe/Paris" or "Asia/Kolkata"`,
    );
  return canonical;
}

/** What an import or a profile change writes besides the id: checked, the language made canonical. */
interface Profile {
  nick: string | null;
  face_url: string | null;
  /** Whether `language` is to be written (null then clears it). */
  set_language: boolean;
  language: string | null;
}

/** Checks an account's nick, face URL and language (at `path`), or throws invalid_request saying which. */
function checkProfile(item: Omit<AccountImport, 'id'>, path: FieldPath): Profile {
  if (item.nick !== undefined && (typeof item.nick !== 'string' || item.nick.length > MAX_NICK_LENGTH))
    throw new DomainError(
      'invalid_request',
      [...path, 'nick'],
      `nick must be a string of at most ${MAX_NICK_LENGTH} characters`,
    );
  if (
    item.faceUrl !== undefined &&
    (typeof item.faceUrl !== 'string' || item.faceUrl.length > MAX_FACE_URL_LENGTH)
  )
    throw new DomainError(
      'invalid_request',
      [...path, 'faceUrl'],
      `faceUrl must be a string of at most ${MAX_FACE_URL_LENGTH} characters`,
    );
  for (const [field, value] of [
    ['nick', item.nick],
    ['faceUrl', item.faceUrl],
  ] as const) {
    if (value !== undefined && NUL_OR_SURROGATE.test(value))
      throw new DomainError(
        'invalid_request',
        [...path, field],
        'must not contain NUL or unpaired surrogate characters',
      );
  }
  let language: string | null = null;
  if (item.language !== undefined && item.language !== null) {
    const canonical = canonicalLanguage(item.language);
    if (!canonical) throw new DomainError('invalid_request', [...path, 'language'], LANGUAGE_PROBLEM);
    language = canonical;
  }
  return {
    nick: item.nick ?? null,
    face_url: item.faceUrl ?? null,
    set_language: item.language !== undefined,
    language,
  };
}

/**
 * Imports accounts in one statement, after checking the whole batch. Re-importing is a no-op apart from nick /
 * face URL / language when given; an imported account is eligible for pushes. An id listed twice counts once
 * (its last nick / face URL / language win). Returns how many distinct accounts were imported and how many of
 * them were new.
 */
export async function importAccounts(
  db: Queryable,
  appId: string,
  items: readonly AccountImport[],
  opts: BatchOptions = {},
): Promise<{ imported: number; created: number }> {
  checkBatchSize(items.length, opts.maxAccounts ?? MAX_BATCH_ACCOUNTS);
  const byId = new Map<string, Profile & { id: string }>();
  items.forEach((item, i) => {
    checkAccountId(item.id, ['accounts', i, 'id']);
    const profile = checkProfile(item, ['accounts', i]);
    const before = byId.get(item.id);
    byId.set(item.id, {
      id: item.id,
      nick: profile.nick ?? before?.nick ?? null,
      face_url: profile.face_url ?? before?.face_url ?? null,
      set_language: profile.set_language || (before?.set_language ?? false),
      language: profile.set_language ? profile.language : (before?.language ?? null),
    });
  });
  // The ids whose language the batch sets (or clears): the others keep theirs.
  const settingLanguage = JSON.stringify([...byId.values()].filter((p) => p.set_language).map((p) => p.id));
  // Zones: null clears, absent keeps (the last mention of an id wins, as for nick).
  const zones = new Map<string, { timezone: string | null }>();
  for (const [i, item] of items.entries()) {
    if (item.timezone === undefined) continue;
    zones.set(item.id, {
      timezone:
        item.timezone === null ? null : await checkTimezone(db, item.timezone, ['accounts', i, 'timezone']),
    });
  }
  const values = [...byId.values()].map((v) => ({ ...v, timezone: zones.get(v.id)?.timezone ?? null }));
  const cleared = [...zones].filter(([, z]) => z.timezone === null).map(([id]) => id);
  const rows = await db.execute<{ created: boolean }>(sql`
    insert into accounts (app_id, account_id, nick, face_url, language, timezone, imported_at)
    select ${appId}, x.id, x.nick, x.face_url, x.language, x.timezone, now()
    from jsonb_to_recordset(${JSON.stringify(values)}::jsonb)
      as x(id text, nick text, face_url text, language text, timezone text)
    on conflict (app_id, account_id) do update set
      nick = coalesce(excluded.nick, accounts.nick),
      face_url = coalesce(excluded.face_url, accounts.face_url),
      language = case when excluded.account_id in (select jsonb_array_elements_text(${settingLanguage}::jsonb))
        then excluded.language else accounts.language end,
      timezone = case when excluded.timezone is not null then excluded.timezone
                      when ${JSON.stringify(cleared)}::jsonb ? accounts.account_id then null
                      else accounts.timezone end,
      imported_at = coalesce(accounts.imported_at, excluded.imported_at)
    returning (xmax = 0) as created`);
  return { imported: byId.size, created: rows.filter((r) => r.created).length };
}

/**
 * Changes one account's nick, face URL, language or zone (a field left out stays as it is; `language: null` and
 * `timezone: null` clear them), after the same checks as an import. Does not make the account eligible. False when it does not exist.
 */
export async function updateAccountProfile(
  db: Queryable,
  appId: string,
  id: string,
  patch: Omit<AccountImport, 'id'>,
): Promise<boolean> {
  checkAccountId(id, ['id']);
  const p = checkProfile(patch, []);
  const sets: SQL[] = [];
  if (p.nick !== null) sets.push(sql`nick = ${p.nick}`);
  if (p.face_url !== null) sets.push(sql`face_url = ${p.face_url}`);
  if (p.set_language) sets.push(sql`language = ${p.language}`);
  if (patch.timezone !== undefined)
    sets.push(
      sql`timezone = ${patch.timezone === null ? null : await checkTimezone(db, patch.timezone, ['timezone'])}`,
    );
  const rows = await db.execute(sql`
    update accounts set ${sets.length ? sql.join(sets, sql`, `) : sql`account_id = account_id`}
    where app_id = ${appId} and account_id = ${id}
    returning 1`);
  return rows.length > 0;
}

/** The device's zone (the SDK's profile frame); written only when it changed. */
export async function setAccountTimezone(
  db: Queryable,
  appId: string,
  accountId: string,
  timezone: string | null,
): Promise<void> {
  await db.execute(sql`
    update accounts set timezone = ${timezone}
    where app_id = ${appId} and account_id = ${accountId} and timezone is distinct from ${timezone}`);
}

// ——— read ———

export interface AccountSummary {
  id: string;
  nick: string | null;
  faceUrl: string | null;
  /** Null: the app's default zone applies. */
  timezone: string | null;
  tags: string[];
  /** Attribute values by attribute name (values of slots without a name are not shown). */
  attributes: Record<string, string>;
  /** BCP 47, canonical; null: gets the default variant of localized pushes. */
  language: string | null;
  eligible: boolean;
  importedAt: Date | null;
  lastLoginAt: Date | null;
  createdAt: Date;
}

export interface AccountDevice {
  /** A registered channel's name. */
  platform: string;
  token: string;
  environment: 'sandbox' | 'production';
  topic: string | null;
  createdAt: Date;
  updatedAt: Date;
  disabledAt: Date | null;
  disabledReason: string | null;
}

export interface AccountDetail extends AccountSummary {
  devices: AccountDevice[];
}

/** Slot → name, the inverse of attributeSlots. */
export async function attributeNamesBySlot(db: Queryable, appId: string): Promise<Map<string, string>> {
  const slots = await attributeSlots(db, appId);
  return new Map([...slots].map(([name, slot]) => [String(slot), name]));
}

/** Slot-keyed stored attributes → name-keyed, dropping slots without a name. */
export function attributesByName(
  stored: Record<string, string>,
  names: Map<string, string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [slot, value] of Object.entries(stored ?? {})) {
    const name = names.get(slot);
    if (name !== undefined) out[name] = value;
  }
  return out;
}

const summaryColumns = {
  id: accounts.accountId,
  seq: accounts.seq,
  nick: accounts.nick,
  faceUrl: accounts.faceUrl,
  timezone: accounts.timezone,
  tags: accounts.tags,
  attrs: accounts.attrs,
  language: accounts.language,
  importedAt: accounts.importedAt,
  lastLoginAt: accounts.lastLoginAt,
  createdAt: accounts.createdAt,
};

type SummaryRow = {
  id: string;
  nick: string | null;
  faceUrl: string | null;
  timezone: string | null;
  tags: string[];
  attrs: Record<string, string>;
  language: string | null;
  importedAt: Date | null;
  lastLoginAt: Date | null;
  createdAt: Date;
};

const toSummary = (r: SummaryRow, names: Map<string, string>): AccountSummary => ({
  id: r.id,
  nick: r.nick,
  faceUrl: r.faceUrl,
  timezone: r.timezone,
  tags: r.tags,
  attributes: attributesByName(r.attrs, names),
  language: r.language,
  eligible: r.importedAt !== null || r.lastLoginAt !== null,
  importedAt: r.importedAt,
  lastLoginAt: r.lastLoginAt,
  createdAt: r.createdAt,
});

/** One account with its tags, attributes by name, devices, eligibility and last login; undefined if absent. */
export async function getAccount(
  db: Queryable,
  appId: string,
  id: string,
): Promise<AccountDetail | undefined> {
  checkAccountId(id, ['id']);
  const [row] = await db
    .select(summaryColumns)
    .from(accounts)
    .where(and(eq(accounts.appId, appId), eq(accounts.accountId, id)));
  if (!row) return undefined;
  const [names, deviceRows] = await Promise.all([
    attributeNamesBySlot(db, appId),
    db
      .select({
        platform: devices.platform,
        token: devices.token,
        environment: devices.environment,
        topic: devices.topic,
        createdAt: devices.createdAt,
        updatedAt: devices.updatedAt,
        disabledAt: devices.disabledAt,
        disabledReason: devices.disabledReason,
      })
      .from(devices)
      .where(and(eq(devices.appId, appId), eq(devices.accountId, id)))
      .orderBy(asc(devices.createdAt)),
  ]);
  return { ...toSummary(row, names), devices: deviceRows };
}

/**
 * Parses an untrusted audience (`"all"`, null / undefined, or a condition) and checks that every attribute it
 * names exists in this app. Throws ConditionError (codes invalid_condition, condition_too_deep,
 * condition_too_large, unknown_attribute) with a message that says what to fix, its path rooted at `at`, the
 * request field that held the condition. Returns null for everyone.
 */
export async function resolveCondition(
  db: Queryable,
  appId: string,
  input: unknown,
  at: FieldPath = [],
): Promise<Condition | null> {
  if (input === 'all' || input === undefined || input === null) return null;
  try {
    const condition = validateCondition(input);
    const slots = await attributeSlots(db, appId);
    compileCondition(condition, (n) => slots.get(n));
    return condition;
  } catch (err) {
    throw err instanceof ConditionError && at.length ? err.at(at) : err;
  }
}

async function predicate(db: Queryable, appId: string, condition: Condition | null, alias?: string) {
  if (!condition) return sql`true`;
  const slots = await attributeSlots(db, appId);
  return compileCondition(condition, (n) => slots.get(n), alias);
}

export interface ListAccountsOptions {
  /** Only accounts matching this (validated) condition; see resolveCondition. */
  condition?: Condition | null | undefined;
  /** true: only accounts eligible for pushes; false: only those not (yet) eligible. */
  eligible?: boolean | undefined;
  /** The nextCursor of the previous page. */
  cursor?: string | undefined;
  limit?: number | undefined;
}

/**
 * Accounts in import order, a page at a time, keyed by the dense account number so every page costs the same
 * however deep it is. nextCursor is null on the last page.
 */
export async function listAccounts(
  db: Queryable,
  appId: string,
  opts: ListAccountsOptions = {},
): Promise<{ accounts: AccountSummary[]; nextCursor: string | null }> {
  const limit = opts.limit ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE)
    throw new DomainError('invalid_request', ['limit'], `must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  const where: SQL[] = [eq(accounts.appId, appId)];
  if (opts.cursor !== undefined) {
    if (!/^[1-9]\d{0,17}$/.test(opts.cursor))
      throw new DomainError(
        'invalid_cursor',
        ['cursor'],
        'pass the nextCursor of the previous page unchanged, or leave it out for the first page',
      );
    where.push(gt(accounts.seq, Number(opts.cursor)));
  }
  if (opts.eligible !== undefined) {
    const isEligible = or(isNotNull(accounts.importedAt), isNotNull(accounts.lastLoginAt)) as SQL;
    where.push(opts.eligible ? isEligible : sql`not ${isEligible}`);
  }
  if (opts.condition) where.push(await predicate(db, appId, opts.condition));
  const [rows, names] = await Promise.all([
    db
      .select(summaryColumns)
      .from(accounts)
      .where(and(...where))
      .orderBy(asc(accounts.seq))
      .limit(limit),
    attributeNamesBySlot(db, appId),
  ]);
  const last = rows.at(-1);
  return {
    accounts: rows.map((r) => toSummary(r, names)),
    nextCursor: rows.length === limit && last ? String(last.seq) : null,
  };
}

/**
 * What a push to this audience would reach right now: the number of eligible accounts that match, and the first
 * few of them (in import order). Counts with the same predicate the push snapshot uses.
 */
export async function previewAudience(
  db: Queryable,
  appId: string,
  condition: Condition | null,
  sampleSize = PREVIEW_SAMPLE_SIZE,
): Promise<{ count: number; sample: string[] }> {
  const where = sql`a.app_id = ${appId} and ${eligibleAccount('a')} and ${await predicate(db, appId, condition, 'a')}`;
  const [counted, sample] = await Promise.all([
    db.execute<{ count: string }>(sql`select count(*) as count from accounts a where ${where}`),
    sampleSize > 0
      ? db.execute<{ id: string }>(
          sql`select a.account_id as id from accounts a where ${where} order by a.seq limit ${sampleSize}`,
        )
      : Promise.resolve([] as { id: string }[]),
  ]);
  return { count: Number(counted[0]?.count ?? 0), sample: sample.map((r) => r.id) };
}

// ——— delete ———

/**
 * Deletes accounts with their tags and attributes (columns of the account), their devices, and the copies of
 * pushes still waiting for them (pending recipients: the stored copies). Delivered, synced and acked recipient rows stay
 * for the push reports. Returns the ids that were deleted and those that did not exist.
 */
export async function deleteAccounts(
  db: Queryable,
  appId: string,
  ids: readonly string[],
  opts: BatchOptions = {},
): Promise<{ deleted: string[]; notFound: string[] }> {
  const unique = checkAccountIds(ids, opts);
  const list = JSON.stringify(unique);
  const deleted = await db.transaction(async (tx) => {
    const gone = await tx.execute<{ id: string }>(sql`
      delete from accounts
      where app_id = ${appId} and account_id in (select jsonb_array_elements_text(${list}::jsonb))
      returning account_id as id`);
    if (gone.length === 0) return [];
    const goneList = JSON.stringify(gone.map((r) => r.id));
    await tx.execute(sql`
      delete from devices
      where app_id = ${appId} and account_id in (select jsonb_array_elements_text(${goneList}::jsonb))`);
    await tx.execute(sql`
      delete from push_recipients
      where account_id in (select jsonb_array_elements_text(${goneList}::jsonb))
        and push_id in (select id from pushes where app_id = ${appId})
        and state in (${RecipientState.pending}, ${RecipientState.awaitingLive})`);
    return gone.map((r) => r.id);
  });
  const gone = new Set(deleted);
  return { deleted: unique.filter((id) => gone.has(id)), notFound: unique.filter((id) => !gone.has(id)) };
}
