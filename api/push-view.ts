import { z } from '@hono/zod-openapi';
import type { PushRow } from '../db/pushes.ts';
import { perChannel } from '../delivery/registry.ts';
import { expectedFinish } from '../pushes/throttle.ts';

const provider = z.object({ sent: z.number(), failed: z.number(), tokensDisabled: z.number() });

export const PushSchema = z
  .object({
    id: z.string(),
    status: z.enum(['scheduled', 'running', 'completed', 'canceled', 'failed']),
    campaignId: z.string().nullable(),
    scheduleId: z.string().nullable().openapi({ description: 'The schedule whose run created this push' }),
    audience: z.unknown().openapi({ description: '"all" or the condition' }),
    message: z.unknown(),
    offline: z.unknown(),
    retentionSeconds: z.number(),
    sendAt: z.string().nullable(),
    throttlePerMinute: z
      .number()
      .nullable()
      .openapi({ description: 'At most this many recipients notified per minute; null = not throttled' }),
    expectedFinishAt: z.string().nullable().openapi({
      description: 'A running throttled push: when it should have notified its last recipient (an estimate)',
    }),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
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
      // One entry per channel: `apns`, `fcm`.
      ...perChannel(() => provider),
    }),
    workflowId: z.string(),
    links: z.object({ self: z.string(), cancel: z.string(), recall: z.string() }),
  })
  .openapi('Push');
export type PushView = z.infer<typeof PushSchema>;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function pushView(p: PushRow): PushView {
  const self = `/v1/pushes/${p.id}`;
  return {
    id: p.id,
    status: p.status,
    campaignId: p.campaignId,
    scheduleId: p.scheduleId,
    audience: p.audience ?? 'all',
    message: p.message,
    offline: p.offline,
    retentionSeconds: p.retentionSeconds,
    sendAt: iso(p.sendAt),
    throttlePerMinute: p.throttlePerMinute,
    expectedFinishAt: iso(expectedFinish(p)),
    createdAt: p.createdAt.toISOString(),
    startedAt: iso(p.startedAt),
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
      ...perChannel((c) => {
        const n = p.channelCounts[c.name];
        return { sent: n?.sent ?? 0, failed: n?.failed ?? 0, tokensDisabled: n?.disabled ?? 0 };
      }),
    },
    workflowId: p.workflowId,
    links: { self, cancel: `${self}/cancel`, recall: `${self}/recall` },
  };
}
