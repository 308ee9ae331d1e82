/**
 * Language tags (BCP 47): an account's `language` and the keys of a push's `localized` variants. Both are kept in
 * their canonical form (`zh-hant-tw` → `zh-Hant-TW`, `iw` → `he`), so matching them is comparing strings.
 */

/** RFC 5646 asks implementations to take at least 35 characters; longer tags are refused. */
export const MAX_LANGUAGE_LENGTH = 35;

export const LANGUAGE_PROBLEM = 'must be a BCP 47 language tag, e.g. "en", "zh-CN" or "zh-Hant-TW"';

/** The canonical form of a BCP 47 tag (Intl.getCanonicalLocales), or undefined when it is not one. */
export function canonicalLanguage(tag: unknown): string | undefined {
  if (typeof tag !== 'string' || tag.length === 0 || tag.length > MAX_LANGUAGE_LENGTH) return undefined;
  try {
    return Intl.getCanonicalLocales(tag)[0];
  } catch {
    return undefined;
  }
}
