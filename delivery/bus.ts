import type { Sql } from '../db/client.ts';

/** What the push workflow tells every gateway. */
export type BusEvent =
  | { type: 'push'; appId: string; pushId: string }
  | { type: 'recall'; appId: string; pushId: string };

/** The online fan-out bus. PostgreSQL LISTEN/NOTIFY today; small enough that NATS can replace it. */
export interface FanoutBus {
  publish(event: BusEvent): Promise<void>;
  subscribe(handler: (event: BusEvent) => void): Promise<() => Promise<void>>;
}

const CHANNEL = 'herald_fanout';

export function postgresBus(sql: Sql): FanoutBus {
  return {
    async publish(event) {
      await sql.notify(CHANNEL, JSON.stringify(event));
    },
    async subscribe(handler) {
      const { unlisten } = await sql.listen(CHANNEL, (payload) => handler(JSON.parse(payload) as BusEvent));
      return unlisten;
    },
  };
}
