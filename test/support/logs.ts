import { pino } from 'pino';
import { type Logger, loggerOptions } from '../../core/log.ts';

export interface LogCapture {
  logger: Logger;
  /** Every line written, parsed. */
  lines: Record<string, unknown>[];
  /** Lines at error level or above, as `msg: err.message` for a readable failure. */
  errors(): string[];
  /** The raw text of every line, to search for secrets. */
  text(): string;
  /** Forgets the lines so far. */
  clear(): void;
}

/**
 * A real pino logger, with the settings of the processes' own (redaction, error serializers), whose lines are
 * kept in memory, so a test can assert what was (not) logged.
 */
export function captureLogs(level = 'info'): LogCapture {
  const raw: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const logger = pino(loggerOptions(level, 'test'), {
    write(line: string) {
      raw.push(line);
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  return {
    logger,
    lines,
    errors: () =>
      lines
        .filter((l) => Number(l.level) >= 50)
        .map(
          (l) => `${String(l.msg)}: ${String((l.err as { message?: string } | undefined)?.message ?? '')}`,
        ),
    text: () => raw.join(''),
    clear: () => {
      raw.length = 0;
      lines.length = 0;
    },
  };
}
