/**
 * Bounds on the live-progress streams (server-sent events) of one api process: a few per session, and a
 * ceiling for all. Each open stream reads its push once a second while the push runs, every 5 s after.
 */
export const MAX_STREAMS_PER_SESSION = 4;
export const MAX_STREAMS = 500;
/** A stream ends after this long; the page keeps its last figures and a reload starts a new one. */
export const MAX_STREAM_MS = 15 * 60_000;
export const POLL_RUNNING_MS = 1000;
export const POLL_IDLE_MS = 5000;

export function streamLimiter(perSession = MAX_STREAMS_PER_SESSION, total = MAX_STREAMS) {
  const open = new Map<string, number>();
  let all = 0;
  return {
    acquire(session: string): boolean {
      const n = open.get(session) ?? 0;
      if (n >= perSession || all >= total) return false;
      open.set(session, n + 1);
      all++;
      return true;
    },
    release(session: string): void {
      const n = (open.get(session) ?? 1) - 1;
      if (n <= 0) open.delete(session);
      else open.set(session, n);
      all--;
    },
  };
}
