/**
 * What the benchmark reads from /proc (Linux only): CPU seconds, peak and current RSS of a process, which TCP
 * ports a process holds towards PostgreSQL (to attribute PostgreSQL backends to the api or the worker), and
 * the CPU of a whole PostgreSQL cluster.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';

let ticks: number | undefined;
/** Clock ticks per second of utime/stime (getconf CLK_TCK; 100 on Linux). */
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

export interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** utime + stime of every thread, seconds. */
  cpu: number;
  /** cutime + cstime: CPU of children this process has waited for, seconds. */
  childCpu: number;
}

export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const comm = text.slice(open + 1, close);
  // Fields after "(comm)": state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17).
  const f = text
    .slice(close + 2)
    .split(' ')
    .map((x) => Number(x));
  const t = clockTicks();
  return {
    pid,
    comm,
    ppid: f[1] ?? 0,
    cpu: ((f[11] ?? 0) + (f[12] ?? 0)) / t,
    childCpu: ((f[13] ?? 0) + (f[14] ?? 0)) / t,
  };
}

export const cpuSeconds = (pid: number): number => readStat(pid)?.cpu ?? 0;

/** A field of /proc/<pid>/status in bytes (VmHWM = peak RSS, VmRSS = current RSS). */
export function statusBytes(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Resets VmHWM to the current RSS (`echo 5 > /proc/<pid>/clear_refs`), so the next peak is this push's. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s && s.ppid === ppid) out.push(s.pid);
  }
  return out;
}

/**
 * CPU seconds of a PostgreSQL cluster: the postmaster (with the children it has reaped, which is where
 * exited backends and parallel workers end up) plus every live child. A delta of this covers everything
 * the server did in between, including backends that came and went.
 */
export function clusterCpu(postmasterPid: number): number {
  const pm = readStat(postmasterPid);
  if (!pm) return 0;
  let total = pm.cpu + pm.childCpu;
  for (const pid of childrenOf(postmasterPid)) total += cpuSeconds(pid);
  return total;
}

/** Local ports of the TCP sockets that `pid` holds towards `remotePort` (its PostgreSQL connections). */
export function tcpPortsTowards(pid: number, remotePort: number): number[] {
  const inodes = new Set<string>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  for (const fd of fds) {
    try {
      const m = readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/);
      if (m?.[1]) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const local = cols[1] ?? '';
      const remote = cols[2] ?? '';
      const inode = cols[9] ?? '';
      if (!inodes.has(inode)) continue;
      if (Number.parseInt(remote.split(':')[1] ?? '', 16) !== remotePort) continue;
      ports.push(Number.parseInt(local.split(':')[1] ?? '', 16));
    }
  }
  return ports;
}

/**
 * The pid of the process listening on TCP `port` (a Temporal dev server the bench reuses through
 * TEMPORAL_ADDRESS), found through the listening socket's inode in /proc/<pid>/fd; undefined when no process we
 * may read holds it.
 */
export function pidListeningOn(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // st 0A = LISTEN
      if (cols.length < 10 || cols[3] !== '0A') continue;
      if (Number.parseInt((cols[1] ?? '').split(':')[1] ?? '', 16) === port) inodes.add(cols[9] ?? '');
    }
  }
  if (!inodes.size) return undefined;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${name}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = readlinkSync(`/proc/${name}/fd/${fd}`).match(/^socket:\[(\d+)\]$/);
        if (m?.[1] && inodes.has(m[1])) return Number(name);
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}
