/**
 * The Node entry point (the `node` export condition): the same API as the universal one, except that a
 * runtime without a global WebSocket (Node 20, 21) falls back to the `ws` package, imported on first use.
 * Deno and Bun match the `node` condition too; they have a global WebSocket, so `ws` is never loaded there.
 */

import type { HeraldClientOptions } from './client.ts';
import { HeraldClient as UniversalClient } from './client.ts';
import type { WebSocketConstructor } from './socket.ts';

async function loadWs(): Promise<WebSocketConstructor> {
  const mod = (await import('ws')) as unknown as {
    WebSocket?: WebSocketConstructor;
    default?: WebSocketConstructor;
  };
  const ws = mod.WebSocket ?? mod.default;
  if (typeof ws !== 'function') throw new Error('the `ws` package did not export a WebSocket');
  return ws;
}

export class HeraldClient extends UniversalClient {
  constructor(options: HeraldClientOptions) {
    super(options, loadWs);
  }
}

export * from './index.ts';
