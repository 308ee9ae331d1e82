/**
 * The five faults. Each drives one push (or a campaign step) through a real fault and reports how many fault
 * events it injected, how many of them crashed something that holds claimed pages (for the loss bound), and
 * the recovery time of each (fault → the push moving again).
 */

import type { ChildProcess } from 'node:child_process';
import type { Database } from '../../db/client.ts';
import { now } from '../ipc.ts';
import type { DatabaseHandle } from '../stack.ts';
import { ask, type PushObserver } from './observe.ts';
import {
  type HeraldProcesses,
  listenBackends,
  restartPostgres,
  type TemporalProcess,
  terminateBackends,
} from './stack.ts';

export const SCENARIOS = ['worker-kill', 'pg-restart', 'temporal-restart', 'api-kill', 'bus-drop'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface FaultRecord {
  events: number;
  /** Fault events that may lose claimed pages' notifications (a crashed worker or its activity). */
  crashes: number;
  recoveriesMs: number[];
  notes: string[];
}

export interface FaultContext {
  observer: PushObserver;
  herald: HeraldProcesses;
  db: DatabaseHandle;
  database: Database;
  temporal: TemporalProcess;
  /** The clients' child, and its frame count (all pushes) when the push was created. */
  clients: ChildProcess;
  framesAtPost: number;
  opts: { kills: number; downMs: number; busDropMs: number; recoveryTimeoutMs: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the worker has visibly started on the push (the snapshot counted its audience). */
async function pushUnderWay(ctx: FaultContext, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((ctx.observer.view?.counters.audience ?? 0) > 0 || ctx.observer.terminal) return true;
    await sleep(50);
  }
  return false;
}

/** Waits until the offline pages are under way: notifications arriving at the fakes. */
async function offlinePagesUnderWay(ctx: FaultContext, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (ctx.observer.fakesAccepted > 0) return true;
    if (ctx.observer.terminal) return false;
    await sleep(50);
  }
  return false;
}

async function recovery(
  ctx: FaultContext,
  faultAt: number,
  backAt: number,
  rec: FaultRecord,
  signal: 'worker' | 'any',
) {
  const moved = await ctx.observer.movedAfter(backAt, signal, ctx.opts.recoveryTimeoutMs);
  if (moved === undefined) {
    rec.notes.push(`no movement within ${ctx.opts.recoveryTimeoutMs / 1000} s after a fault`);
    return;
  }
  rec.recoveriesMs.push(moved - faultAt);
}

/** 1. The worker SIGKILLed `kills` times at random moments while the push runs, restarted each time. */
export async function workerKills(ctx: FaultContext): Promise<FaultRecord> {
  const rec: FaultRecord = { events: 0, crashes: 0, recoveriesMs: [], notes: [] };
  await pushUnderWay(ctx, 120_000);
  let readyAt = now();
  for (let k = 0; k < ctx.opts.kills; k++) {
    // A random moment of the push: once it has moved since the last restart, after 0–1.5 s more.
    await ctx.observer.movedAfter(readyAt, 'worker', ctx.opts.recoveryTimeoutMs);
    await sleep(Math.random() * 1500);
    if (ctx.observer.terminal) break;
    const faultAt = now();
    await ctx.herald.killWorker();
    rec.events++;
    rec.crashes++;
    await ctx.herald.startWorker();
    readyAt = now();
    // Nothing the worker drives can move before its replacement runs: earlier movements are stale readings.
    await recovery(ctx, faultAt, readyAt, rec, 'worker');
  }
  if (rec.events < ctx.opts.kills)
    rec.notes.push(`the push completed after ${rec.events} of ${ctx.opts.kills} kills`);
  return rec;
}

/** 2. PostgreSQL stopped and started while the offline pages run. */
export async function pgRestart(ctx: FaultContext): Promise<FaultRecord> {
  const rec: FaultRecord = { events: 0, crashes: 0, recoveriesMs: [], notes: [] };
  if (!(await offlinePagesUnderWay(ctx, 120_000))) {
    rec.notes.push('the offline pages were over before the fault');
    return rec;
  }
  const faultAt = now();
  await restartPostgres(ctx.db, ctx.opts.downMs);
  const backAt = now();
  rec.events++;
  // The activity loses its connection mid-page: the pages in flight may lose their results as at a crash.
  rec.crashes++;
  rec.notes.push(`PostgreSQL down ${((backAt - faultAt) / 1000).toFixed(1)} s`);
  await recovery(ctx, faultAt, backAt, rec, 'worker');
  return rec;
}

/** 3. The Temporal dev server SIGKILLed mid-push and restarted on its database file. */
export async function temporalRestart(ctx: FaultContext): Promise<FaultRecord> {
  const rec: FaultRecord = { events: 0, crashes: 0, recoveriesMs: [], notes: [] };
  if (!(await offlinePagesUnderWay(ctx, 120_000))) {
    rec.notes.push('the offline pages were over before the fault');
    return rec;
  }
  const exitsBefore = ctx.herald.unplannedWorkerExits.length;
  const faultAt = now();
  await ctx.temporal.kill();
  await sleep(ctx.opts.downMs);
  await ctx.temporal.spawn();
  const backAt = now();
  rec.events++;
  // The running activity keeps going but cannot heartbeat or complete: treat it as a crash for the bound.
  rec.crashes++;
  await recovery(ctx, faultAt, backAt, rec, 'worker');
  const exits = ctx.herald.unplannedWorkerExits.length - exitsBefore;
  if (exits) rec.notes.push(`the worker exited by itself ${exits}× (restarted by the runner)`);
  return rec;
}

/** 4. One of two api processes SIGKILLed during the live fan-out; its clients reconnect to the other. */
export async function apiKill(ctx: FaultContext, victim: number): Promise<FaultRecord> {
  const rec: FaultRecord = { events: 0, crashes: 0, recoveriesMs: [], notes: [] };
  // The live fan-out has begun when the first frame of this push reaches a client: ask the clients directly
  // (the observer's 200 ms would miss a fan-out to a few thousand sockets).
  const frames = async () => (await ask<{ frames: number }>(ctx.clients, { cmd: 'status' }, 'status')).frames;
  const deadline = Date.now() + 120_000;
  let seen = await frames();
  while (seen === ctx.framesAtPost && !ctx.observer.terminal && Date.now() < deadline) {
    await sleep(2);
    seen = await frames();
  }
  const faultAt = now();
  await ctx.herald.killApi(victim);
  rec.events++;
  rec.notes.push(`api${victim + 1} killed ${seen - ctx.framesAtPost} frames into the fan-out`);
  await recovery(ctx, faultAt, faultAt, rec, 'any');
  return rec;
}

/** 5. The api processes' LISTEN connections terminated again and again for `busDropMs` from the push's start. */
export async function busDrop(ctx: FaultContext): Promise<FaultRecord> {
  const rec: FaultRecord = { events: 0, crashes: 0, recoveriesMs: [], notes: [] };
  const faultAt = now();
  const until = Date.now() + ctx.opts.busDropMs;
  let terminated = 0;
  while (Date.now() < until) {
    terminated += await terminateBackends(ctx.database, await listenBackends(ctx.database));
    await sleep(50);
  }
  const backAt = now();
  rec.events++;
  rec.notes.push(`${terminated} LISTEN backends terminated over ${ctx.opts.busDropMs / 1000} s`);
  await recovery(ctx, faultAt, backAt, rec, 'any');
  return rec;
}
