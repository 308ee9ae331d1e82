import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../core/log.ts';
import { HERALD_SEARCH_ATTRIBUTES } from '../workflows/search-attributes.ts';
import { StartupError } from './startup-error.ts';

export interface DevTemporal {
  address: string;
  uiUrl: string | undefined;
  stop(): Promise<void>;
}

const isExecutable = (file: string): boolean => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** TEMPORAL_CLI, else ./.tools/temporal, else `temporal` on PATH; undefined when none is found. */
export function findTemporalCli(configured: string | undefined, cwd = process.cwd()): string | undefined {
  if (configured) {
    if (!isExecutable(configured)) throw new Error(`TEMPORAL_CLI=${configured} is not an executable file`);
    return configured;
  }
  const local = path.join(cwd, '.tools', 'temporal');
  if (isExecutable(local)) return local;
  try {
    const found = execFileSync('sh', ['-c', 'command -v temporal'], { encoding: 'utf8' }).trim();
    return found || undefined;
  } catch {
    return undefined;
  }
}

export async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`nothing answered on ${host}:${port} within ${timeoutMs} ms`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface DevTemporalOptions {
  cli: string | undefined;
  dataDir: string;
  port: number;
  uiPort: number;
  namespace: string;
  log: Logger;
  /** Keep no database file (tests). */
  ephemeral?: boolean;
  /** Server dynamic config overrides (tests only: `herald start` passes none). */
  dynamicConfig?: Record<string, number | string | boolean>;
}

/** `--dynamic-config-value KEY=VALUE` pairs; the CLI parses each value as JSON. */
function dynamicConfigArgs(config: DevTemporalOptions['dynamicConfig']): string[] {
  return Object.entries(config ?? {}).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(value)}`,
  ]);
}

/** `--search-attribute Name=Keyword` for each of Herald's search attributes. */
export const searchAttributeArgs = (): string[] =>
  HERALD_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]);

/**
 * Starts `temporal server start-dev` with its database under the data folder, so workflows survive a restart,
 * and its Web UI on. Without a CLI it falls back to the SDK's own download of the dev server.
 */
export async function startDevTemporal(opts: DevTemporalOptions): Promise<DevTemporal> {
  await mkdir(opts.dataDir, { recursive: true });
  const dbFile = opts.ephemeral ? undefined : path.join(opts.dataDir, 'temporal.db');
  if (opts.cli) return spawnCli(opts.cli, dbFile, opts);
  return startSdkDownload(dbFile, opts);
}

async function spawnCli(
  cli: string,
  dbFile: string | undefined,
  opts: DevTemporalOptions,
): Promise<DevTemporal> {
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--namespace',
    opts.namespace,
    '--log-level',
    'error',
    ...(dbFile ? ['--db-filename', dbFile] : []),
    ...(opts.uiPort ? ['--ui-port', String(opts.uiPort)] : ['--headless']),
    ...dynamicConfigArgs(opts.dynamicConfig),
    ...searchAttributeArgs(),
  ];
  opts.log.info({ cli, port: opts.port }, 'starting Temporal dev server');
  const child: ChildProcess = spawn(cli, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`temporal dev server exited (${code}): ${stderr.trim()}`))),
  );
  exited.catch(() => {});
  await Promise.race([waitForPort('127.0.0.1', opts.port, 60_000), exited]).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new StartupError(
      `the Temporal dev server (${cli}) did not start on 127.0.0.1:${opts.port}: ${err.message.replace(/\s+/g, ' ')}`,
    );
  });
  // Whatever answered must be our child, not a server someone started meanwhile on that port.
  if (child.exitCode !== null)
    throw new StartupError(`the Temporal dev server exited at start: ${stderr.replace(/\s+/g, ' ').trim()}`);
  return {
    address: `127.0.0.1:${opts.port}`,
    uiUrl: opts.uiPort ? `http://127.0.0.1:${opts.uiPort}` : undefined,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

async function startSdkDownload(dbFile: string | undefined, opts: DevTemporalOptions): Promise<DevTemporal> {
  opts.log.info('no temporal CLI found; downloading the dev server through @temporalio/testing');
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  try {
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        ip: '127.0.0.1',
        port: opts.port,
        ...(opts.uiPort ? { uiPort: opts.uiPort, ui: true } : { ui: false }),
        namespace: opts.namespace,
        ...(dbFile ? { dbFilename: dbFile } : {}),
        extraArgs: [...dynamicConfigArgs(opts.dynamicConfig), ...searchAttributeArgs()],
      },
    });
    return {
      address: `127.0.0.1:${opts.port}`,
      uiUrl: opts.uiPort ? `http://127.0.0.1:${opts.uiPort}` : undefined,
      stop: () => env.teardown(),
    };
  } catch (err) {
    throw new StartupError(
      'No Temporal server: TEMPORAL_ADDRESS is unset, no temporal CLI was found (TEMPORAL_CLI, ./.tools/temporal, ' +
        'or `temporal` on PATH) and the SDK could not download one. Install it with ' +
        '`GOBIN=$PWD/.tools go install github.com/temporalio/cli/cmd/temporal@v1.5.1`, ' +
        `or set TEMPORAL_ADDRESS. (${(err as Error).message})`,
    );
  }
}
