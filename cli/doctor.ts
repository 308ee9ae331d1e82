import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { Connection } from '@temporalio/client';
import postgres from 'postgres';
import type { Config } from '../core/config.ts';
import { parseEncryptionKey } from '../core/secrets.ts';
import { postgresUserBlockedBy } from './embedded-postgres.ts';
import { keyFileOf } from './encryption-key.ts';
import { portProblem, portsToBind } from './ports.ts';
import { findTemporalCli } from './temporal-dev.ts';

export type Level = 'ok' | 'warn' | 'fail';
export interface Finding {
  level: Level;
  text: string;
}

const BUILD_TEMPORAL =
  'GOBIN=$PWD/.tools go install github.com/temporalio/cli/cmd/temporal@v1.5.1 (needs Go), or set TEMPORAL_CLI';

const versionOf = (file: string, args: string[]): string | undefined => {
  try {
    return execFileSync(file, args, {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .trim()
      .split('\n')[0];
  } catch {
    return undefined;
  }
};

function node(): Finding {
  const major = Number(process.versions.node.split('.')[0]);
  return major >= 20
    ? { level: 'ok', text: `Node ${process.versions.node}` }
    : { level: 'fail', text: `Node ${process.versions.node}: Herald needs Node 20 or later` };
}

function temporalCli(config: Config): Finding {
  const external = config.TEMPORAL_ADDRESS ? ' (not needed: TEMPORAL_ADDRESS is set)' : '';
  let cli: string | undefined;
  try {
    cli = findTemporalCli(config.TEMPORAL_CLI);
  } catch (err) {
    return { level: external ? 'warn' : 'fail', text: `${(err as Error).message}: ${BUILD_TEMPORAL}` };
  }
  if (!cli)
    return {
      level: 'warn',
      text: `Temporal CLI: not found (TEMPORAL_CLI, ./.tools/temporal, temporal on PATH)${external || '; herald start would download a dev server through the SDK (needs the internet)'}; build it: ${BUILD_TEMPORAL}`,
    };
  const version = versionOf(cli, ['--version']);
  return version
    ? { level: 'ok', text: `Temporal CLI: ${cli} (${version})${external}` }
    : {
        level: 'fail',
        text: `Temporal CLI: ${cli} does not run (\`${cli} --version\` failed): ${BUILD_TEMPORAL}`,
      };
}

function go(): Finding {
  const version = versionOf('go', ['version']);
  return version
    ? { level: 'ok', text: `Go: ${version}` }
    : { level: 'warn', text: 'Go: not found (only needed to build the Temporal CLI: https://go.dev/dl/)' };
}

async function ports(config: Config): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const p of portsToBind(config, 'start')) {
    const problem = await portProblem(p.host, p.port);
    findings.push(
      problem
        ? {
            level: 'fail',
            text: `port ${p.port} (${p.variable}, ${p.what}) on ${p.host}: ${problem}; stop what uses it or set ${p.variable} to a free port`,
          }
        : { level: 'ok', text: `port ${p.port} (${p.variable}, ${p.what}) is free` },
    );
  }
  return findings;
}

function dataDir(config: Config): Finding[] {
  const dir = config.dataDir;
  const findings: Finding[] = [];
  if (!existsSync(dir)) findings.push({ level: 'ok', text: `data folder ${dir}: created at first start` });
  else {
    const s = statSync(dir);
    const mode = (s.mode & 0o777).toString(8).padStart(3, '0');
    let writable = true;
    try {
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch {
      writable = false;
    }
    const uid = process.getuid?.();
    findings.push(
      !writable
        ? {
            level: 'fail',
            text: `data folder ${dir} (owner uid ${s.uid}, mode ${mode}): not writable by uid ${uid}; chown it or set HERALD_DATA_DIR`,
          }
        : s.mode & 0o002
          ? {
              level: 'warn',
              text: `data folder ${dir} (mode ${mode}): writable by everyone; chmod o-w ${dir}`,
            }
          : { level: 'ok', text: `data folder ${dir} (owner uid ${s.uid}, mode ${mode})` },
    );
  }
  if (process.getuid?.() === 0 && !config.DATABASE_URL) {
    const blocked = postgresUserBlockedBy(dir);
    findings.push(
      blocked
        ? {
            level: 'fail',
            text: `running as root: the embedded PostgreSQL runs as the "postgres" user, who cannot enter ${blocked}; set HERALD_DATA_DIR outside it (e.g. /var/lib/herald), run as another user, or set DATABASE_URL`,
          }
        : {
            level: 'ok',
            text: 'running as root: the embedded PostgreSQL runs as the "postgres" user and can reach the data folder',
          },
    );
  }
  return findings;
}

function encryptionKey(config: Config): Finding {
  const file = keyFileOf(config);
  if (config.HERALD_ENCRYPTION_KEY)
    return parseEncryptionKey(config.HERALD_ENCRYPTION_KEY)
      ? { level: 'ok', text: 'encryption key: HERALD_ENCRYPTION_KEY' }
      : {
          level: 'fail',
          text: 'encryption key: HERALD_ENCRYPTION_KEY is not 32 bytes (base64 or hex): openssl rand -base64 32',
        };
  if (existsSync(file)) {
    let ok = false;
    try {
      ok = parseEncryptionKey(readFileSync(file, 'utf8')) !== undefined;
    } catch {}
    return ok
      ? { level: 'ok', text: `encryption key: ${file}` }
      : { level: 'fail', text: `encryption key: ${file} is unreadable or not a 32-byte key` };
  }
  return {
    level: 'warn',
    text: `encryption key: none yet; herald start generates ${file}, herald api / worker need HERALD_ENCRYPTION_KEY (openssl rand -base64 32)`,
  };
}

async function database(url: string): Promise<Finding> {
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql`select 1`;
    return { level: 'ok', text: 'database: DATABASE_URL answers' };
  } catch (err) {
    return { level: 'fail', text: `database: DATABASE_URL does not answer (${(err as Error).message})` };
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function temporal(address: string): Promise<Finding> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: '5s' });
    await connection.close();
    return { level: 'ok', text: `Temporal: ${address} answers` };
  } catch (err) {
    return {
      level: 'fail',
      text: `Temporal: ${address} does not answer (${(err as Error).message.split('\n')[0]})`,
    };
  }
}

export async function diagnose(config: Config): Promise<Finding[]> {
  return [
    node(),
    temporalCli(config),
    go(),
    ...(await ports(config)),
    ...dataDir(config),
    encryptionKey(config),
    ...(config.DATABASE_URL ? [await database(config.DATABASE_URL)] : []),
    ...(config.TEMPORAL_ADDRESS ? [await temporal(config.TEMPORAL_ADDRESS)] : []),
  ];
}

/** `herald doctor`: one line per finding; exit code 1 when any fails. */
export async function runDoctor(config: Config): Promise<void> {
  const findings = await diagnose(config);
  for (const f of findings) process.stdout.write(`${f.level.padEnd(4)}  ${f.text}\n`);
  if (findings.some((f) => f.level === 'fail')) process.exitCode = 1;
}
