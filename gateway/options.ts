import { randomUUID } from 'node:crypto';
import type { Config } from '../core/config.ts';
import { GATEWAY_LIVE_CHUNK, GATEWAY_SYNC_CHUNK } from '../core/tunables.ts';
import { jwtVerifier, type UserTokenVerifier } from '../core/user-token.ts';
import { type ProviderUrls, providerSettings } from '../delivery/registry.ts';
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
  /**
   * On stop: how long live fan-outs, frame writes and statements in progress may take to finish before every
   * socket is closed with 1001 (HERALD_SHUTDOWN_GRACE_SECONDS). Copies a fan-out cut short did not reach are
   * left to the live-send fallback.
   */
  shutdownGraceMs: number;
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
  /** Frames a connection may send per second (token bucket refill) and the bucket's size. */
  framesPerSecond: number;
  frameBurst: number;
  /** Statement frames (ack, registerDevice, unregisterDevice) one connection may have running, and waiting. */
  maxInflight: number;
  maxQueued: number;
  /** `rate_limited` answers within `rateLimitWindowMs` after which the connection is closed with 4429. */
  maxRateLimited: number;
  rateLimitWindowMs: number;
  /** Open sockets per account on this process (close 4409 beyond), per client IP (HTTP 429 beyond). */
  maxConnectionsPerAccount: number;
  maxConnectionsPerIp: number;
  /** The client IP is X-Forwarded-For's last hop instead of the socket's peer (behind a proxy that sets it). */
  trustProxy: boolean;
  /** Devices an account keeps; registering one more evicts the least recently updated. */
  maxDevicesPerAccount: number;
  /** App lookups for token checks: how long an answer (found or not) is kept, and how many of each are kept. */
  appCacheTtlMs: number;
  appCacheSize: number;
  /** Longest single timer; longer token lifetimes re-arm (setTimeout's limit is 2^31-1 ms; tests shorten it). */
  maxTimerMs: number;
  /** The operator's provider settings, for the token rules of `registerDevice` (the push services allowed). */
  providerSettings: ProviderUrls;
}

export const defaultGatewayOptions = (): GatewayOptions => ({
  gatewayId: randomUUID(),
  heartbeatMs: 10_000,
  pingIntervalMs: 30_000,
  authTimeoutMs: 10_000,
  maxBufferedBytes: 1024 * 1024,
  closeGraceMs: 5_000,
  shutdownGraceMs: 10_000,
  maxFrameBytes: 64 * 1024,
  syncChunk: GATEWAY_SYNC_CHUNK,
  syncDrainTimeoutMs: 30_000,
  liveChunk: GATEWAY_LIVE_CHUNK,
  reapAfterSeconds: 300,
  catchUpSeconds: 120,
  verifiers: [jwtVerifier, userSigVerifier],
  framesPerSecond: 50,
  frameBurst: 100,
  maxInflight: 4,
  maxQueued: 32,
  maxRateLimited: 100,
  rateLimitWindowMs: 10_000,
  maxConnectionsPerAccount: 20,
  maxConnectionsPerIp: 1000,
  trustProxy: false,
  maxDevicesPerAccount: 20,
  appCacheTtlMs: 30_000,
  appCacheSize: 10_000,
  maxTimerMs: 2 ** 31 - 1,
  providerSettings: {},
});

/** The limits an operator sets in the environment (core/config.ts), as gateway options. */
export const gatewayOptionsFromConfig = (config: Config): Partial<GatewayOptions> => ({
  framesPerSecond: config.HERALD_WS_FRAMES_PER_SECOND,
  frameBurst: config.HERALD_WS_FRAME_BURST,
  maxInflight: config.HERALD_WS_MAX_INFLIGHT,
  maxQueued: config.HERALD_WS_MAX_QUEUED,
  maxRateLimited: config.HERALD_WS_MAX_RATE_LIMITED,
  maxConnectionsPerAccount: config.HERALD_MAX_CONNECTIONS_PER_ACCOUNT,
  maxConnectionsPerIp: config.HERALD_MAX_CONNECTIONS_PER_IP,
  trustProxy: config.HERALD_TRUST_PROXY,
  maxDevicesPerAccount: config.HERALD_MAX_DEVICES_PER_ACCOUNT,
  shutdownGraceMs: config.HERALD_SHUTDOWN_GRACE_SECONDS * 1000,
  providerSettings: providerSettings(config),
});
