/**
 * Receives pushes as one account and prints them, acking each one.
 *
 *   HERALD_TOKEN=<user token> npx tsx sdk/examples/receive.ts [http://127.0.0.1:8080]
 */
import { HeraldClient } from '../src/node.ts';

const token = process.env.HERALD_TOKEN;
if (!token) {
  console.error('Set HERALD_TOKEN to a user token (POST /v1/accounts/{id}/token mints one).');
  process.exit(1);
}
const url = process.argv[2] ?? process.env.HERALD_URL ?? 'http://127.0.0.1:8080';

const client = new HeraldClient({ url, token });
client.on('open', (w) => console.log(`connected as ${w.accountId}`));
client.on('message', (m) => {
  const text = m.elements.map((e) => (e.type === 'text' ? e.text : `[${e.type}]`)).join(' ');
  console.log(`${m.sentAt}  ${text}  (push ${m.pushId})`);
  client.ack(m.id);
});
client.on('synced', ({ count }) => console.log(`caught up: ${count} missed message(s); waiting for more…`));
client.on('recall', (r) => console.log(`recalled: push ${r.pushId}`));
client.on('close', (c) =>
  console.log(`connection closed (${c.code} ${c.reason})${c.willReconnect ? ', reconnecting' : ''}`),
);
client.on('error', (e) => console.error(`error: ${e.code} ${e.message}`));
process.on('SIGINT', () => {
  client.close();
  process.exit(0);
});
