/** The little of the WebSocket API the client uses: the browser's, Node's global one and `ws` all fit. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/**
 * The WebSocket to use: the one given, else the global one (browsers, Deno, Bun, Node ≥ 22), else the
 * `ws` package, imported only when needed so browser bundles never contain it.
 */
export async function resolveWebSocket(given?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (given) return given;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return global;
  try {
    const mod = (await import('ws')) as unknown as {
      default?: WebSocketConstructor;
      WebSocket?: WebSocketConstructor;
    };
    const ws = mod.WebSocket ?? mod.default;
    if (typeof ws === 'function') return ws;
  } catch {
    // fall through
  }
  throw new Error('No WebSocket implementation: install the `ws` package or pass `WebSocket` in the options');
}
