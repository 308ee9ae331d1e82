/**
 * The audience condition language shared by pushes, audience previews and account listing.
 *
 * A condition is an object; the keys present in one object are ANDed, `{}` matches every account.
 *   TagsAnd [a, b]     has every listed tag              tags @> ARRAY[a, b]
 *   TagsOr  [a, b]     has at least one                  tags && ARRAY[a, b]
 *   TagsNot [c, d]     does not have all of them         NOT (tags @> ARRAY[c, d])   (Tencent's "not (C and D)")
 *   AttrsAnd {n: v}    every listed attribute equals     attrs @> '{"<slot n>": v}'
 *   AttrsOr  {n: v}    at least one equals               attrs @> '{...}' OR attrs @> '{...}'
 *   AttrsNot {n: v}    not every listed one equals       NOT (attrs @> '{...}')
 *   all [c...], any [c...], not c                        nested conditions
 * Attributes are stored keyed by slot number, so compiling takes a name → slot resolver. Every value is a bound
 * parameter, and the positive terms are the operators the GIN indexes on `tags` and `attrs` (jsonb_path_ops) serve.
 */
import { type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type FieldPath, HeraldError, type PathStyle } from '../core/errors.ts';
import { accounts } from './schema.ts';

/** A condition object nests at most this many levels (the outermost object is level 1). */
export const MAX_CONDITION_DEPTH = 8;
/** At most this many tags and attribute entries in one condition, counted over every level. */
export const MAX_CONDITION_TERMS = 200;
/** At most this many condition objects in one condition, the outermost included. */
export const MAX_CONDITION_NODES = 100;
/** At most this many items in one list (tags, attribute entries, `all` / `any` members). */
export const MAX_LIST_ITEMS = 100;
export const MAX_TAG_BYTES = 50;
export const MAX_ATTRIBUTE_NAME_BYTES = 50;
export const MAX_ATTRIBUTE_VALUE_BYTES = 50;

export const CONDITION_KEYS = [
  'TagsAnd',
  'TagsOr',
  'TagsNot',
  'AttrsAnd',
  'AttrsOr',
  'AttrsNot',
  'all',
  'any',
  'not',
] as const;

export type ConditionErrorCode =
  | 'invalid_condition'
  | 'condition_too_deep'
  | 'condition_too_large'
  | 'unknown_attribute';

/** A condition path reads `all[2].TagsOr[0]` (attribute names other than plain words quoted), `condition` when empty. */
const CONDITION_STYLE: PathStyle = { bareKey: /^[A-Za-z_]\w*$/, root: 'condition' };

/**
 * A condition the caller must fix. Its path starts inside the condition (`['all', 2, 'TagsOr', 0]`) until the
 * caller roots it at the request field that held it (`at`): the message then reads `audience.all[2].TagsOr[0]: …`.
 */
export class ConditionError extends HeraldError {
  override readonly name = 'ConditionError';
  declare readonly code: ConditionErrorCode;

  constructor(code: ConditionErrorCode, path: FieldPath, problem: string) {
    super(code, 'invalid', problem, { path, style: CONDITION_STYLE });
  }

  /** The same error with the condition held at `field` of the request (request fields read `steps.0.audience`). */
  at(field: FieldPath): ConditionError {
    const dotted = (this.style.dotted ?? 0) + field.length;
    return this.rerooted([], field, { ...this.style, dotted });
  }
}

function text(what: string, minBytes: number, maxBytes: number) {
  return z.string({ error: `${what} must be a string` }).superRefine((value, ctx) => {
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes < minBytes || bytes > maxBytes) {
      ctx.addIssue({
        code: 'custom',
        message: `${what} must be ${minBytes}-${maxBytes} UTF-8 bytes, got ${bytes}`,
      });
    } else if (/\0|\p{Cs}/u.test(value)) {
      ctx.addIssue({
        code: 'custom',
        message: `${what} must not contain NUL or unpaired surrogate characters`,
      });
    }
  });
}

const tooMany = (what: string) => ({ message: `at most ${MAX_LIST_ITEMS} ${what} in one list` });

const tagList = z
  .array(text('tag', 1, MAX_TAG_BYTES), { error: 'must be an array of tags' })
  .min(1, 'must list at least one tag (leave the key out instead)')
  .max(MAX_LIST_ITEMS, tooMany('tags'));

const attributeMap = z
  .record(
    text('attribute name', 1, MAX_ATTRIBUTE_NAME_BYTES),
    text('attribute value', 0, MAX_ATTRIBUTE_VALUE_BYTES),
    {
      error: 'must be an object of {"attribute name": "value"}',
    },
  )
  .superRefine((map, ctx) => {
    const entries = Object.keys(map).length;
    if (entries === 0) {
      ctx.addIssue({
        code: 'custom',
        message: 'must list at least one attribute (leave the key out instead)',
      });
    } else if (entries > MAX_LIST_ITEMS) {
      ctx.addIssue({ code: 'custom', ...tooMany('attributes'), params: { code: 'condition_too_large' } });
    }
  });

