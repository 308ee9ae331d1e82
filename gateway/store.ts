import type { Sql } from '../db/client.ts';
import { ack, liveRecipients, markDeliveredOnline, syncAccount } from '../pushes/recipients.ts';

/**
 * Every query the gateway runs: its own rows (gateways, presence, logins) and reads of live pushes here, and the
 * recipient transitions it drives (delivered online, synced, acked), which pushes/recipients.ts owns. All are
 * set-based: one statement per connect step, per bus notification and per ack frame, never one per recipient.
 */

export function gatewayStore(sql: Sql, gatewayId: string) {
  return {
    /** The account's copies of some live pushes, for the connect-time sync (see pushes/recipients.ts). */
    syncAccount: (appId: string, accountId: string, pushIds: string[]) =>
      syncAccount(sql, appId, accountId, pushIds),
    /** What live delivery of a push sends to the accounts connected here. */
    liveRecipients: (appId: string, pushId: string, accountIds: string[], owedOnly = false, wave?: number) =>
      liveRecipients(sql, appId, pushId, accountIds, owedOnly, wave),
    /** After the frames were written to open sockets: those copies are delivered online. */
    markDeliveredOnline: (appId: string, pushId: string, accountIds: string[], wave?: number) =>
      markDeliveredOnline(sql, appId, pushId, accountIds, wave),
    /** An ack frame: the account's copies of these pushes are acked. */
    ack: (appId: string, accountId: string, pushIds: string[]) => ack(sql, appId, accountId, pushIds),
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

    /**
     * Connecting is a login: the account is created if needed and becomes eligible for pushes, and takes the
     * language the client said (canonical; none leaves it). Answers when its tokens were last revoked by a kick
     * (null if never), read in the same statement.
     */
    async recordLogin(
      appId: string,
      accountId: string,
      language?: string | undefined,
    ): Promise<{ tokensValidAfter: Date | null }> {
      const lang = language ?? null;
      // drizzle's driver leaves timestamps as text on this connection.
      const [row] = await sql<{ tokens_valid_after: string | Date | null }[]>`
        insert into accounts (app_id, account_id, last_login_at, language)
        values (${appId}, ${accountId}, now(), ${lang})
        on conflict (app_id, account_id) do update
          set last_login_at = now(), language = coalesce(excluded.language, accounts.language)
        returning tokens_valid_after`;
      const at = row?.tokens_valid_after;
      return { tokensValidAfter: at ? new Date(at) : null };
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
  };
}

export type GatewayStore = ReturnType<typeof gatewayStore>;
