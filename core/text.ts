import { z } from 'zod';

/** Byte length in UTF-8: Tencent's limits and ours are in bytes, not characters. */
export const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
export const bytesMax = (max: number, what: string) =>
  z.string().refine((s) => utf8Bytes(s) <= max, `${what} must be at most ${max} bytes of UTF-8`);

export const absoluteUrl = z.url('must be an absolute URL');