const conditionList = (key: string) =>
  z
    .array(conditionNode, { error: `must be an array of conditions` })
    .min(1, `must list at least one condition (use {} for everyone, or leave "${key}" out)`)
    .max(MAX_LIST_ITEMS, tooMany('conditions'));

/** An audience condition; see the top of this file. */
export interface Condition {
  TagsAnd?: string[];
  TagsOr?: string[];
  TagsNot?: string[];
  AttrsAnd?: Record<string, string>;
  AttrsOr?: Record<string, string>;
  AttrsNot?: Record<string, string>;
  all?: Condition[];
  any?: Condition[];
  not?: Condition;
}

const conditionNode: z.ZodType<Condition> = z.strictObject(
  {
    TagsAnd: tagList.optional(),
    TagsOr: tagList.optional(),
    TagsNot: tagList.optional(),
    AttrsAnd: attributeMap.optional(),
    AttrsOr: attributeMap.optional(),
    AttrsNot: attributeMap.optional(),
    get all() {
      return conditionList('all').optional();
    },
    get any() {
      return conditionList('any').optional();
    },
    get not() {
      return conditionNode.optional();
    },
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; a condition may have ${CONDITION_KEYS.join(', ')}`
        : 'a condition must be an object ({} means everyone)',
  },
);

type Path = (string | number)[];

/** Calls `visit` on every condition object, outermost first, with its level (1 = outermost) and path. */
function walk(
  cond: Condition,
  visit: (node: Condition, depth: number, path: Path) => void,
  depth = 1,
  path: Path = [],
) {
  visit(cond, depth, path);
  for (const [i, child] of (cond.all ?? []).entries()) walk(child, visit, depth + 1, [...path, 'all', i]);
  for (const [i, child] of (cond.any ?? []).entries()) walk(child, visit, depth + 1, [...path, 'any', i]);
  if (cond.not !== undefined) walk(cond.not, visit, depth + 1, [...path, 'not']);
}

/** The schema of a condition, with the depth and size limits. Prefer `validateCondition` for untrusted input. */
export const conditionSchema = conditionNode.superRefine((cond, ctx) => {
  let nodes = 0;
  let terms = 0;
  let tooDeep: Path | undefined;
  walk(cond, (node, depth, path) => {
    nodes++;
    for (const tags of [node.TagsAnd, node.TagsOr, node.TagsNot]) terms += tags?.length ?? 0;
    for (const map of [node.AttrsAnd, node.AttrsOr, node.AttrsNot])
      terms += map ? Object.keys(map).length : 0;
    if (depth > MAX_CONDITION_DEPTH) tooDeep ??= path;
  });
  if (tooDeep) {
    const message = `conditions may nest at most ${MAX_CONDITION_DEPTH} levels deep`;
    ctx.addIssue({ code: 'custom', path: tooDeep, message, params: { code: 'condition_too_deep' } });
  } else if (terms > MAX_CONDITION_TERMS || nodes > MAX_CONDITION_NODES) {
    const message =
      terms > MAX_CONDITION_TERMS
        ? `the condition has ${terms} tags and attributes in all; at most ${MAX_CONDITION_TERMS} are allowed`
        : `the condition has ${nodes} condition objects in all; at most ${MAX_CONDITION_NODES} are allowed`;
    ctx.addIssue({ code: 'custom', message, params: { code: 'condition_too_large' } });
  }
});

/** A zod issue path as a condition path (symbols, which conditions never have, as text). */
const conditionPath = (path: readonly PropertyKey[]): FieldPath =>
  path.map((k) => (typeof k === 'symbol' ? String(k) : k));

/**
 * Checks what zod cannot see before it recurses: nesting beyond the limit (so a hostile, very deep document is
 * refused without deep recursion) and `__proto__` attribute names (which zod's record parsing silently drops).
 */
function precheck(input: unknown, depth = 1, path: Path = []): ConditionError | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
  if (depth > MAX_CONDITION_DEPTH) {
    const problem = `conditions may nest at most ${MAX_CONDITION_DEPTH} levels deep`;
    return new ConditionError('condition_too_deep', path, problem);
  }
  const node = input as Record<string, unknown>;
  for (const key of ['AttrsAnd', 'AttrsOr', 'AttrsNot']) {
    const map = node[key];
    if (typeof map === 'object' && map !== null && Object.hasOwn(map, '__proto__')) {
      const where = [...path, key, '__proto__'];
      return new ConditionError('invalid_condition', where, 'attribute name "__proto__" is not allowed');
    }
  }
  for (const key of ['all', 'any'] as const) {
    const list = node[key];
    if (!Array.isArray(list)) continue;
    for (const [i, child] of list.entries()) {
      const error = precheck(child, depth + 1, [...path, key, i]);
      if (error) return error;
    }
  }
  return precheck(node.not, depth + 1, [...path, 'not']);
}

/** Parses an untrusted condition (e.g. a request body field), throwing a ConditionError that says what to fix. */
export function validateCondition(input: unknown): Condition {
  const early = precheck(input);
  if (early) throw early;
  const result = conditionSchema.safeParse(input);
  if (result.success) return result.data;
  const [issue, ...others] = result.error.issues;
  if (!issue) throw new ConditionError('invalid_condition', [], 'invalid condition');
  const params =
    issue.code === 'custom' ? (issue.params as { code?: ConditionErrorCode } | undefined) : undefined;
  const code: ConditionErrorCode =
    params?.code ?? (issue.code === 'too_big' ? 'condition_too_large' : 'invalid_condition');
  // A bad record key reports the key's own problem one level down.
  const message = issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
  const more = others.length > 0 ? ` (and ${others.length} more problem${others.length > 1 ? 's' : ''})` : '';
  throw new ConditionError(code, conditionPath(issue.path), message + more);
}

const join = (parts: SQL[], op: 'and' | 'or'): SQL => {
  const [first, ...rest] = parts;
  if (!first) return op === 'and' ? sql`true` : sql`false`;
  return rest.length === 0 ? first : sql`(${sql.join(parts, sql.raw(` ${op} `))})`;
};
const and = (parts: SQL[]) => join(parts, 'and');
const or = (parts: SQL[]) => join(parts, 'or');

/**
 * Compiles a validated condition to one SQL predicate over the accounts table, referenced by `alias`.
 * `slotOf` maps an attribute name to its slot (see `conditionAttributeNames` to resolve them in one query);
 * a name without a slot throws ConditionError `unknown_attribute`. A null, undefined or `{}` condition is `true`.
 */
export function compileCondition(
  cond: Condition | null | undefined,
  slotOf: (name: string) => number | undefined,
  alias = 'accounts',
): SQL {
  if (!cond) return sql`true`;
  const table = sql.identifier(alias);
  const tags = sql`${table}.${sql.identifier(accounts.tags.name)}`;
  const attrs = sql`${table}.${sql.identifier(accounts.attrs.name)}`;
  const textArray = (values: string[]) =>
    sql`array[${sql.join(
      values.map((v) => sql`${v}`),
      sql`, `,
    )}]::text[]`;

  /** `attrs @> {slot: value, ...}` for the given entries; false when two names share a slot with different values. */
  const contains = (entries: [string, string][], path: Path): SQL => {
    const bySlot: Record<string, string> = {};
    for (const [name, value] of entries) {
      const slot = slotOf(name);
      if (slot === undefined) {
        const where = [...path, name];
        throw new ConditionError(
          'unknown_attribute',
          where,
          `unknown attribute "${name}"; set its name first`,
        );
      }
      if (Object.hasOwn(bySlot, String(slot)) && bySlot[String(slot)] !== value) return sql`false`;
      bySlot[String(slot)] = value;
    }
    return sql`${attrs} @> ${JSON.stringify(bySlot)}::jsonb`;
  };

  const compile = (c: Condition, path: Path): SQL => {
    const parts: SQL[] = [];
    if (c.TagsAnd) parts.push(sql`${tags} @> ${textArray(c.TagsAnd)}`);
    if (c.TagsOr) parts.push(sql`${tags} && ${textArray(c.TagsOr)}`);
    if (c.TagsNot) parts.push(sql`not (${tags} @> ${textArray(c.TagsNot)})`);
    if (c.AttrsAnd) parts.push(contains(Object.entries(c.AttrsAnd), [...path, 'AttrsAnd']));
    if (c.AttrsOr) parts.push(or(Object.entries(c.AttrsOr).map((e) => contains([e], [...path, 'AttrsOr']))));
    if (c.AttrsNot) parts.push(sql`not (${contains(Object.entries(c.AttrsNot), [...path, 'AttrsNot'])})`);
    if (c.all) parts.push(and(c.all.map((child, i) => compile(child, [...path, 'all', i]))));
    if (c.any) parts.push(or(c.any.map((child, i) => compile(child, [...path, 'any', i]))));
    if (c.not) parts.push(sql`not (${compile(c.not, [...path, 'not'])})`);
    return and(parts);
  };
  return compile(cond, []);
}

/** The distinct attribute names a condition uses, in order of appearance. */
export function conditionAttributeNames(cond: Condition | null | undefined): string[] {
  const names = new Set<string>();
  if (cond) {
    walk(cond, (node) => {
      for (const map of [node.AttrsAnd, node.AttrsOr, node.AttrsNot]) {
        for (const name of Object.keys(map ?? {})) names.add(name);
      }
    });
  }
  return [...names];
}

/** Whether a condition uses tags and whether it uses attributes, anywhere (Tencent forbids mixing: 90039). */
export function conditionUsesTagsAndAttrs(cond: Condition | null | undefined): {
  tags: boolean;
  attrs: boolean;
} {
  const uses = { tags: false, attrs: false };
  if (cond) {
    walk(cond, (node) => {
      if (node.TagsAnd || node.TagsOr || node.TagsNot) uses.tags = true;
      if (node.AttrsAnd || node.AttrsOr || node.AttrsNot) uses.attrs = true;
    });
  }
  return uses;
}
