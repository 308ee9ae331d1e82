import type { Logger } from '../core/log.ts';
import type { GatewayOptions } from './options.ts';

/**
 * What one client may cost the shared database: frames per second (a token bucket), statements in flight
 * and waiting, and how many refusals it gets before it is cut. One per connection.
 */
export class FrameLimiter {
  private tokens: number;
  private refilledAt: number;
  private running = 0;
  private readonly waiting: (() => Promise<void>)[] = [];
  private refusals = 0;
  private windowStart: number;

  constructor(
    private readonly opts: Pick<
      GatewayOptions,
      'framesPerSecond' | 'frameBurst' | 'maxInflight' | 'maxQueued' | 'maxRateLimited' | 'rateLimitWindowMs'
    >,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = opts.frameBurst;
    this.refilledAt = now();
    this.windowStart = this.refilledAt;
  }

  /** Takes one frame's token; false when the client sends faster than allowed. */
  admit(): boolean {
    const t = this.now();
    const { framesPerSecond, frameBurst } = this.opts;
    this.tokens = Math.min(frameBurst, this.tokens + ((t - this.refilledAt) / 1000) * framesPerSecond);
    this.refilledAt = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /**
   * Runs a statement frame now when fewer than `maxInflight` run, later (in order) when up to `maxQueued` wait;
   * false when both are full (the frame is refused, not run).
   */
  schedule(task: () => Promise<void>): boolean {
    if (this.running < this.opts.maxInflight) {
      this.start(task);
      return true;
    }
    if (this.waiting.length >= this.opts.maxQueued) return false;
    this.waiting.push(task);
    return true;
  }

  /** Counts one `rate_limited` answer; true once the window holds more than `maxRateLimited` (cut the socket). */
  refused(): boolean {
    const t = this.now();
    if (t - this.windowStart >= this.opts.rateLimitWindowMs) {
      this.windowStart = t;
      this.refusals = 0;
    }
    return ++this.refusals > this.opts.maxRateLimited;
  }

  private start(task: () => Promise<void>): void {
    this.running++;
    task()
      .catch(() => {})
      .finally(() => {
        this.running--;
        const next = this.waiting.shift();
        if (next) this.start(next);
      });
  }
}

/** The client's address: the socket's peer, or X-Forwarded-For's last hop when the operator trusts a proxy. */
export function clientIp(
  headers: Record<string, string | string[] | undefined>,
  peer: string | undefined,
  trustProxy: boolean,
): string {
  if (trustProxy) {
    const xff = headers['x-forwarded-for'];
    const last = (Array.isArray(xff) ? xff.join(',') : (xff ?? '')).split(',').pop()?.trim();
    if (last) return last;
  }
  return peer ?? 'unknown';
}

/**
 * A log line at most `max` times per `windowMs`: a client that provokes a failure per frame must not be able to
 * flood the log. The next line written says how many were left out.
 */
export function throttledLog(log: Logger, max = 10, windowMs = 10_000, now: () => number = Date.now) {
  let windowStart = now();
  let written = 0;
  let suppressed = 0;
  return (level: 'warn' | 'error', obj: Record<string, unknown>, msg: string): void => {
    const t = now();
    if (t - windowStart >= windowMs) {
      windowStart = t;
      written = 0;
    }
    if (written >= max) {
      suppressed++;
      return;
    }
    written++;
    log[level]({ ...obj, ...(suppressed ? { suppressed } : {}) }, msg);
    suppressed = 0;
  };
}

/**
 * A map of at most `size` entries, the least recently used one dropped when a new one comes (a Map keeps
 * insertion order; a hit moves its entry to the end).
 */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly size: number) {}

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.size) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  get count(): number {
    return this.map.size;
  }
}
