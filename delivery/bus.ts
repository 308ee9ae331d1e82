import type { Sql } from '../db/client.ts';

/** What the push workflow (and a kick) tells every gateway. */
export type BusEvent =
  /** `retry`: only the copies a live send still owes (`awaitingLive`), after the offline pages. */
  /** `wave`: a local-time push's wave; only that wave's recipients are sent it. */
  | { type: 'push'; appId: string; pushId: string; retry?: boolean; wave?: number }
  | { type: 'recall'; appId: string; pushId: string }
  /** The account was kicked (v4 im_open_login_svc/kick): every gateway closes its sockets. */
  | { type: 'kick'; appId: string; accountId: string };

/** The online fan-out bus. PostgreSQL LISTEN/NOTIFY today; small enough that NATS can replace it. */
export interface FanoutBus {
  publish(event: BusEvent): Promise<void>;
  /**
   * Delivers every event to `handler`. After a lost subscription comes back (a dropped LISTEN connection),
   * `onResubscribed` is called: events published in between are lost, and the subscriber catches up.
   */
  subscribe(handler: (event: BusEvent) => void, onResubscribed?: () => void): Promise<() => Promise<void>>;
}

const CHANNEL = 'herald_fanout';

export function postgresBus(sql: Sql): FanoutBus {
  return {
    async publish(event) {
      await sql.notify(CHANNEL, JSON.stringify(event));
    },
    async subscribe(handler, onResubscribed) {
      let listens = 0;
      // postgres.js listens again by itself after a reconnect and calls this each time it does.
      const onListen = () => {
        if (listens++ > 0) onResubscribed?.();
      };
      const { unlisten } = await sql.listen(
        CHANNEL,
        (payload) => handler(JSON.parse(payload) as BusEvent),
        onListen,
      );
      return unlisten;
    },
  };
}
