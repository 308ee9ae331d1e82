import type { Sql } from '../db/client.ts';

/**
 * The APNs topics a device may name over the WebSocket: the app's configured one. End users must not point
 * their app's notifications at another bundle; the app server (REST) may set any topic. The one place that
 * reads where credentials keep the topic.
 */
export async function allowedApnsTopics(sql: Sql, appId: string): Promise<string[]> {
  const rows = await sql<{ topic: string | null }[]>`
    select channel_credentials->'apns'->>'topic' as topic from apps where id = ${appId}`;
  return rows.flatMap((r) => (r.topic ? [r.topic] : []));
}
