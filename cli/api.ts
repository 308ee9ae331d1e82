import type { Server } from 'node:http';
import { type ServerType, serve } from '@hono/node-server';
import { createApi } from '../api/app.ts';
import type { ApiDeps } from '../api/context.ts';
import { API_KEEP_ALIVE_MS } from '../core/tunables.ts';
import type { FanoutBus } from '../delivery/bus.ts';
import {
  createGateway,
  type Gateway,
  type GatewayOptions,
  gatewayOptionsFromConfig,
} from '../gateway/index.ts';

export interface ApiHandle {
  url: string;
  port: number;
  server: ServerType;
  gateway: Gateway;
  stop(): Promise<void>;
}

export interface ApiOptions {
  /** Gateway settings (tests shorten timers and buffers; a Tencent UserSig verifier is added here). */
  gateway?: Partial<GatewayOptions>;
  /** The fan-out bus (default: LISTEN/NOTIFY on the api's database). */
  bus?: FanoutBus;
  /** The Temporal Web UI the console links to (default: HERALD_TEMPORAL_UI_URL). */
  temporalUiUrl?: string | undefined;
}

export async function startApi(deps: ApiDeps, options: ApiOptions = {}): Promise<ApiHandle> {
  // Aborted as the api stops: the console's live streams end instead of holding their connections open.
  const closing = new AbortController();
  const app = createApi(deps, {
    temporalUiUrl: options.temporalUiUrl ?? deps.config.HERALD_TEMPORAL_UI_URL,
    closing: closing.signal,
  });
  const gateway = createGateway(
    { database: deps.database, log: deps.log, ...(options.bus ? { bus: options.bus } : {}) },
    { ...gatewayOptionsFromConfig(deps.config), ...options.gateway },
  );
  await gateway.start();
  const { server, port } = await new Promise<{ server: ServerType; port: number }>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: deps.config.PORT, hostname: deps.config.HOST }, (info) =>
      resolve({ server: s, port: info.port }),
    );
    s.once('error', reject);
  }).catch(async (err) => {
    await gateway.stop();
    throw err;
  });
  // Idle keep-alive connections outlive a client's own idle timeout (undici's is the server's hint less a
  // second; load balancers idle out at 60 s), so the client, not the server, closes them: a server closing
  // first races a request already on its way, which the client sees as ECONNRESET.
  (server as Server).keepAliveTimeout = API_KEEP_ALIVE_MS;
  (server as Server).headersTimeout = API_KEEP_ALIVE_MS + 1_000;
  (server as Server).on('upgrade', (req, socket, head) => gateway.handleUpgrade(req, socket, head));
  const url = `http://${deps.config.HOST === '0.0.0.0' ? '127.0.0.1' : deps.config.HOST}:${port}`;
  deps.log.info({ url }, 'api listening');
  return {
    url,
    port,
    server,
    gateway,
    stop: async () => {
      // No new connections or requests; those in progress go on. Then the gateway: its fan-outs and frame
      // writes finish (within the grace), its sockets close with 1001. Then what HTTP is left.
      closing.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const http = server as { closeIdleConnections?: () => void; closeAllConnections?: () => void };
      http.closeIdleConnections?.();
      await gateway.stop();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, options.gateway?.closeGraceMs ?? 5_000);
      });
      await Promise.race([closed, grace]);
      clearTimeout(timer);
      http.closeAllConnections?.();
      await closed;
    },
  };
}
