/**
 * Where an idle worker's memory goes (run by hand): starts a Temporal worker on the push workflows, with no
 * work to do, in a fresh process per mode, and prints its RSS and V8 heap after start-up and after a full GC.
 *   npx tsx bench/worker-rss.ts
 * Modes:
 *   in-process  what cli/worker.ts does today: bundleWorkflowCode() (webpack) inside the worker process
 *   prebundled  the bundle made in another process first, handed to Worker.create as { code }
 * The difference is what bundling at start-up leaves behind in the worker's RSS for its whole life.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { statusBytes } from './procstat.ts';

const self = fileURLToPath(import.meta.url);
const mode = process.argv[2];

async function runWorker(which: 'in-process' | 'prebundled', address: string, bundleFile: string) {
  const { NativeConnection, Worker, Runtime, DefaultLogger } = await import('@temporalio/worker');
  const { bundleWorkflows } = await import('../cli/worker.ts');
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const connection = await NativeConnection.connect({ address });
  const workflowBundle =
    which === 'in-process' ? await bundleWorkflows() : { code: readFileSync(bundleFile, 'utf8') };
  const worker = await Worker.create({
    connection,
    taskQueue: `rss-${which}`,
    workflowBundle,
    activities: {},
  });
  const running = worker.run();
  await new Promise((r) => setTimeout(r, 3000));
  const before = { rss: statusBytes(process.pid, 'VmRSS'), heap: process.memoryUsage().heapUsed };
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 2000));
  const after = { rss: statusBytes(process.pid, 'VmRSS'), heap: process.memoryUsage().heapUsed };
  const mb = (b: number) => Math.round(b / 2 ** 20);
  process.stdout.write(
    `${JSON.stringify({ mode: which, rssMB: mb(before.rss), heapMB: mb(before.heap), rssAfterGcMB: mb(after.rss), heapAfterGcMB: mb(after.heap), peakMB: mb(statusBytes(process.pid, 'VmHWM')) })}\n`,
  );
  worker.shutdown();
  await running;
  await connection.close();
}

async function main() {
  const { resolveTemporal } = await import('./stack.ts');
  const temporal = await resolveTemporal();
  try {
    const bundleFile = path.join(tmpdir(), `herald-workflow-bundle-${process.pid}.js`);
    // The bundle, made in a throwaway process.
    execFileSync(process.execPath, ['--import', 'tsx', self, '--bundle', bundleFile], { stdio: 'inherit' });
    for (const which of ['in-process', 'prebundled'] as const) {
      const r = spawnSync(
        process.execPath,
        ['--expose-gc', '--import', 'tsx', self, '--run', which, temporal.address, bundleFile],
        { encoding: 'utf8' },
      );
      process.stdout.write(r.stdout || r.stderr);
    }
  } finally {
    await temporal.stop();
  }
}

if (mode === '--bundle') {
  const { bundleWorkflows } = await import('../cli/worker.ts');
  writeFileSync(process.argv[3] ?? '', (await bundleWorkflows()).code);
} else if (mode === '--run') {
  await runWorker(
    process.argv[3] as 'in-process' | 'prebundled',
    process.argv[4] ?? '',
    process.argv[5] ?? '',
  );
  process.exit(0);
} else {
  await main();
}
