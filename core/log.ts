import { pino } from 'pino';

export type Logger = pino.Logger;

/** Field names that hold secrets, wherever they appear in a log line (up to three levels deep). */
const SECRET_FIELDS = [
  'authorization',
  'privateKey',
  'private_key',
  'secretKey',
  'previousSecretKey',
  'apiKey',
  'rootKey',
  'serviceAccount',
  'token',
  'usersig',
  'password',
  // A webhook endpoint's signing secret (whsec_…).
  'secret',
];
const REDACT_PATHS = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`, `*.*.*.${f}`]);

/** Properties of a database error that can carry the statement's data (`where` quotes the JSON input). */
const UNSAFE_ERROR_KEYS = new Set(['params', 'parameters', 'args', 'detail', 'where', 'internal_query']);

/** A SQLSTATE anywhere on the error's cause chain (drizzle wraps the postgres.js error). */
function sqlState(err: unknown): { code: string; message: string } | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const { code, cause, message } = e as { code?: unknown; cause?: unknown; message?: unknown };
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code))
      return { code, message: typeof message === 'string' ? message : '' };
    e = cause;
  }
  return undefined;
}

/** A message with drizzle's `\nparams: …` (every bound value of the failed query) cut off. */
export function withoutQueryParameters(message: string): string {
  const at = message.indexOf('\nparams: ');
  return at < 0 ? message : `${message.slice(0, at)}\nparams: [not logged]`;
}

/**
 * The same error without the data of its statement, for where it leaves the process whole (an activity's
 * failure lands in Temporal's workflow history): the message and stack without bound parameters, and no
 * cause (the driver's error carries `detail`, which quotes values). Other errors are returned as they are.
 */
export function scrubbedError(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error) || depth > 4) return err;
  if (!err.message.includes('\nparams: ')) {
    // A failure wrapping a query error (ApplicationFailure's cause) is serialized with its cause chain.
    if (err.cause instanceof Error) err.cause = scrubbedError(err.cause, depth + 1);
    return err;
  }
  const clean = new Error(withoutQueryParameters(err.message));
  clean.name = err.name;
  clean.stack = (err.stack ?? '').split(err.message).join(clean.message);
  const pg = sqlState(err);
  if (pg) Object.assign(clean, { code: pg.code });
  return clean;
}

/**
 * An error as it may be logged: drizzle's query errors read `Failed query: <sql>\nparams: <every bound
 * value>` (a credential, a secret key), so the parameters are cut from the message and the stack, and the
 * properties that quote the data are dropped. What stays: the SQLSTATE, the query text, the driver's message.
 */
export function loggableError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const std = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
  const full = typeof std.message === 'string' ? std.message : err.message;
  const cut = withoutQueryParameters;
  const safeMessage = cut(full);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(std)) {
    if (UNSAFE_ERROR_KEYS.has(key)) continue;
    if (key === 'stack' && typeof value === 'string')
      out.stack = value.split(err.message).join(cut(err.message));
    else if (key === 'message') out.message = safeMessage;
    else out[key] = typeof value === 'string' ? cut(value) : value;
  }
  const pg = sqlState(err);
  if (pg) {
    out.sqlState = pg.code;
    out.driverMessage = pg.message;
  }
  return out;
}

/**
 * The logger settings every process uses: secrets redacted by field name, errors (`err`, `error`) through
 * loggableError. Tests build their capturing loggers from the same settings.
 */
export function loggerOptions(level: string, name = 'herald'): pino.LoggerOptions {
  return {
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: loggableError, error: loggableError },
  };
}

export function createLogger(level: string, name = 'herald'): Logger {
  return pino(loggerOptions(level, name));
}
