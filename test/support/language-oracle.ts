/**
 * The variant rule of docs/pushes.md in plain code, to check the snapshot's SQL against (tests only): the exact
 * tag, else the longest variant that is a prefix of the account's language at a subtag boundary (RFC 4647
 * lookup: `zh-Hant-TW` → `zh-Hant` → `zh`), else the default. Answers the variant number: 0 the default, i the
 * i-th variant. Tags are compared without regard to case.
 */
export function oracleVariant(language: string | null, variants: readonly string[]): number {
  if (!language) return 0;
  let truncated = language.toLowerCase();
  for (;;) {
    const i = variants.findIndex((v) => v.toLowerCase() === truncated);
    if (i >= 0) return i + 1;
    const cut = truncated.lastIndexOf('-');
    if (cut < 0) return 0;
    truncated = truncated.slice(0, cut);
  }
}
