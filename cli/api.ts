import { type ServerType, serve } from '@hono/node-server';
import { createApi } from '../api/app.ts';
import type { ApiDeps } from '../api/context.ts';

export interface ApiHandle {
  url: string;
  port: number;
  server: ServerType;
  stop(): Promise<void>;
}

export async function startApi(deps: ApiDeps): Promise<ApiHandle> {
  const app = createApi(deps);
  const { server, port } = await new Promise<{ server: ServerType; port: number }>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: deps.config.PORT, hostname: deps.config.HOST }, (info) =>
      resolve({ server: s, port: info.port }),
    );
    s.once('error', reject);
  });
  const url = `http://${deps.config.HOST === '0.0.0.0' ? '127.0.0.1' : deps.config.HOST}:${port}`;
  deps.log.info({ url }, 'api listening');
  return {
    url,
    port,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
