/**
 * The request side of local-time delivery and send windows: the fields of a push or a campaign step, their
 * checks, and their resolution (with the app's default zone and window) into the push row's `local_delivery`.
 * The waves themselves are pushes/waves.ts.
 */
import { z } from 'zod';
import type { FieldPath } from '../core/errors.ts';
import type { App } from '../db/apps.ts';
import type { LocalDelivery, SendWindow } from '../db/schema.ts';
import { PushError, TimeError } from './errors.ts';

const HH_MM = /^([01]\d|2[0-3]):[0-5]\d$/;
const LOCAL_TIME = /^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/;
/** The zones furthest ahead of and behind UTC (Kiribati +14:00, Baker Island −12:00). */
const MAX_AHEAD_MS = 14 * 3600_000;
const MAX_BEHIND_MS = 12 * 3600_000;
const YEAR_MS = 366 * 24 * 3600_000;

export const sendWindowSchema = z
  .strictObject({
    from: z.string().regex(HH_MM, 'must be a 24-hour time HH:MM, e.g. "09:00"'),
    to: z.string().regex(HH_MM, 'must be a 24-hour time HH:MM, e.g. "21:00"'),
  })
  .refine((w) => w.from !== w.to, { message: 'must differ from `from`', path: ['to'] })
  .describe(
    'Recipients get the push only between `from` and `to` of their own local time (`from` later than `to` ' +
      'crosses midnight); outside it, it waits for the window to open for them',
  );

export const localTimeSchema = z.strictObject({
  localTime: z
    .string()
    .regex(LOCAL_TIME, 'must be a wall-clock date-time without offset, e.g. "2026-12-24T09:00"')
    .describe("Each recipient gets the push at this time of day in the recipient's own zone"),
});

/** The fields a push (and a campaign step) adds for local-time delivery and send windows. */
export const localDeliveryFields = {
  pastZones: z
    .enum(['send', 'skip'])
    .optional()
    .describe(
      'With sendAt.localTime: recipients in zones where it has already passed get it at once, or not',
    ),
  window: sendWindowSchema
    .nullable()
    .optional()
    .describe("The send window; absent: the app's default window; null: none"),
};

/** The path read as request fields are (`steps.0.pastZones`), then the problem after a space. */
const dotted = (path: FieldPath) => ({ dotted: path.length, separator: ' ' });

/** A local time's earliest and latest moments anywhere (UTC+14 and UTC−12), in epoch ms. */
function localTimeRange(localTime: string): { earliest: number; latest: number } {
  const asUtc = Date.parse(`${localTime}Z`);
  return { earliest: asUtc - MAX_AHEAD_MS, latest: asUtc + MAX_BEHIND_MS };
}

/** The local time names a real date, has not passed in every zone and is within a year; refused at `at`. */
export function checkLocalTime(localTime: string, at: FieldPath): void {
  const asUtc = Date.parse(`${localTime}Z`);
  // Date.parse rolls 2026-02-30 over to March: a date that does not read back is not a date.
  if (Number.isNaN(asUtc) || new Date(asUtc).toISOString().slice(0, 10) !== localTime.slice(0, 10))
    throw new PushError('invalid_request', 'invalid', 'is not a real date', { path: at, style: dotted(at) });
  const { earliest, latest } = localTimeRange(localTime);
  if (latest <= Date.now()) throw new TimeError('time_in_past', at, 'has already passed in every time zone');
  if (earliest - Date.now() > YEAR_MS) throw new TimeError('time_too_far', at, 'must be within one year');
}

/** When a campaign starts a local-time step's push: as the time first comes anywhere (UTC+14), or now. */
export function localTimeStart(localTime: string): string {
  return new Date(Math.max(localTimeRange(localTime).earliest, Date.now())).toISOString();
}

/**
 * The push's local delivery, or null for a push that goes to everyone at once: its own local time, past-zone
 * rule and window, else the app's default window and zone. `pastZones` without a local time is refused.
 */
export function resolveLocalDelivery(
  app: Pick<App, 'defaultTimezone' | 'defaultWindow'>,
  input: {
    localTime?: string | undefined;
    pastZones?: 'send' | 'skip' | undefined;
    window?: SendWindow | null;
  },
  at: FieldPath = [],
): LocalDelivery | null {
  if (input.pastZones !== undefined && input.localTime === undefined)
    throw new PushError(
      'invalid_request',
      'invalid',
      'is only for a push sent at a local time (sendAt.localTime)',
      {
        path: [...at, 'pastZones'],
        style: dotted([...at, 'pastZones']),
      },
    );
  const window = input.window === undefined ? (app.defaultWindow ?? null) : input.window;
  if (input.localTime === undefined && window === null) return null;
  return {
    ...(input.localTime === undefined ? {} : { localTime: input.localTime }),
    pastZones: input.pastZones ?? 'skip',
    window,
    timezone: app.defaultTimezone,
  };
}
