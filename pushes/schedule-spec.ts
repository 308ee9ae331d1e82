/**
 * When a recurring push runs: the request's calendar specs or cron strings, time zone, start, end and count,
 * checked, and turned into a Temporal ScheduleSpec. Temporal's own parser has the last word on a cron string
 * (pushes/schedules.ts maps its refusal to `invalid_cron`), so what is accepted is exactly what runs.
 */
import type { CalendarSpec, ScheduleSpec } from '@temporalio/client';
import { z } from 'zod';
import { type FieldPath, HeraldError } from '../core/errors.ts';
import type { ScheduleSpecInput } from '../db/schedules.ts';

export const MAX_SPECS = 10;
/** Runs a schedule may be limited to (`count`). */
export const MAX_COUNT = 100_000;

const DAYS = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'] as const;
const MONTHS = [
  'JANUARY',
  'FEBRUARY',
  'MARCH',
  'APRIL',
  'MAY',
  'JUNE',
  'JULY',
  'AUGUST',
  'SEPTEMBER',
  'OCTOBER',
  'NOVEMBER',
  'DECEMBER',
] as const;

/** A name in full or its first three letters, any case ("Monday", "MON"); months also 1–12. */
function nameOf<T extends string>(names: readonly T[], what: string, numbered: boolean) {
  const byKey = new Map<string, T>();
  for (const [i, n] of names.entries()) {
    byKey.set(n, n);
    byKey.set(n.slice(0, 3), n);
    if (numbered) byKey.set(String(i + 1), n);
  }
  const hint = numbered
    ? `${what} name (e.g. "JANUARY", "Jan") or 1-12`
    : `${what} name (e.g. "MONDAY", "Mon")`;
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    const found = byKey.get(String(v).trim().toUpperCase());
    if (found) return found;
    ctx.addIssue({ code: 'custom', message: `must be a ${hint}` });
    return z.NEVER;
  });
}

const int = (min: number, max: number) =>
  z.number().int().min(min, `must be ${min}-${max}`).max(max, `must be ${min}-${max}`);

/**
 * One value, a range `{start, end?, step?}`, a list of those, or "*" (every value): stored as a list of ranges
 * (no unions, so a refusal names the very value: `calendar.0.dayOfWeek.0.start: must be a day name …`).
 */
function field<T extends z.ZodType>(value: T, maxStep: number, every: unknown) {
  const range = z
    .strictObject({
      start: value,
      end: value.optional(),
      step: z.number().int().min(1).max(maxStep).optional(),
    })
    // Written out in full: Temporal reads a missing end as 0, not as the start.
    .transform((r) => {
      const { start, end, step } = r as { start: z.output<T>; end?: z.output<T>; step?: number };
      return { start, end: end ?? start, step: step ?? 1 };
    });
  const asRanges = (v: unknown): unknown => {
    if (v === '*') return every;
    const items = Array.isArray(v) ? v : [v];
    return items.map((x) => (typeof x === 'object' && x !== null ? x : { start: x }));
  };
  return z.preprocess(asRanges, z.array(range).min(1).max(60)).optional();
}

export const calendarSchema = z.strictObject({
  second: field(int(0, 59), 59, [{ start: 0, end: 59 }]),
  minute: field(int(0, 59), 59, [{ start: 0, end: 59 }]),
  hour: field(int(0, 23), 23, [{ start: 0, end: 23 }]),
  dayOfMonth: field(int(1, 31), 31, [{ start: 1, end: 31 }]),
  month: field(nameOf(MONTHS, 'month', true), 12, [{ start: 'JANUARY', end: 'DECEMBER' }]),
  dayOfWeek: field(nameOf(DAYS, 'day', false), 7, [{ start: 'SUNDAY', end: 'SATURDAY' }]),
  // Any year is what an omitted year means.
  year: field(int(2000, 2200), 100, undefined),
  comment: z.string().max(200).optional(),
});
export type CalendarInput = z.output<typeof calendarSchema>;

const isoTime = z.iso.datetime({
  offset: true,
  message: 'must be an ISO 8601 date-time, e.g. 2026-12-01T09:00:00Z',
});

