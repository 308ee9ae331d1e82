import { z } from '@hono/zod-openapi';
import type { PushRow } from '../db/pushes.ts';
import { perChannel } from '../delivery/registry.ts';
import { DEFAULT_VARIANT, localizedView } from '../pushes/localized.ts';

const provider = z.object({ sent: z.number(), failed: z.number(), tokensDisabled: z.number() });

export const PushSchema = z
  .object({
    id: z.string(),
    status: z.enum(['scheduled', 'running', 'completed', 'canceled', 'failed']),
    campaignId: z.string().nullable(),
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
      capped: z
        .number()
        .openapi({ description: 'Accounts the audience matched that the frequency cap skipped' }),
      languages: z.record(z.string(), z.number()).openapi({
        description:
          'Recipients per variant: `default` and each language of `localized` (empty before the snapshot)',
      }),
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
    audience: p.audience ?? 'all',
    message: p.message,
    offline: p.offline,
    localized: localizedView(p.localized),
    capped: p.capped,
    retentionSeconds: p.retentionSeconds,
    sendAt: iso(p.sendAt),
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
      capped: p.overCap,
      languages: p.languageCounts ?? (p.snapshotAt ? { [DEFAULT_VARIANT]: p.audienceCount } : {}),
      ...perChannel((c) => {
        const n = p.channelCounts[c.name];
        return { sent: n?.sent ?? 0, failed: n?.failed ?? 0, tokensDisabled: n?.disabled ?? 0 };
      }),
    },
    workflowId: p.workflowId,
    links: { self, cancel: `${self}/cancel`, recall: `${self}/recall` },
  };
}
