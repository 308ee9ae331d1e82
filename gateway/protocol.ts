import { z } from 'zod';
import { hasUnstorableText, UNSTORABLE_PROBLEM } from '../core/text.ts';
import { CHANNEL_NAMES, channelOf } from '../delivery/registry.ts';
import type { PushForDelivery } from '../pushes/recipients.ts';

/**
 * The wire protocol of the WebSocket gateway, version 1 (docs/protocol.md is its reference). Frames are
 * JSON text frames with a `type`; unknown fields are ignored so the protocol can grow within a version.
 */
// The constants both ends must agree on live in the SDK; the server re-exports them.
export { CloseCode, PROTOCOL, TOKEN_PROTOCOL_PREFIX } from '../sdk/src/protocol.ts';

/** A string field of a frame: no NUL, no unpaired surrogate. */
const text = () => z.string().refine((s) => !hasUnstorableText(s), UNSTORABLE_PROBLEM);

const ref = text().max(64).optional();
/** A registered channel's name, parsed to the channel itself: the device queries take its token rules. */
const platform = z.enum(CHANNEL_NAMES).transform(channelOf);
const pushId = text().min(1).max(64);
export const MAX_ACK_IDS = 500;

export const clientFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auth'), token: text().min(1).max(8192), ref }),
  z
    .object({
      type: z.literal('ack'),
      id: pushId.optional(),
      ids: z.array(pushId).max(MAX_ACK_IDS, `at most ${MAX_ACK_IDS} ids per ack`).optional(),
      ref,
    })
    .refine((f) => f.id !== undefined || (f.ids?.length ?? 0) > 0, 'an ack needs `id` or `ids`'),
  z.object({ type: z.literal('ping'), ref }),
  z.object({
    type: z.literal('registerDevice'),
    platform,
    token: text().min(1).max(4096),
    environment: z.enum(['sandbox', 'production']).optional(),
    topic: text().min(1).max(255).optional(),
    deviceId: text()
      .min(1)
      .max(128)
      .regex(/^[A-Za-z0-9._:-]+$/, "deviceId: letters, digits, '.', '_', ':' and '-' only")
      .optional(),
    ref,
  }),
  z.object({ type: z.literal('opened'), id: pushId, ref }),
  z.object({ type: z.literal('clicked'), id: pushId, action: text().min(1).max(128).optional(), ref }),
  z.object({
    type: z.literal('unregisterDevice'),
    platform,
    token: text().min(1).max(4096),
    ref,
  }),
  // What the device says of its user: the zone for local-time delivery (null clears it).
  z.object({ type: z.literal('profile'), timezone: text().max(64).nullable().optional(), ref }),
  /** The app's VAPID public key: the applicationServerKey a browser subscribes to Web Push with. */
  z.object({ type: z.literal('webPushKey'), ref }),
]);
export type ClientFrame = z.infer<typeof clientFrameSchema>;
export const CLIENT_FRAME_TYPES = new Set([
  'auth',
  'ack',
  'ping',
  'registerDevice',
  'unregisterDevice',
  'opened',
  'clicked',
  'profile',
  'webPushKey',
]);

/** A push as the client sees it. `id` is what the client acks; in v1 it equals `pushId`. */
export interface MessageFrame {
  type: 'message';
  id: string;
  pushId: string;
  elements: unknown[];
  /** The language variant the account got (its BCP 47 tag), or null for the push's default message. */
  language: string | null;
  from: string | null;
  sentAt: string | null;
  expiresAt: string | null;
}

/** The push columns a message frame is made of. */
export type PushForFrame = PushForDelivery;

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

/** The message frame of a push, in the recipient's language variant (`p.variant`; none: the default). */
export function messageFrame(p: PushForFrame): MessageFrame {
  const message = (p.message ?? {}) as { elements?: unknown[]; from?: string };
  return {
    type: 'message',
    id: p.id,
    pushId: p.id,
    elements: p.variant?.elements ?? message.elements ?? [],
    language: p.variant?.language ?? null,
    from: message.from ?? p.from_account ?? null,
    sentAt: iso(p.snapshot_at),
    expiresAt: p.retention_seconds > 0 ? iso(p.expires_at) : null,
  };
}

export const frame = (f: Record<string, unknown>): string => JSON.stringify(f);
