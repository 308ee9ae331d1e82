import type { Sql } from '../db/client.ts';
import { pgErrorCode, SQLSTATE } from '../db/errors.ts';
import { RecipientState as S } from '../db/schema.ts';
import type { PushForFrame } from './protocol.ts';

/**
 * Every query the gateway runs. All of them are set-based: one statement per connect step, per bus
 * notification and per ack frame, never one per recipient. Recipient rows are always reached by push id
 * first so PostgreSQL prunes `push_recipients` to the partitions of those pushes.
 */

/** Recipient states a connected account may still be sent: not acked, withdrawn, expired or skipped. */
const UNACKED = [S.pending, S.online, S.synced];

export interface SyncedPush extends PushForFrame {}

/**
 * Runs a statement again when PostgreSQL picked it as a deadlock victim: two gateways delivering one push to
 * one account's devices, or two devices of an account syncing at once, may lock the same rows in another order.
 */
async function retryingDeadlocks<T>(run: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (err) {
      const code = pgErrorCode(err);
      if (i >= attempts || (code !== SQLSTATE.deadlockDetected && code !== SQLSTATE.serializationFailure))
        throw err;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * i));
    }
  }
}

export interface LiveDelivery extends PushForFrame {
  accounts: string[] | null;
  recalled_at: Date | null;
}

