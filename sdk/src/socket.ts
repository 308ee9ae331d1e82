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

/** Where a runtime without a global WebSocket finds one (the Node entry point passes the `ws` package). */
export type WebSocketFallback = () => Promise<WebSocketConstructor>;

/**
 * The WebSocket to use: the one given, else the global one (browsers, React Native, Deno, Bun, Node ≥ 22),
 * else the fallback. This module imports nothing, so no bundle of the universal entry point reaches `ws` or
 * a Node built-in; only the `node` export condition (src/node.ts) brings `ws` in, lazily.
 */
export async function resolveWebSocket(
  given?: WebSocketConstructor,
  fallback?: WebSocketFallback,
): Promise<WebSocketConstructor> {
  if (given) return given;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return global;
  if (fallback) return fallback();
  throw new Error(
    'No WebSocket implementation: this runtime has no global WebSocket; pass `WebSocket` in the options',
  );
}
