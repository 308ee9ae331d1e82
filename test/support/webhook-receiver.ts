import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedEvent {
  id: string;
  type: string;
  timestamp: string;
  data: { pushId?: string; accountId?: string } & Record<string, unknown>;
}

export interface ReceivedMessage {
  id: string;
  /** When the request began to arrive (ms). */
  at: number;
  events: ReceivedEvent[];
  replay: boolean;
}

/**
 * A webhook receiver as an operator would write one: every request is verified with the Standard Webhooks
 * library; a message is processed once per `webhook-id` (a repeat is answered 2xx and ignored). It can be
 * told to fail: answer 500, hang past Herald's timeout, or stop listening (connection refused).
 */
export async function startReceiver(secret: () => string | undefined, opts: { holdMs?: number } = {}) {
  const messages: ReceivedMessage[] = [];
  const seen = new Map<string, string>();
  const failures: string[] = [];
  let attempts = 0;
  let mode: 'ok' | '500' | 'hang' = 'ok';
  let holdMs = opts.holdMs ?? 0;
  const hanging = new Set<http.ServerResponse>();
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    // When the request began (its headers arrived), not when its body ended: the sender's pace.
    const began = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      attempts++;
      const body = Buffer.concat(chunks).toString('utf8');
      if (mode === '500') {
        res.writeHead(500).end('down for maintenance');
        return;
      }
      if (mode === 'hang') {
        hanging.add(res);
        return;
      }
      const key = secret();
      let payload: { type: string; data: { events: ReceivedEvent[]; replay: boolean } };
      try {
        if (!key) throw new Error('no secret yet');
        payload = new Webhook(key).verify(body, req.headers as Record<string, string>) as typeof payload;
      } catch (err) {
        failures.push((err as Error).message);
        res.writeHead(400).end('bad signature');
        return;
      }
      const id = String(req.headers['webhook-id']);
      const earlier = seen.get(id);
      if (earlier !== undefined) {
        // A repeat of a message already processed: it must be the same message.
        if (earlier !== JSON.stringify(payload.data.events))
          failures.push(`message ${id} changed between sends`);
      } else {
        seen.set(id, JSON.stringify(payload.data.events));
        messages.push({ id, at: began, events: payload.data.events, replay: payload.data.replay });
      }
      const answer = () => res.writeHead(204).end();
      if (holdMs > 0) setTimeout(answer, holdMs);
      else answer();
    });
  };
  let server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/hooks`;
  return {
    url,
    messages,
    failures,
    get attempts() {
      return attempts;
    },
    events: () => messages.flatMap((m) => m.events),
    setMode(m: 'ok' | '500' | 'hang') {
      mode = m;
      if (m !== 'hang') for (const res of hanging) res.destroy();
    },
    setHold(ms: number) {
      holdMs = ms;
    },
    /** Stops listening: connections are refused until `start`. */
    async stop() {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    },
    async start() {
      server = http.createServer(handler);
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    },
    async close() {
      for (const res of hanging) res.destroy();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    },
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