export function gatewayStore(sql: Sql, gatewayId: string) {
  return {
    /** Registers this gateway, or beats its heart. `inserted` = the row was missing (presence must be rewritten). */
    async heartbeat(): Promise<{ inserted: boolean }> {
      const [row] = await sql<{ inserted: boolean }[]>`
        insert into gateways (id) values (${gatewayId})
        on conflict (id) do update set heartbeat_at = now()
        returning (xmax = 0) as inserted`;
      return { inserted: row?.inserted ?? false };
    },

    /** Gateways silent for long are gone; their presence rows go with them (on delete cascade). */
    async reapDeadGateways(olderThanSeconds: number): Promise<number> {
      const rows = await sql`
        delete from gateways where heartbeat_at < now() - make_interval(secs => ${olderThanSeconds})`;
      return rows.count;
    },

    async unregister(): Promise<void> {
      await sql`delete from gateways where id = ${gatewayId}`;
    },

    /** Connecting is a login: the account is created if needed and becomes eligible for pushes. */
    async recordLogin(appId: string, accountId: string): Promise<void> {
      await sql`
        insert into accounts (app_id, account_id, last_login_at) values (${appId}, ${accountId}, now())
        on conflict (app_id, account_id) do update set last_login_at = now()`;
    },

    /** This gateway's connection count for an account: written as a number, the row deleted at zero. */
    async setPresence(appId: string, accountId: string, connections: number): Promise<void> {
      if (connections > 0) {
        await sql`
          insert into presence (gateway_id, app_id, account_id, connections)
          values (${gatewayId}, ${appId}, ${accountId}, ${connections})
          on conflict (app_id, account_id, gateway_id) do update set connections = excluded.connections`;
      } else {
        await sql`
          delete from presence
          where app_id = ${appId} and account_id = ${accountId} and gateway_id = ${gatewayId}`;
      }
    },

    /** Writes this gateway's whole presence again (after its row had been reaped), in one statement. */
    async rewritePresence(rows: { appId: string; accountId: string; connections: number }[]): Promise<void> {
      if (!rows.length) return;
      await sql`
        insert into presence (gateway_id, app_id, account_id, connections)
        select ${gatewayId}, x.app_id, x.account_id, x.n
        from unnest(${rows.map((r) => r.appId)}::text[], ${rows.map((r) => r.accountId)}::text[],
                    ${rows.map((r) => r.connections)}::int[]) as x(app_id, account_id, n)
        on conflict (app_id, account_id, gateway_id) do update set connections = excluded.connections`;
    },

    /**
     * The app's pushes whose copies are still kept, oldest first: snapshotted, retention not over, not
     * recalled. Only ids: the bodies are read for the pushes the account actually has.
     */
    /** Pushes of the app snapshotted in the last `seconds`, not recalled: what a re-subscribed gateway replays. */
    async recentPushIds(appId: string, seconds: number): Promise<string[]> {
      const rows = await sql<{ id: string }[]>`
        select id from pushes
        where app_id = ${appId} and snapshot_at > now() - make_interval(secs => ${seconds})
          and recalled_at is null and expired_at is null
        order by snapshot_at, id`;
      return rows.map((r) => r.id);
    },

    async livePushIds(appId: string): Promise<string[]> {
      const rows = await sql<{ id: string }[]>`
        select id from pushes
        where app_id = ${appId} and expires_at > now() and expired_at is null and recalled_at is null
          and snapshot_at is not null
        order by snapshot_at, id`;
      return rows.map((r) => r.id);
    },

    /**
     * The sync of one account over some of the app's live pushes (all with retention, as they have not
     * expired), in one statement: picks its copies not yet acked, moves pending ones to synced and
     * counts them in `pushes.synced_later`, and returns the pushes to send, oldest first. Copies already
     * delivered but not acked are sent again (the client de-duplicates by id).
     */
    async syncAccount(appId: string, accountId: string, pushIds: string[]): Promise<SyncedPush[]> {
      if (!pushIds.length) return [];
      return retryingDeadlocks(
        () => sql<SyncedPush[]>`
        with cand as (
          select r.push_id, r.account_seq from push_recipients r
          join pushes p on p.app_id = ${appId} and p.id = r.push_id
          where r.push_id = any(${pushIds}::text[]) and r.account_id = ${accountId}
            and r.state in ${sql(UNACKED)}
            -- A push canceled mid-fan-out kept copies only for the pages it had reached.
            and (p.status <> 'canceled' or r.state <> ${S.pending} or r.account_seq <= p.offline_cursor)
        ), moved as (
          update push_recipients r set state = ${S.synced}
          from cand
          where r.push_id = any(${pushIds}::text[]) and r.account_id = ${accountId}
            and r.push_id = cand.push_id and r.account_seq = cand.account_seq
            and r.state in ${sql([S.pending])}
          returning r.push_id
        ), bumped as (
          update pushes p set synced_later = p.synced_later + m.n
          from (select push_id, count(*)::int as n from moved group by push_id) m
          where p.app_id = ${appId} and p.id = m.push_id
        )
        select p.id, p.message, p.from_account, p.snapshot_at, p.expires_at, p.retention_seconds
        from pushes p join cand c on c.push_id = p.id
        where p.app_id = ${appId}
        order by p.snapshot_at, p.id`,
      );
    },

    /**
     * What live delivery of one push sends to the accounts connected here, read without writing: the push and
     * those of the accounts whose copies are not yet acked. Copies another gateway already delivered are
     * included, so every device of an account gets the push wherever it is connected. Nothing when the push
     * does not exist. Reading first and marking after (`markDeliveredOnline`) puts the frames on the wire
     * before the row updates, which are most of the statement's cost.
     */
    async liveRecipients(
      appId: string,
      pushId: string,
      accountIds: string[],
    ): Promise<LiveDelivery | undefined> {
      const [row] = await sql<LiveDelivery[]>`
        select p.id, p.message, p.from_account, p.snapshot_at, p.expires_at, p.retention_seconds,
          p.recalled_at,
          (select array_agg(r.account_id) from push_recipients r
           where r.push_id = ${pushId} and r.account_id = any(${accountIds}::text[])
             and r.state in ${sql(UNACKED)}) as accounts
        from pushes p where p.app_id = ${appId} and p.id = ${pushId}`;
      return row;
    },

    /**
     * After the frames went out: the accounts' copies still pending become `online` and are counted in
     * delivered_online, in one statement. A copy acked in between was counted by the ack.
     */
    async markDeliveredOnline(appId: string, pushId: string, accountIds: string[]): Promise<number> {
      const rows = await retryingDeadlocks(
        () => sql<{ n: number }[]>`
        with moved as (
          update push_recipients r set state = ${S.online}
          where r.push_id = ${pushId} and r.account_id = any(${accountIds}::text[])
            and r.state = ${S.pending}
          returning 1
        ), bumped as (
          update pushes set delivered_online = delivered_online + (select count(*) from moved)
          where app_id = ${appId} and id = ${pushId} and exists (select 1 from moved)
        )
        select count(*)::int as n from moved`,
      );
      return rows[0]?.n ?? 0;
    },

    /**
     * Acks by push id: the account's copies become acked and `pushes.acked` counts them, in one statement. A
     * copy still pending was delivered live and acked before the gateway marked it (sync marks before it
     * sends), so it is counted as delivered online too.
     */
    async ack(appId: string, accountId: string, pushIds: string[]): Promise<number> {
      if (!pushIds.length) return 0;
      const rows = await retryingDeadlocks(
        () => sql<{ n: number }[]>`
        with cand as (
          select r.push_id, r.account_seq, r.state from push_recipients r
          where r.push_id = any(${pushIds}::text[]) and r.account_id = ${accountId}
            and r.state in ${sql(UNACKED)}
            and r.push_id in (select id from pushes where app_id = ${appId} and id = any(${pushIds}::text[]))
          for update
        ), acked as (
          update push_recipients r set state = ${S.acked}
          from cand
          where r.push_id = any(${pushIds}::text[]) and r.account_id = ${accountId}
            and r.push_id = cand.push_id and r.account_seq = cand.account_seq
          returning r.push_id, cand.state as was
        ), bumped as (
          update pushes p set acked = p.acked + a.n, delivered_online = p.delivered_online + a.live
          from (select push_id, count(*)::int as n, count(*) filter (where was = ${S.pending})::int as live
                from acked group by push_id) a
          where p.app_id = ${appId} and p.id = a.push_id
        )
        select count(*)::int as n from acked`,
      );
      return rows[0]?.n ?? 0;
    },
  };
}

export type GatewayStore = ReturnType<typeof gatewayStore>;
