/**
 * Watches one push while faults hit it: its REST view (GET /v1/pushes/{id} through any api still alive), the
 * fakes' arrival count and the clients' frame count, every 200 ms. It records when each of two signals moved:
 *   - `worker`: what the worker drives (status, audience, storedOffline, apns/fcm counters, notifications at
 *     the fakes);
 *   - `any`: that plus what the gateways drive (deliveredOnline, syncedLater, acked, frames at the clients).
 * "Recovery" is the time from a fault to the first movement of the right signal after the service came back.
 */
import type { ChildProcess } from 'node:child_process';
import { now } from '../ipc.ts';

export type Signal = 'worker' | 'any';

interface Provider {
  sent: number;
  failed: number;
  tokensDisabled: number;
}

/** What the runner reads of GET /v1/pushes/{id} (docs/pushes.md): status and counters, nothing else. */
export interface PushView {
  id: string;
  status: string;
  failureReason: string | null;
  retentionSeconds: number;
  counters: {
    audience: number;
    deliveredOnline: number;
    storedOffline: number;
    syncedLater: number;
    acked: number;
    apns: Provider;
    fcm: Provider;
  };
}

/** Sends `msg` to a child and waits for one reply of `type`; cleans its listeners up either way. */
export function ask<T>(child: ChildProcess, msg: unknown, type: string, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (m: { type?: string }) => {
      if (m?.type !== type) return;
      cleanup();
      resolve(m as T);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`child exited (${code}) while waiting for ${type}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no ${type} within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send(msg as object);
  });
}

export const TERMINAL = ['completed', 'failed', 'canceled'];

export class PushObserver {
  view: PushView | undefined;
  /** When each signal changed, in order. */
  readonly changes: { t: number; signal: Signal }[] = [];
  fakesAccepted = 0;
  clientFrames = 0;
  restErrors = 0;
  private workerSig = '';
  private anySig = '';
  private running = true;
  private loop: Promise<void>;

  constructor(
    private readonly pushId: string,
    private readonly getPush: (id: string) => Promise<PushView | undefined>,
    private readonly fakes: ChildProcess,
    private readonly clients: ChildProcess[],
  ) {
    this.loop = this.run();
  }

  get terminal(): boolean {
    return this.view !== undefined && TERMINAL.includes(this.view.status);
  }

  private async run(): Promise<void> {
    while (this.running) {
      const [view, fakes, statuses] = await Promise.all([
        this.getPush(this.pushId).catch(() => undefined),
        ask<{ accepted: number; rejected: number }>(this.fakes, { cmd: 'progress' }, 'progress').catch(
          () => undefined,
        ),
        Promise.all(
          this.clients.map((c) =>
            ask<{ frames: number }>(c, { cmd: 'status' }, 'status').catch(() => undefined),
          ),
        ),
      ]);
      const t = now();
      if (view) this.view = view;
      else this.restErrors++;
      if (fakes) this.fakesAccepted = fakes.accepted + fakes.rejected;
      const frames = statuses.reduce((s, x) => s + (x?.frames ?? 0), 0);
      if (statuses.every(Boolean)) this.clientFrames = frames;
      const v = this.view;
      const c = v?.counters;
      const workerSig = JSON.stringify([
        v?.status,
        c?.audience,
        c?.storedOffline,
        c?.apns,
        c?.fcm,
        this.fakesAccepted,
      ]);
      const anySig = JSON.stringify([
        workerSig,
        c?.deliveredOnline,
        c?.syncedLater,
        c?.acked,
        this.clientFrames,
      ]);
      if (workerSig !== this.workerSig) {
        if (this.workerSig) this.changes.push({ t, signal: 'worker' });
        this.workerSig = workerSig;
      }
      if (anySig !== this.anySig) {
        if (this.anySig) this.changes.push({ t, signal: 'any' });
        this.anySig = anySig;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The time of the first movement of `signal` after `t` (a worker movement is also an `any` one). */
  async movedAfter(t: number, signal: Signal, timeoutMs: number): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.changes.find((c) => c.t > t && (signal === 'any' || c.signal === 'worker'));
      if (hit) return hit.t;
      if (this.terminal || Date.now() > deadline) {
        const late = this.changes.find((c) => c.t > t && (signal === 'any' || c.signal === 'worker'));
        return late?.t;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Resolves when the push reaches a terminal status or the timeout passes. */
  async settled(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.terminal && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    return this.terminal;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
