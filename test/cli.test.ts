import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../cli/temporal-dev.ts';

const herald = path.resolve('bin/herald.js');

describe('configuration', () => {
  it.each([
    // The line names the variable, never its value (a DATABASE_URL carries a password).
    ['PORT', 'eighty', /PORT: /],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL: must be a postgres/],
    ['TEMPORAL_ADDRESS', 'nohost', /TEMPORAL_ADDRESS: must be host:port/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL: /],
  ])('a bad %s stops the process with one line naming it', (name, value, pattern) => {
    const run = spawnSync(process.execPath, [herald, 'migrate'], {
      env: { ...process.env, [name]: value },
      encoding: 'utf8',
    });
    expect(run.status).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
    expect(lines[0]).not.toContain(value);
  });

  it('prints usage for an unknown command', () => {
    const run = spawnSync(process.execPath, [herald, 'fly'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('unknown command "fly"');
  });
});

describe('herald apps create', () => {
  it('prints the new app as JSON', async () => {
    const { inject } = await import('vitest');
    const run = spawnSync(process.execPath, [herald, 'apps', 'create', '--name', 'cli app', '--json'], {
      env: { ...process.env, DATABASE_URL: inject('databaseUrl'), LOG_LEVEL: 'silent' },
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    const app = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(Object.keys(app).sort()).toEqual(['apiKey', 'id', 'name', 'sdkAppId', 'secretKey']);
    expect(app.name).toBe('cli app');
  });
});

describe('herald start', () => {
  let child: ChildProcess | undefined;
  let dataDir: string | undefined;
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('boots the whole stack, turns /readyz 200, and stops cleanly on SIGINT', async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'herald-start-'));
    const port = await freePort();
    child = spawn(process.execPath, [herald, 'start'], {
      env: {
        ...process.env,
        PORT: String(port),
        // Nothing external: the embedded PostgreSQL and the Temporal dev server, as a newcomer gets them.
        DATABASE_URL: '',
        HERALD_POSTGRES_PORT: String(await freePort()),
        HERALD_DATA_DIR: dataDir,
        HERALD_TEMPORAL_PORT: String(await freePort()),
        TEMPORAL_UI_PORT: String(await freePort()),
        TEMPORAL_ADDRESS: '',
        // No encryption key either: herald start generates one into the data folder.
        HERALD_ENCRYPTION_KEY: '',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    // A first boot on a loaded machine (initdb, the dev server, migrations) can take minutes.
    const deadline = Date.now() + 200_000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status !== 200) await new Promise((r) => setTimeout(r, 500));
    }
    expect(status, out).toBe(200);
    await waitUntil(() => out.includes('Secret key'));
    expect(out).toMatch(/API\s+http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/Temporal UI\s+http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/API key\s+hk_/);
    const keyFile = statSync(path.join(dataDir, 'encryption.key'));
    expect(keyFile.mode & 0o777).toBe(0o600);

    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    for (const pattern of [`--db-filename ${dataDir}`, `-D ${dataDir}`]) {
      const leftovers = spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' });
      expect(leftovers.stdout.trim(), pattern).toBe('');
    }
  }, 240_000);
});

async function waitUntil(ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}
