import { z } from '@hono/zod-openapi';
import type { PushRow } from '../db/pushes.ts';
import type { WaveRow } from '../db/waves.ts';
import { perChannel } from '../delivery/registry.ts';
import { engagementRates } from '../pushes/engagement.ts';
import { DEFAULT_VARIANT, localizedView } from '../pushes/localized.ts';
import { expectedFinish } from '../pushes/throttle.ts';

const provider = z.object({ sent: z.number(), failed: z.number(), tokensDisabled: z.number() });

const WaveSchema = z
  .object({
    wave: z.number().openapi({ description: 'Its number, from 0, in time order' }),
    offset: z.string().openapi({ description: 'The UTC offset of its zones at its time, e.g. "+05:30"' }),
    at: z.string().openapi({ description: 'When it is (was) due' }),
    status: z.enum(['waiting', 'sent', 'skipped', 'canceled']),
    planned: z
      .number()
      .openapi({ description: 'Accounts of the audience in its zones when the push started' }),
    sentAt: z.string().nullable().openapi({ description: 'When its snapshot was taken' }),
    audience: z.number(),
    deliveredOnline: z.number(),
    storedOffline: z.number(),
    ...perChannel(() => provider),
  })
  .openapi('PushWave');

export const PushSchema = z
  .object({
    id: z.string(),
    status: z.enum(['scheduled', 'running', 'completed', 'canceled', 'failed']),
    campaignId: z.string().nullable(),
    scheduleId: z.string().nullable().openapi({ description: 'The schedule whose run created this push' }),
    audience: z.unknown().openapi({ description: '"all" or the condition' }),
    message: z.unknown(),
    offline: z.unknown(),
    localized: z
      .record(z.string(), z.unknown())
      .nullable()
      .openapi({ description: 'The language variants by canonical BCP 47 tag; null: none' }),
    capped: z.boolean().openapi({ description: 'Counts against the app’s frequency cap' }),
    retentionSeconds: z.number(),
    sendAt: z.string().nullable(),
    localTime: z
      .string()
      .nullable()
      .openapi({ description: "sendAt.localTime: the wall-clock time in each recipient's zone" }),
    pastZones: z.enum(['send', 'skip']).nullable(),
    window: z.object({ from: z.string(), to: z.string() }).nullable(),
    timezone: z.string().nullable().openapi({
      description: "The zone of recipients without one (the app's default when the push was created)",
    }),
    throttlePerMinute: z
      .number()
      .nullable()
      .openapi({ description: 'At most this many recipients notified per minute; null = not throttled' }),
    expectedFinishAt: z.string().nullable().openapi({
      description: 'A running throttled push: when it should have notified its last recipient (an estimate)',
    }),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    snapshotAt: z.string().nullable().openapi({ description: 'When the audience snapshot was taken' }),
    completedAt: z.string().nullable(),
    canceledAt: z.string().nullable(),
    recalledAt: z.string().nullable(),
    expiresAt: z.string().nullable(),
    expiredAt: z.string().nullable(),
    failureReason: z.string().nullable(),
    counters: z.object({
      audience: z.number(),
      deliveredOnline: z.number(),
      storedOffline: z.number(),
      syncedLater: z.number(),
      acked: z.number(),
      expired: z.number(),
      withdrawn: z.number(),
      opened: z.number().openapi({ description: 'Accounts that reported opening it (once each)' }),
      clicked: z.number().openapi({ description: 'Accounts that reported a click (once each)' }),
      openRate: z
        .number()
        .nullable()
        .openapi({ description: 'opened / delivered (online + synced + provider sent)' }),
      clickRate: z.number().nullable().openapi({ description: 'clicked / delivered' }),
      capped: z
        .number()
        .openapi({ description: 'Accounts the audience matched that the frequency cap skipped' }),
      languages: z.record(z.string(), z.number()).openapi({
        description:
          'Recipients per variant: `default` and each language of `localized` (empty before the snapshot)',
      }),
      skipped: z
        .number()
        .openapi({ description: 'Recipients in zones where the local time had passed (skipped)' }),
      // One entry per channel: `apns`, `fcm`.
      ...perChannel(() => provider),
    }),
    waves: z.array(WaveSchema).nullable().openapi({
      description: 'A local-time or windowed push: its waves, one per UTC offset; null otherwise',
    }),
    workflowId: z.string(),
    links: z.object({ self: z.string(), cancel: z.string(), recall: z.string(), funnel: z.string() }),
  })
  .openapi('Push');
export type PushView = z.infer<typeof PushSchema>;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

const channelCounts = (counts: PushRow['channelCounts']) =>
  perChannel((c) => {
    const n = counts[c.name];
    return { sent: n?.sent ?? 0, failed: n?.failed ?? 0, tokensDisabled: n?.disabled ?? 0 };
  });

/** `waves`: the push's rows of push_waves (db/waves.ts wavesOf), for a local-time or windowed push. */
export function pushView(p: PushRow, waves: WaveRow[] = []): PushView {
  const self = `/v1/pushes/${p.id}`;
  const local = p.localDelivery;
  const own = waves.filter((w) => w.pushId === p.id);
  return {
    id: p.id,
    status: p.status,
    campaignId: p.campaignId,
    scheduleId: p.scheduleId,
    audience: p.audience ?? 'all',
    message: p.message,
    offline: p.offline,
    localized: localizedView(p.localized),
    capped: p.capped,
    retentionSeconds: p.retentionSeconds,
    sendAt: iso(p.sendAt),
    localTime: local?.localTime ?? null,
    pastZones: local?.localTime ? local.pastZones : null,
    window: local?.window ?? null,
    timezone: local?.timezone ?? null,
    throttlePerMinute: p.throttlePerMinute,
    expectedFinishAt: iso(expectedFinish(p)),
    createdAt: p.createdAt.toISOString(),
    startedAt: iso(p.startedAt),
    snapshotAt: iso(p.snapshotAt),
    completedAt: iso(p.completedAt),
    canceledAt: iso(p.canceledAt),
    recalledAt: iso(p.recalledAt),
    expiresAt: iso(p.expiresAt),
    expiredAt: iso(p.expiredAt),
    failureReason: p.failureReason,
    counters: {
      audience: p.audienceCount,
      deliveredOnline: p.deliveredOnline,
      storedOffline: p.storedOffline,
      syncedLater: p.syncedLater,
      acked: p.acked,
      expired: p.expired,
      withdrawn: p.withdrawn,
      opened: p.opened,
      clicked: p.clicked,
      ...engagementRates(p),
      capped: p.overCap,
      languages: p.languageCounts ?? (p.snapshotAt ? { [DEFAULT_VARIANT]: p.audienceCount } : {}),
      skipped: own.reduce((n, w) => n + (w.status === 'skipped' ? w.planned : 0), 0),
      ...channelCounts(p.channelCounts),
    },
    waves: local
      ? own.map((w) => ({
          wave: w.wave,
          offset: w.utcOffset,
          at: w.at.toISOString(),
          status: w.status,
          planned: w.planned,
          sentAt: iso(w.snapshotAt),
          audience: w.audience,
          deliveredOnline: w.deliveredOnline,
          storedOffline: w.storedOffline,
          ...channelCounts(w.channelCounts),
        }))
      : null,
    workflowId: p.workflowId,
    links: { self, cancel: `${self}/cancel`, recall: `${self}/recall`, funnel: `${self}/funnel` },
  };
}
