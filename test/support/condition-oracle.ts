/** An in-memory evaluator of the audience condition language, to check the SQL compiler against (tests only). */
import type { Condition } from '../../db/conditions.ts';

export interface OracleAccount {
  tags: readonly string[];
  /** Attribute values by attribute NAME (the database keys them by slot). */
  attrs: Readonly<Record<string, string>>;
}

export function oracleMatches(cond: Condition | null | undefined, account: OracleAccount): boolean {
  if (!cond) return true;
  const has = (tag: string) => account.tags.includes(tag);
  const equals = ([name, value]: [string, string]) =>
    Object.hasOwn(account.attrs, name) && account.attrs[name] === value;
  const checks: boolean[] = [];
  if (cond.TagsAnd) checks.push(cond.TagsAnd.every(has));
  if (cond.TagsOr) checks.push(cond.TagsOr.some(has));
  if (cond.TagsNot) checks.push(!cond.TagsNot.every(has));
  if (cond.AttrsAnd) checks.push(Object.entries(cond.AttrsAnd).every(equals));
  if (cond.AttrsOr) checks.push(Object.entries(cond.AttrsOr).some(equals));
  if (cond.AttrsNot) checks.push(!Object.entries(cond.AttrsNot).every(equals));
  if (cond.all) checks.push(cond.all.every((c) => oracleMatches(c, account)));
  if (cond.any) checks.push(cond.any.some((c) => oracleMatches(c, account)));
  if (cond.not) checks.push(!oracleMatches(cond.not, account));
  return checks.every(Boolean);
}
