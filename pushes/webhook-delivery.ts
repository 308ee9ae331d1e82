/**
 * Delivery of an endpoint's events, one batch at a time (the endpoint's workflow drives it, activities/
 * webhooks.ts sends): the next batch is fixed in the endpoint row before its first attempt, so every retry sends
 * the same events under the same `webhook-id`; the cursor moves past them only after a 2xx. Events are read in
 * outbox order (txid, seq) and only below the horizon of transactions still running, so no event that commits
 * later can fall behind the cursor.
 */
import { createHash } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { unseal } from '../core/secrets.ts';
import type { Queryable } from '../db/client.ts';
import {
  type OutboxPosition,
  type PendingWebhookBatch,
  type WebhookReplay,
  webhookEndpoints,
} from '../db/schema.ts';

/** Events per request. */
export const WEBHOOK_BATCH_SIZE = 1000;
/** How long events stay in the outbox (and so how far back a replay reaches). */
export const OUTBOX_RETENTION_DAYS = 7;

// This module defines no request schemas: the worker loads it (zod schemas made before @hono/zod-openapi is
// loaded lack `.openapi`), and the API's webhooks service (pushes/webhooks.ts) builds on it.
export const webhookWorkflowId = (appId: string, endpointId: string) => `webhook-${appId}-${endpointId}`;

export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;
export interface EndpointRef {
  appId: string;
  endpointId: string;
}

export const secretContext = (appId: string, endpointId: string) => `webhook:${appId}:${endpointId}`;

/** An event as the receiver gets it. */
export interface WebhookEvent {
  id: string;
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

export interface PreparedBatch {
  url: string;
  secret: string;
  /** The `webhook-id`: derived from the endpoint and the batch's range, so a retry carries the same one. */
  messageId: string;
  body: string;
  batch: PendingWebhookBatch;
  count: number;
}

export type Prepared =
  | { state: 'ready'; prepared: PreparedBatch }
  /** Nothing to send; `behindHorizon`: events exist that wait for older transactions to end. */
  | { state: 'idle'; behindHorizon: boolean }
  /** The endpoint is gone or disabled: its workflow ends. */
  | { state: 'stopped' };

const HORIZON = sql`(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint`;
const after = (p: OutboxPosition) => sql`(o.txid, o.seq) > (${p.txid}::bigint, ${p.seq}::bigint)`;
const upTo = (p: OutboxPosition) => sql`(o.txid, o.seq) <= (${p.txid}::bigint, ${p.seq}::bigint)`;
const typesIn = (types: string[]) => sql`o.type = any(${sql.param(types)}::text[])`;
const within = (r: WebhookReplay | null) =>
  r ? sql`o.created_at >= ${r.from}::timestamptz and o.created_at < ${r.to}::timestamptz` : sql`true`;

export async function findEndpoint(db: Queryable, { appId, endpointId }: EndpointRef) {
  const [row] = await db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.appId, appId), eq(webhookEndpoints.id, endpointId)));
  return row;
}

/** Chooses the next batch (or takes the one already chosen) and renders it. */
export async function prepareBatch(db: Queryable, ref: EndpointRef): Promise<Prepared> {
  const endpoint = await findEndpoint(db, ref);
  if (endpoint?.status !== 'enabled') return { state: 'stopped' };
  let batch = endpoint.pendingBatch;
  let replay = endpoint.replay;
  if (!batch) {
    const chosen = await chooseBatch(db, endpoint);
    if (chosen.state !== 'ready') return chosen;
    batch = chosen.batch;
    replay = chosen.replay;
  }
  const rows = await db.execute<{
    id: string;
    type: string;
    push_id: string | null;
    account_id: string | null;
    data: Record<string, unknown> | null;
    created_at: string | Date;
  }>(sql`
    select o.id, o.type, o.push_id, o.account_id, o.data, o.created_at from webhook_outbox o
    where o.app_id = ${ref.appId} and ${after(batch.after)} and ${upTo(batch.last)} and ${typesIn(batch.types)}
      and ${within(batch.mode === 'replay' ? replay : null)}
    order by o.txid, o.seq`);
  const events: WebhookEvent[] = rows.map((r) => ({
    id: r.id,
    type: r.type,
    timestamp: new Date(r.created_at).toISOString(),
    data: {
      ...(r.push_id ? { pushId: r.push_id } : {}),
      ...(r.account_id ? { accountId: r.account_id } : {}),
      ...r.data,
    },
  }));
  // From the values, not the object: the batch read back from jsonb has its keys in another order.
  const range = `${ref.endpointId}/${batch.mode}/${batch.after.txid}.${batch.after.seq}/${batch.last.txid}.${batch.last.seq}`;
  const messageId = `msg_${createHash('sha256').update(range).digest('hex').slice(0, 32)}`;
  const body = JSON.stringify({
    type: 'batch',
    timestamp: new Date().toISOString(),
    data: { endpointId: ref.endpointId, appId: ref.appId, replay: batch.mode === 'replay', events },
  });
  return {
    state: 'ready',
    prepared: {
      url: endpoint.url,
      secret: unseal(endpoint.secret, secretContext(ref.appId, ref.endpointId)),
      messageId,
      body,
      batch,
      count: events.length,
    },
  };
}

