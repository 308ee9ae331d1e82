import { randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

/** Time-ordered ids, so lists can page by id and ids read in creation order. */
export const newId = (): string => uuidv7();

/** A high-entropy secret, url-safe, with a prefix that says what it is. */
export const newSecret = (prefix: string, bytes = 24): string =>
  `${prefix}_${randomBytes(bytes).toString('base64url')}`;
