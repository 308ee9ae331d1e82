import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { type Logger, scrubbedError } from '../core/log.ts';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * The Temporal SDK's own log (worker state, "Activity failed" with the error) through our pino logger, so its
 * redaction and error serializers (core/log.ts) apply: an Error anywhere in the metadata goes out as `err`.
 * The SDK's info lines narrate every state change: only warn and above unless LOG_LEVEL asks for debug.
 */
export function temporalLogger(log: Logger): TemporalLogger {
  const sdk = log.child({ component: 'temporal-sdk' });
  const write = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(meta ?? {}))
      fields[value instanceof Error && key !== 'err' && !fields.err ? 'err' : key] = value;
    const method = LEVELS[level] ?? 'info';
    if (method === 'info' && !sdk.isLevelEnabled('debug')) return;
    sdk[method](fields, message);
  };
  return {
    log: write,
    trace: (m, meta) => write('TRACE', m, meta),
    debug: (m, meta) => write('DEBUG', m, meta),
    info: (m, meta) => write('INFO', m, meta),
    warn: (m, meta) => write('WARN', m, meta),
    error: (m, meta) => write('ERROR', m, meta),
  };
}

/**
 * An activity's error is reported to Temporal whole and kept in the workflow's history: a database error's
 * bound parameters (credentials, secret keys) are cut from it before it leaves (core/log.ts scrubbedError).
 */
export const scrubActivityErrors: ActivityInterceptorsFactory = () => ({
  inbound: {
    async execute(input, next) {
      try {
        return await next(input);
      } catch (err) {
        throw scrubbedError(err);
      }
    },
  },
});
