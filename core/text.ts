import { z } from 'zod';
import type { FieldPath, PathKey } from './errors.ts';

/** Byte length in UTF-8: Tencent's limits and ours are in bytes, not characters. */
export const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
export const bytesMax = (max: number, what: string) =>
  z.string().refine((s) => utf8Bytes(s) <= max, `${what} must be at most ${max} bytes of UTF-8`);

export const absoluteUrl = z.url('must be an absolute URL');

/**
 * Text PostgreSQL cannot store: NUL (in neither text nor jsonb) and unpaired UTF-16 surrogates (not UTF-8).
 * A request that carries either is refused where it is parsed, once for every route, with the place.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what is looked for.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

export const UNSTORABLE_PROBLEM = 'must not contain NUL or unpaired surrogate characters';

export const hasUnstorableText = (s: string): boolean => UNSTORABLE.test(s);

/** A key fit to quote in a message: the offending characters as U+FFFD. */
export const printableKey = (s: string): string => s.replace(UNSTORABLE_ALL, '\ufffd');

/**
 * The path of the first string (value or object key) in a parsed JSON value that PostgreSQL cannot store, or
 * undefined. Iterative, so any nesting JSON.parse accepted is walked without exhausting the stack.
 */
export function unstorableTextAt(value: unknown): FieldPath | undefined {
  const stack: [unknown, PathKey[]][] = [[value, []]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [v, path] = item;
    if (typeof v === 'string') {
      if (hasUnstorableText(v)) return path;
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], [...path, i]]);
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, child] = entries[i] as [string, unknown];
        if (hasUnstorableText(k)) return [...path, printableKey(k)];
        stack.push([child, [...path, k]]);
      }
    }
  }
  return undefined;
}
