/** Messages between bench/chaos/main.ts and its children (chaos fakes-child.ts, chaos clients-child.ts). */
import type { FakesSpec } from '../ipc.ts';

export interface ChaosFakesSpec extends FakesSpec {
  /** Delay before each answer, so that an offline fan-out lasts long enough to be hit mid-way. */
  latencyMs: number;
}

export interface ProviderLog {
  accepted: number;
  rejected: number;
  /** [device token, notifications received] since the last reset. */
  perToken: [string, number][];
  /** FCM only: notifications per data.pushId ('' when missing). */
  pushIds: Record<string, number>;
}

export interface ChaosFakesReport {
  apns: ProviderLog;
  fcm: ProviderLog;
}

export interface ChaosClientsStart {
  cmd: 'start';
  /** ws://host:port of each api process; client i connects to urls[i % urls.length] first. */
  urls: string[];
  appId: string;
  secretKey: string;
  accounts: string[];
  concurrency: number;
  /** Ack every message, as the SDK does once it has shown it. */
  ack: boolean;
}

/** One WebSocket connection's life and what it received of one push. */
export interface ConnectionLog {
  /** Index of the account in the child's `accounts`. */
  account: number;
  /** Which api (index into `urls`) the connection went to. */
  api: number;
  openedAt: number;
  /** When `synced` arrived (null: never, the connection died first). */
  syncedAt: number | null;
  closedAt: number | null;
  closeCode: number | null;
  /** Frames of the push that came in the connect-time backlog (before `synced`). */
  viaSync: number;
  /** Frames of the push that came live (after `synced`). */
  live: number;
}

export interface ChaosClientsCollect {
  type: 'collected';
  pushId: string;
  connections: ConnectionLog[];
  /** Connections currently synced (open). */
  open: number;
}

export interface ChaosClientsStatus {
  type: 'status';
  open: number;
  /** Frames of any push received so far (a cheap progress signal). */
  frames: number;
}
