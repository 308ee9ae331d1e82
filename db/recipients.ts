import { sql } from 'drizzle-orm';
import type { Queryable } from './client.ts';

/** Push ids are UUIDs; the partition name is derived from them and never from caller input. */
const PUSH_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function recipientPartition(pushId: string): string {
  if (!PUSH_ID.test(pushId)) throw new Error(`not a push id: ${pushId}`);
  return `push_recipients_${pushId.replaceAll('-', '')}`;
}

/** DDL cannot take bound parameters; the id is checked against PUSH_ID above. */
export async function createRecipientPartition(db: Queryable, pushId: string): Promise<void> {
  const name = recipientPartition(pushId);
  await db.execute(
    sql.raw(`create table if not exists "${name}" partition of push_recipients for values in ('${pushId}')`),
  );
}

export async function dropRecipientPartition(db: Queryable, pushId: string): Promise<void> {
  await db.execute(sql.raw(`drop table if exists "${recipientPartition(pushId)}"`));
}
