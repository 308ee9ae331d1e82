import type { SendOutcome } from './channel.ts';

const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 2_000;

/** At most `n` requests in flight: `enter` runs a task now or queues it (FIFO) until a running one leaves. */
export interface Gate {
  enter(task: () => void): void;
  /** Called exactly once by every task that entered, when its request is over. */
  leave(): void;
}

/**
 * A callback gate rather than a promise per task: providers pass hundreds of requests through it per page. A
 * task may leave before `enter` or `leave` returns (a closed client fails its queue at once), so leaving hands
 * slots over in a loop, never by recursion: thousands of queued tasks must not grow the stack.
 */
export function createGate(n: number): Gate {
  let active = 0;
  const waiting: (() => void)[] = [];
  let handingOver = false;
  let leaves = 0;
  return {
    enter(task) {
      if (active < n) {
        active++;
        task();
      } else waiting.push(task);
    },
    leave() {
      leaves++;
      if (handingOver) return;
      handingOver = true;
      try {
        while (leaves > 0) {
          leaves--;
          const next = waiting.shift();
          if (next) next();
          else active--;
        }
      } finally {
        handingOver = false;
      }
    },
  };
}

export function failed(token: string, reason: string): SendOutcome {
  return { token, outcome: 'failed', reason };
}

/** Exponential backoff with jitter so that retries of a burst do not arrive together. */
export function backoff(attempt: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}
