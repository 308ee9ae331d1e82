/** PostgreSQL failures by SQLSTATE, wherever the driver's error sits. */

export const SQLSTATE = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  deadlockDetected: '40P01',
  serializationFailure: '40001',
  objectNotInPrerequisiteState: '55000',
  undefinedTable: '42P01',
} as const;

/**
 * The SQLSTATE of a failed statement, or undefined for any other error. drizzle wraps the driver's error and
 * puts it on `cause`; postgres.js (the gateway's raw queries) throws it as is. Both are read here.
 */
export function pgErrorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const { code, cause } = e as { code?: unknown; cause?: unknown };
    // postgres.js errors carry a string SQLSTATE of five characters; other libraries use `code` otherwise.
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    e = cause;
  }
  return undefined;
}
