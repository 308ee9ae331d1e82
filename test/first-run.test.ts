import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { findTemporalCli, freePort } from '../cli/temporal-dev.ts';

// Issue #20: `herald start` in any folder, as any user, next to anything.
const repo = path.resolve('.');
const herald = path.join(repo, 'bin/herald.js');
const scratch: string[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/** The environment of a fresh `herald start`: nothing external, every port free unless overridden. */
async function startEnv(dataDir: string, overrides: Record<string, string> = {}) {
  return {
    ...process.env,
    PORT: String(await freePort()),
    DATABASE_URL: '',
    HERALD_POSTGRES_PORT: String(await freePort()),
    HERALD_DATA_DIR: dataDir,
    HERALD_TEMPORAL_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    TEMPORAL_ADDRESS: '',
    // The checkout's own CLI (./.tools/temporal in CI), named: a copy of the checkout has no .tools of its own.
    TEMPORAL_CLI: findTemporalCli(process.env.TEMPORAL_CLI, repo) ?? '',
    HERALD_ENCRYPTION_KEY: '',
    LOG_LEVEL: 'warn',
    ...overrides,
  };
}

function occupy(): Promise<{ port: number; close(): Promise<void> }> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({ port, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

describe('herald start: ports', () => {
  it('a second stack on the first one’s Temporal port stops naming it and never polls that server', async () => {
    // The run's own dev server stands in for another Herald's.
    const address = inject('temporalAddress');
    const port = address.split(':')[1] as string;
    const dataDir = await tempDir('herald-second-');
    const taskQueue = `second-stack-${Date.now()}`;
    const run = spawnSync(process.execPath, [herald, 'start'], {
      env: await startEnv(dataDir, { HERALD_TEMPORAL_PORT: port, TEMPORAL_TASK_QUEUE: taskQueue }),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`port ${port} (HERALD_TEMPORAL_PORT`);
    expect(lines[0]).toContain('herald doctor');
    expect(run.stdout).not.toContain('Herald is running');
    // Nothing was started: no database, and no worker ever polled the other server.
    expect(existsSync(path.join(dataDir, 'postgres'))).toBe(false);
    const connection = await Connection.connect({ address });
    try {
      for (const taskQueueType of [1, 2]) {
        const queue = await connection.workflowService.describeTaskQueue({
          namespace: 'default',
          taskQueue: { name: taskQueue },
          taskQueueType,
        });
        expect(queue.pollers ?? []).toEqual([]);
      }
    } finally {
      await connection.close();
    }
  }, 60_000);

  it.each(['PORT', 'HERALD_POSTGRES_PORT', 'TEMPORAL_UI_PORT'])(
    'a busy %s stops start-up with one line naming the port and the variable',
    async (variable) => {
      const busy = await occupy();
      try {
        const run = spawnSync(process.execPath, [herald, 'start'], {
          env: await startEnv(await tempDir('herald-busy-'), { [variable]: String(busy.port) }),
          encoding: 'utf8',
          timeout: 60_000,
        });
        expect(run.status, run.stderr).toBe(1);
        const lines = run.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain(`port ${busy.port} (${variable}`);
        expect(lines[0]).toContain(`set ${variable} to a free port`);
      } finally {
        await busy.close();
      }
    },
    60_000,
  );
});

describe('herald doctor', () => {
  it('reports a missing Temporal CLI and a busy port, and exits 1', async () => {
    const busy = await occupy();
    // A folder without .tools/, TEMPORAL_CLI unset, and a PATH that holds Node but no `temporal`.
    const cwd = await tempDir('herald-doctor-');
    try {
      const run = spawnSync(process.execPath, [herald, 'doctor'], {
        cwd,
        env: {
          ...(await startEnv(path.join(cwd, 'data'), { PORT: String(busy.port) })),
          TEMPORAL_CLI: '',
          PATH: [path.dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
        },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(run.status, run.stderr).toBe(1);
      const lines = run.stdout.trim().split('\n');
      expect(
        lines.every((l) => /^(ok {2}|warn|fail) {2}\S/.test(l)),
        run.stdout,
      ).toBe(true);
      expect(run.stdout).toMatch(
        /^warn {2}Temporal CLI: not found .*go install github\.com\/temporalio\/cli/m,
      );
      expect(run.stdout).toMatch(
        new RegExp(`^fail {2}port ${busy.port} \\(PORT, the API\\).*already in use`, 'm'),
      );
      expect(run.stdout).toMatch(/^ok {4}Node \d+/m);
      expect(run.stdout).toMatch(/^warn {2}encryption key: none yet/m);
    } finally {
      await busy.close();
    }
  }, 60_000);

  it('names a configured but unreachable DATABASE_URL and TEMPORAL_ADDRESS', async () => {
    const cwd = await tempDir('herald-doctor-');
    const dead = await freePort();
    const run = spawnSync(process.execPath, [herald, 'doctor'], {
      cwd,
      env: await startEnv(path.join(cwd, 'data'), {
        DATABASE_URL: `postgres://x:y@127.0.0.1:${dead}/z`,
        TEMPORAL_ADDRESS: `127.0.0.1:${dead}`,
      }),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/^fail {2}database: DATABASE_URL does not answer/m);
    expect(run.stdout).toMatch(new RegExp(`^fail {2}Temporal: 127\\.0\\.0\\.1:${dead} does not answer`, 'm'));
    expect(run.stdout).not.toContain('y@');
  }, 60_000);
});

/** Every folder from `dir` up to `/`, with its mode. */
const ancestorModes = (dir: string): string[] => {
  const out: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    out.push(`${d} ${(statSync(d).mode & 0o7777).toString(8)}`);
    if (path.dirname(d) === d) return out;
  }
};

describe.runIf(process.getuid?.() === 0)('herald start as root', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('runs from a checkout in a mode-700 folder with the data elsewhere, and changes no folder above the data', async () => {
    // A checkout only root can enter: hard links of the files start needs (fast; same inodes, new paths).
    const privateDir = await tempDir('herald-private-');
    await chmod(privateDir, 0o700);
    const checkout = path.join(privateDir, 'herald');
    await mkdir(checkout);
    const entries = readdirSync(repo).filter((e) => !e.startsWith('.') && e !== 'test' && e !== 'bench');
    const copy = spawnSync('cp', ['-al', ...entries.map((e) => path.join(repo, e)), checkout]);
    expect(copy.status, copy.stderr?.toString()).toBe(0);
    // mkdtemp's folder (mode 700) is the data folder itself: Herald may change that one, nothing above it.
    const dataDir = await tempDir('herald-data-');
    const before = [...ancestorModes(checkout), ...ancestorModes(path.dirname(dataDir))];

    child = spawn(process.execPath, [path.join(checkout, 'bin/herald.js'), 'start'], {
      cwd: checkout,
      env: await startEnv(dataDir),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && !out.includes('Secret key') && child.exitCode === null)
      await new Promise((r) => setTimeout(r, 200));
    expect(out).toContain('Herald is running');
    child.kill('SIGINT');
    expect(await exited).toBe(0);

    expect([...ancestorModes(checkout), ...ancestorModes(path.dirname(dataDir))]).toEqual(before);
    // PostgreSQL's data belongs to the postgres user; the rest of the data folder stays root's.
    const pgData = statSync(path.join(dataDir, 'postgres'));
    expect(pgData.mode & 0o777).toBe(0o700);
    expect(statSync(path.join(dataDir, 'encryption.key')).uid).toBe(0);
  }, 120_000);

  it('refuses, in one line, a data folder the postgres user cannot reach', async () => {
    const privateDir = await tempDir('herald-private-');
    await chmod(privateDir, 0o700);
    const dataDir = path.join(privateDir, 'data');
    const run = spawnSync(process.execPath, [herald, 'start'], {
      env: await startEnv(dataDir),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`cannot enter ${privateDir}`);
    expect(lines[0]).toContain('HERALD_DATA_DIR');
    expect(statSync(privateDir).mode & 0o777).toBe(0o700);
  }, 60_000);
});
