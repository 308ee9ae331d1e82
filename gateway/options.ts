import { randomUUID } from 'node:crypto';
import { jwtVerifier, type UserTokenVerifier } from '../core/user-token.ts';
import { userSigVerifier } from './usersig-verifier.ts';

export interface GatewayOptions {
  /** This process's id in `gateways` / `presence`; a fresh one per start by default. */
  gatewayId: string;
  /** How often the gateway row's heartbeat is written (offline pages ignore presence older than 30 s). */
  heartbeatMs: number;
  /** WebSocket ping interval; a socket that has not answered the previous ping is dropped. */
  pingIntervalMs: number;
  /** How long a client that sent no token with the upgrade has to send its `auth` frame. */
  authTimeoutMs: number;
  /** Bytes a socket may have waiting to be sent before it is dropped as a slow consumer (close 4008). */
  maxBufferedBytes: number;
  /** After the server closes a socket, how long the close handshake may take before the TCP is cut. */
  closeGraceMs: number;
  /** Largest frame a client may send (close 1009 beyond). */
  maxFrameBytes: number;
  /** Pushes looked at per sync statement on connect. */
  syncChunk: number;
  /** How long a sync waits for a socket to drain before treating it as a slow consumer. */
  syncDrainTimeoutMs: number;
  /** Connected accounts per live-delivery read. */
  liveChunk: number;
  /** Gateways silent this long are deleted, presence and all. */
  reapAfterSeconds: number;
  /** After the bus comes back from a lost subscription, pushes this recent are replayed to the sockets here. */
  catchUpSeconds: number;
  /** Token kinds accepted, tried in order (Herald's JWT by default; a Tencent UserSig verifier can be added). */
  verifiers: UserTokenVerifier[];
}

export const defaultGatewayOptions = (): GatewayOptions => ({
  gatewayId: randomUUID(),
  heartbeatMs: 10_000,
  pingIntervalMs: 30_000,
  authTimeoutMs: 10_000,
  maxBufferedBytes: 1024 * 1024,
  closeGraceMs: 5_000,
  maxFrameBytes: 64 * 1024,
  syncChunk: 50,
  syncDrainTimeoutMs: 30_000,
  liveChunk: 1_000,
  reapAfterSeconds: 300,
  catchUpSeconds: 120,
  verifiers: [jwtVerifier, userSigVerifier],
});