type Chosen =
  | { state: 'ready'; batch: PendingWebhookBatch; replay: WebhookReplay | null }
  | { state: 'idle'; behindHorizon: boolean };

async function chooseBatch(db: Queryable, endpoint: WebhookEndpointRow): Promise<Chosen> {
  const { appId, id } = endpoint;
  const types = endpoint.eventTypes;
  const replay = endpoint.replay;
  const from: OutboxPosition = replay ? replay.after : { txid: endpoint.cursorTxid, seq: endpoint.cursorSeq };
  const [range] = await db.execute<{
    n: number;
    txid: string | null;
    seq: string | null;
    behind: boolean;
  }>(sql`
    with page as (
      select o.txid, o.seq from webhook_outbox o
      where o.app_id = ${appId} and ${after(from)} and o.txid < ${HORIZON} and ${typesIn(types)}
        and ${within(replay)}
      order by o.txid, o.seq limit ${WEBHOOK_BATCH_SIZE}
    ), last as (select txid, seq from page order by txid desc, seq desc limit 1)
    select (select count(*)::int from page) as n, (select txid from last)::text as txid,
      (select seq from last)::text as seq,
      exists (select 1 from webhook_outbox o
              where o.app_id = ${appId} and ${after(from)} and o.txid >= ${HORIZON} and ${typesIn(types)}) as behind`);
  if (!range || range.n === 0 || range.txid === null || range.seq === null) {
    if (replay) {
      // The replay is over: back to the live cursor.
      await db
        .update(webhookEndpoints)
        .set({ replay: null })
        .where(and(eq(webhookEndpoints.appId, appId), eq(webhookEndpoints.id, id)));
      return chooseBatch(db, { ...endpoint, replay: null });
    }
    return { state: 'idle', behindHorizon: range?.behind ?? false };
  }
  const batch: PendingWebhookBatch = {
    mode: replay ? 'replay' : 'live',
    after: from,
    last: { txid: Number(range.txid), seq: Number(range.seq) },
    types,
    count: range.n,
  };
  // Fixed before the first attempt: a retry (or another worker after a crash) sends exactly this.
  await db
    .update(webhookEndpoints)
    .set({ pendingBatch: batch })
    .where(
      and(
        eq(webhookEndpoints.appId, appId),
        eq(webhookEndpoints.id, id),
        sql`${webhookEndpoints.pendingBatch} is null`,
      ),
    );
  return { state: 'ready', batch, replay };
}

/** A 2xx: the cursor (or the replay's) moves past the batch, which is done with. */
export async function batchAcknowledged(db: Queryable, ref: EndpointRef, batch: PendingWebhookBatch) {
  const position = sql`jsonb_build_object('txid', ${batch.last.txid}::bigint, 'seq', ${batch.last.seq}::bigint)`;
  await db.execute(sql`
    update webhook_endpoints set pending_batch = null, failing_since = null, last_failure = null,
      last_success_at = now(),
      cursor_txid = case when ${batch.mode} = 'live' then ${batch.last.txid}::bigint else cursor_txid end,
      cursor_seq = case when ${batch.mode} = 'live' then ${batch.last.seq}::bigint else cursor_seq end,
      replay = case when ${batch.mode} = 'replay' and replay is not null
                    then jsonb_set(replay, '{after}', ${position}) else replay end
    where app_id = ${ref.appId} and id = ${ref.endpointId}
      and pending_batch = ${JSON.stringify(batch)}::jsonb`);
}

/** Anything but a 2xx: remembered (GET /v1/webhooks/{id} shows it); the activity's retry policy backs off. */
export async function batchFailed(db: Queryable, ref: EndpointRef, reason: string) {
  await db
    .update(webhookEndpoints)
    .set({ failingSince: sql`coalesce(${webhookEndpoints.failingSince}, now())`, lastFailure: reason })
    .where(and(eq(webhookEndpoints.appId, ref.appId), eq(webhookEndpoints.id, ref.endpointId)));
}

/** No 2xx for the whole retry window: the endpoint is disabled with the reason. */
export async function disableEndpoint(db: Queryable, ref: EndpointRef, giveUpSeconds: number) {
  const endpoint = await findEndpoint(db, ref);
  if (endpoint?.status !== 'enabled') return;
  const since = endpoint.failingSince?.toISOString() ?? 'unknown';
  const reason = `no 2xx answer for ${giveUpSeconds} s of retries (failing since ${since}); last failure: ${endpoint.lastFailure ?? 'unknown'}`;
  await db
    .update(webhookEndpoints)
    .set({ status: 'disabled', disabledAt: new Date(), disabledReason: reason, updatedAt: new Date() })
    .where(and(eq(webhookEndpoints.appId, ref.appId), eq(webhookEndpoints.id, ref.endpointId)));
}

/** Events older than the outbox's retention go, up to `limit` a sweep (the reconciler's schedule runs it). */
export async function pruneOutbox(db: Queryable, limit = 100_000): Promise<number> {
  const rows = await db.execute(sql`
    delete from webhook_outbox o using (
      select app_id, txid, seq from webhook_outbox
      where created_at < now() - make_interval(days => ${OUTBOX_RETENTION_DAYS})
      limit ${limit}) old
    where o.app_id = old.app_id and o.txid = old.txid and o.seq = old.seq`);
  return rows.count;
}
