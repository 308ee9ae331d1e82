/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof): self and inclusive time per function, and self time per
 * package / file. Used by bench/main.ts after a `--profile` run, and by hand:
 *   npx tsx bench/profile-summary.ts bench/results/run-…/profiles/worker.cpuprofile [--top 40] [--from MS --to MS]
 * `--from/--to` keep only samples in that window (ms since the profile started), e.g. one push.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** node_modules/<pkg>, node:<module>, or the project file. */
function where(url: string): string {
  if (!url) return '(native)';
  const nm = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (nm?.[1]) return nm[1];
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:').replace(/\/.*$/, '');
  const project = url.match(/\/(api|activities|workflows|db|delivery|core|cli|bench|test)\/[^?]*/);
  if (project) return project[0].slice(1);
  return url.replace(/^file:\/\//, '');
}

export function summarizeProfile(
  profile: CpuProfile,
  opts: { top?: number; fromMs?: number; toMs?: number; fromAbsUs?: number; toAbsUs?: number } = {},
): {
  totalMs: number;
  busyMs: number;
  self: { fn: string; ms: number; pct: number }[];
  inclusive: { fn: string; ms: number; pct: number }[];
  byPackage: { where: string; ms: number; pct: number }[];
  text: string;
} {
  const top = opts.top ?? 30;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) byId.set(n.id, n);
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n: ProfileNode) => {
    const f = n.callFrame;
    if (SPECIAL.has(f.functionName)) return f.functionName;
    return `${f.functionName || '(anonymous)'} ${where(f.url)}:${f.lineNumber + 1}`;
  };
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const pkg = new Map<string, number>();
  let total = 0;
  let busy = 0;
  let t = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    t += dt;
    if (opts.fromMs !== undefined && t < opts.fromMs) continue;
    if (opts.toMs !== undefined && t > opts.toMs) continue;
    // Absolute window, in the profile's own clock (µs of CLOCK_MONOTONIC on Linux = process.hrtime()).
    const abs = profile.startTime + t * 1000;
    if (opts.fromAbsUs !== undefined && abs < opts.fromAbsUs) continue;
    if (opts.toAbsUs !== undefined && abs > opts.toAbsUs) continue;
    const node = byId.get(profile.samples[i] ?? -1);
    if (!node) continue;
    total += dt;
    const k = key(node);
    self.set(k, (self.get(k) ?? 0) + dt);
    if (k === '(idle)') continue;
    busy += dt;
    const w = SPECIAL.has(k) ? k : where(node.callFrame.url);
    pkg.set(w, (pkg.get(w) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id);
      if (!n) break;
      const kk = key(n);
      if (kk === '(root)' || seen.has(kk)) continue;
      seen.add(kk);
      incl.set(kk, (incl.get(kk) ?? 0) + dt);
    }
  }
  const rank = (m: Map<string, number>, skipIdle: boolean) =>
    [...m.entries()]
      .filter(([k]) => !(skipIdle && k === '(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, ms]) => ({ k, ms: Math.round(ms), pct: busy ? Math.round((ms / busy) * 1000) / 10 : 0 }));
  const selfTop = rank(self, true).map(({ k, ms, pct }) => ({ fn: k, ms, pct }));
  const inclTop = rank(incl, true).map(({ k, ms, pct }) => ({ fn: k, ms, pct }));
  const pkgTop = rank(pkg, true).map(({ k, ms, pct }) => ({ where: k, ms, pct }));
  const fmt = (rows: { name: string; ms: number; pct: number }[]) =>
    rows
      .map((r) => `  ${String(r.ms).padStart(8)} ms ${r.pct.toFixed(1).padStart(5)}%  ${r.name}`)
      .join('\n');
  const text = [
    `profile: ${Math.round(total)} ms sampled, ${Math.round(busy)} ms not idle (percentages are of the latter)`,
    'self time by package / file:',
    fmt(pkgTop.map((r) => ({ name: r.where, ms: r.ms, pct: r.pct }))),
    'self time by function:',
    fmt(selfTop.map((r) => ({ name: r.fn, ms: r.ms, pct: r.pct }))),
    'inclusive time by function:',
    fmt(inclTop.map((r) => ({ name: r.fn, ms: r.ms, pct: r.pct }))),
  ].join('\n');
  return {
    totalMs: Math.round(total),
    busyMs: Math.round(busy),
    self: selfTop,
    inclusive: inclTop,
    byPackage: pkgTop,
    text,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  const num = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  if (!file) {
    process.stderr.write(
      'usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [--top N] [--from MS --to MS]\n',
    );
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  process.stdout.write(
    `${summarizeProfile(profile, { top: num('top') ?? 40, fromMs: num('from'), toMs: num('to') }).text}\n`,
  );
}
