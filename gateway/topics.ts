import { findAppById } from '../db/apps.ts';
import type { Db } from '../db/client.ts';

/**
 * The APNs topics a device may name over the WebSocket: the app's configured one. End users must not point
 * their app's notifications at another bundle; the app server (REST) may set any topic. The one place that
 * reads where credentials keep the topic (they are stored sealed: db/apps.ts opens them).
 */
export async function allowedApnsTopics(db: Db, appId: string): Promise<string[]> {
  const apns = (await findAppById(db, appId))?.channelCredentials.apns;
  const topic = apns && typeof apns === 'object' ? (apns as { topic?: unknown }).topic : undefined;
  return typeof topic === 'string' && topic ? [topic] : [];
}
