import net from 'node:net';
import type { Config } from '../core/config.ts';
import { StartupError } from './startup-error.ts';

export interface PortUse {
  port: number;
  host: string;
  /** The setting that chooses it, named in the message when it is taken. */
  variable: string;
  what: string;
}

/** Why `port` cannot be bound on `host` (EADDRINUSE, EACCES, …), or undefined when it is free. */
export function portProblem(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      resolve(err.code === 'EADDRINUSE' ? 'already in use' : (err.code ?? err.message)),
    );
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** Every port `herald start` (or `herald api`) is about to bind: the API, and the embedded services it runs. */
export function portsToBind(config: Config, role: 'start' | 'api'): PortUse[] {
  const ports: PortUse[] = [{ port: config.PORT, host: config.HOST, variable: 'PORT', what: 'the API' }];
  if (role === 'api') return ports;
  if (!config.DATABASE_URL)
    ports.push({
      port: config.HERALD_POSTGRES_PORT,
      host: '127.0.0.1',
      variable: 'HERALD_POSTGRES_PORT',
      what: 'the embedded PostgreSQL',
    });
  if (!config.TEMPORAL_ADDRESS) {
    ports.push({
      port: config.HERALD_TEMPORAL_PORT,
      host: '127.0.0.1',
      variable: 'HERALD_TEMPORAL_PORT',
      what: 'the Temporal dev server',
    });
    if (config.TEMPORAL_UI_PORT)
      ports.push({
        port: config.TEMPORAL_UI_PORT,
        host: '127.0.0.1',
        variable: 'TEMPORAL_UI_PORT',
        what: 'the Temporal Web UI',
      });
  }
  return ports;
}

/**
 * Stops start-up, before anything starts, when a port it needs is taken. Never a silent fallback: an embedded
 * service answering on a port already in use would be someone else's (another Herald's Temporal server,
 * whose workflows this worker would then run against the wrong database).
 */
export async function assertPortsFree(ports: PortUse[]): Promise<void> {
  for (const p of ports) {
    const problem = await portProblem(p.host, p.port);
    if (problem)
      throw new StartupError(
        `port ${p.port} (${p.variable}, ${p.what}) on ${p.host}: ${problem}; stop what uses it or set ${p.variable} to a free port`,
      );
  }
}
