/**
 * A push's language variants: `localized: {"zh-CN": {elements, offline?}, …}` beside its `message` and
 * `offline`, which are the default. Each recipient gets the variant of its account's `language` (exact tag, then
 * the longest variant that is a prefix of it at a subtag boundary, then the default), chosen in SQL when the
 * audience is snapshotted and kept as the recipient's `variant` (docs/pushes.md).
 */
import { type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import { canonicalLanguage, LANGUAGE_PROBLEM } from '../core/languages.ts';
import { elementsSchema, type OfflineOptions } from '../core/messages.ts';
import type { LocalizedVariant } from '../db/schema.ts';
import { offlineOptionsSchema } from '../delivery/offline-options.ts';

export const MAX_VARIANTS = 50;
/** The key the report counts variant 0 under. */
export const DEFAULT_VARIANT = 'default';

const variantSchema = z.strictObject({
  elements: elementsSchema,
  /** The variant's notification options; absent: the push's own `offline`. */
  offline: offlineOptionsSchema.optional(),
});

/** The request's `localized`: language tag → variant; the keys are checked and made canonical by `variants`. */
export const localizedSchema = z
  .record(z.string(), variantSchema)
  .superRefine((record, ctx) => {
    const keys = Object.keys(record);
    if (keys.length > MAX_VARIANTS)
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_VARIANTS} language variants` });
    const seen = new Map<string, string>();
    for (const key of keys) {
      const tag = canonicalLanguage(key);
      if (key.toLowerCase() === DEFAULT_VARIANT) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'the default variant is the push’s own `message` and `offline`; key variants by language',
        });
      } else if (!tag) {
        ctx.addIssue({ code: 'custom', path: [key], message: LANGUAGE_PROBLEM });
      } else if (seen.has(tag)) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `is the same language as "${seen.get(tag)}" (both are ${tag})`,
        });
      } else seen.set(tag, key);
    }
  })
  .optional();
export type LocalizedInput = z.infer<typeof localizedSchema>;

/** The variants as stored: in the order given, keys canonical; null for none. */
export function variants(input: LocalizedInput): LocalizedVariant[] | null {
  const entries = Object.entries(input ?? {});
  if (!entries.length) return null;
  return entries.map(([key, v]) => ({
    language: canonicalLanguage(key) as string,
    elements: v.elements,
    ...(v.offline ? { offline: v.offline } : {}),
  }));
}

/** The stored variants back in the request's shape, for the push's view. */
export function localizedView(stored: readonly LocalizedVariant[] | null): Record<string, unknown> | null {
  if (!stored?.length) return null;
  return Object.fromEntries(stored.map(({ language, ...v }) => [language, v]));
}

/**
 * The snapshot's choice of variant for the account whose language column is `language`: a CASE over the
 * variants, longest tag first, so the most specific match wins (`zh-Hant-TW` → `zh-Hant` before `zh`);
 * 0 (the default) when none matches or the account has no language. Both sides are canonical
 * (core/languages.ts), so plain string comparison is the match.
 */
export function variantExpression(stored: readonly LocalizedVariant[] | null, language: SQL): SQL {
  if (!stored?.length) return sql`0`;
  const order = stored
    .map((v, i) => ({ tag: v.language, variant: i + 1 }))
    .sort((a, b) => b.tag.length - a.tag.length);
  const lang = language;
  const whens = order.map(
    ({ tag, variant }) =>
      sql`when ${lang} = ${tag} or starts_with(${lang}, ${`${tag}-`}) then ${sql.raw(String(variant))}`,
  );
  return sql`(case ${sql.join(whens, sql` `)} else 0 end)::smallint`;
}

/** What a recipient of variant `variant` gets: its elements, notification options and language (null: default). */
export function pickVariant(
  push: { message: unknown; offline: OfflineOptions; localized: LocalizedVariant[] | null },
  variant: number,
): { elements: readonly unknown[]; offline: OfflineOptions; language: string | null } {
  const v = variant > 0 ? push.localized?.[variant - 1] : undefined;
  if (v) return { elements: v.elements, offline: v.offline ?? push.offline, language: v.language };
  const message = (push.message ?? {}) as { elements?: unknown[] };
  return { elements: message.elements ?? [], offline: push.offline, language: null };
}

/** The report's per-language counts of stored `variant → count` rows. */
export function languageCounts(
  stored: readonly LocalizedVariant[] | null,
  rows: readonly { variant: number; n: number }[],
): Record<string, number> {
  const counts: Record<string, number> = { [DEFAULT_VARIANT]: 0 };
  for (const v of stored ?? []) counts[v.language] = 0;
  for (const { variant, n } of rows) {
    const key = variant > 0 ? stored?.[variant - 1]?.language : DEFAULT_VARIANT;
    if (key) counts[key] = (counts[key] ?? 0) + n;
  }
  return counts;
}