const oneOrMore = (v: unknown) => (v === undefined || Array.isArray(v) ? v : [v]);

/** The timing fields of a schedule's create and update bodies; one calendar or cron string, or a list. */
export const timingFields = {
  calendar: z.preprocess(oneOrMore, z.array(calendarSchema).min(1).max(MAX_SPECS).optional()),
  cron: z.preprocess(oneOrMore, z.array(z.string().min(1).max(200)).min(1).max(MAX_SPECS).optional()),
  timezone: z.string().min(1).max(64).optional(),
  startAt: isoTime.optional(),
  endAt: isoTime.optional(),
};

export interface TimingInput {
  calendar?: CalendarInput[] | undefined;
  cron?: string[] | undefined;
  timezone?: string | undefined;
  startAt?: string | undefined;
  endAt?: string | undefined;
}

export class ScheduleSpecError extends HeraldError {
  constructor(
    code: 'invalid_schedule' | 'invalid_timezone' | 'invalid_cron' | 'time_in_past',
    problem: string,
    path: FieldPath = [],
  ) {
    // Read as the API's validation messages are: `cron.0: …`.
    super(code, 'invalid', problem, { path, style: { dotted: path.length } });
  }
}

/** Whether this runtime knows the IANA zone (Temporal's server loads the same database). */
function knownZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The stored spec of a create (or of an update over the stored one): exactly one of calendar and cron, a known
 * time zone, an end in the future and after the start. Cron strings are checked by Temporal when it takes them.
 */
export function resolveSpec(input: TimingInput, previous?: ScheduleSpecInput): ScheduleSpecInput {
  const calendars = input.calendar;
  const cron = input.cron;
  if (calendars && cron) throw new ScheduleSpecError('invalid_schedule', 'give calendar or cron, not both');
  const spec: ScheduleSpecInput = previous ? { ...previous } : { timezone: 'UTC' };
  if (calendars) {
    spec.calendars = calendars as CalendarSpec[];
    spec.cron = undefined;
  } else if (cron) {
    for (const [i, c] of cron.entries()) {
      if (/^\s*(CRON_)?TZ=/i.test(c))
        throw new ScheduleSpecError(
          'invalid_cron',
          'give the time zone in `timezone`, not in the cron string',
          ['cron', ...(Array.isArray(input.cron) ? [i] : [])],
        );
    }
    spec.cron = cron;
    spec.calendars = undefined;
  }
  if (!spec.calendars && !spec.cron)
    throw new ScheduleSpecError(
      'invalid_schedule',
      'say when it runs: `calendar` (e.g. {"dayOfWeek": "MONDAY", "hour": 9}) or `cron` (e.g. "0 9 * * MON")',
    );
  if (input.timezone !== undefined) {
    if (!knownZone(input.timezone))
      throw new ScheduleSpecError(
        'invalid_timezone',
        `unknown time zone "${input.timezone}"; use an IANA name such as "Europe/Berlin" or "UTC"`,
        ['timezone'],
      );
    spec.timezone = input.timezone;
  }
  if (input.startAt !== undefined) spec.startAt = input.startAt;
  if (input.endAt !== undefined) {
    if (Date.parse(input.endAt) <= Date.now())
      throw new ScheduleSpecError('time_in_past', 'must be in the future', ['endAt']);
    spec.endAt = input.endAt;
  }
  if (spec.startAt && spec.endAt && Date.parse(spec.startAt) >= Date.parse(spec.endAt))
    throw new ScheduleSpecError('invalid_schedule', 'endAt must be after startAt', ['endAt']);
  return spec;
}

/** The Temporal ScheduleSpec of a stored spec. */
export function temporalSpec(spec: ScheduleSpecInput): ScheduleSpec {
  return {
    ...(spec.calendars ? { calendars: spec.calendars } : {}),
    ...(spec.cron ? { cronExpressions: spec.cron } : {}),
    timezone: spec.timezone,
    ...(spec.startAt ? { startAt: new Date(spec.startAt) } : {}),
    ...(spec.endAt ? { endAt: new Date(spec.endAt) } : {}),
  };
}
