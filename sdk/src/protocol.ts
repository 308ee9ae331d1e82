/** The frames of the Herald wire protocol, version 1 (docs/protocol.md in the Herald repository). */

export const PROTOCOL = 'herald.v1';
/** A client may send its token as a second subprotocol, `herald.token.<token>` (browsers cannot set headers). */
export const TOKEN_PROTOCOL_PREFIX = 'herald.token.';

/** Close codes; the server imports these too, so both ends read one table. */
export const CloseCode = {
  normal: 1000,
  /** The server is shutting down (or restarting); reconnect, to another instance if there is one. */
  goingAway: 1001,
  /** Client side only: the connection ended without a close frame. */
  abnormal: 1006,
  /** A frame was larger than the limit in `welcome.limits.maxFrameBytes`. */
  tooBig: 1009,
  internal: 1011,
  /** Token missing, malformed, badly signed, expired or revoked by a kick — get a new token before reconnecting. */
  unauthorized: 4001,
  /** The token is valid but names something that cannot connect (unknown app, unusable account id). */
  forbidden: 4003,
  /** The client read too slowly and its send buffer filled; reconnect and sync. */
  slowConsumer: 4008,
  /**
   * The account already has as many connections to this server as it may (HERALD_MAX_CONNECTIONS_PER_ACCOUNT);
   * reconnect later, with backoff.
   */
  tooManyConnections: 4409,
  /** The client sent frames too fast for too long (after `rate_limited` error frames); reconnect with backoff. */
  rateLimited: 4429,
  /** The client broke the protocol: binary or non-JSON frame, unsupported protocol version. */
  protocolError: 4400,
} as const;

/** A message element, as the app server sent it (`text`, `custom`, `image`, …). */
export type Element = { type: string } & Record<string, unknown>;

export interface HeraldMessage {
  /** What to ack. In herald.v1 it equals `pushId`. */
  id: string;
  pushId: string;
  elements: Element[];
  /**
   * The language of the variant this account got (a BCP 47 tag) when the push has language variants; null for
   * the push's default message (or a server from before variants).
   */
  language?: string | null;
  from: string | null;
  /** When the push went out (ISO 8601). */
  sentAt: string | null;
  /** Until when the server keeps it for this account; null when it is not kept (retention 0). */
  expiresAt: string | null;
}

export interface Welcome {
  protocol: string;
  connectionId: string;
  appId: string;
  accountId: string;
  serverTime: string;
  tokenExpiresAt: string | null;
  heartbeatSeconds: number;
  limits: { maxFrameBytes: number; maxAckIds: number };
}

export interface Recall {
  id: string;
  pushId: string;
}

export type ServerFrame =
  | ({ type: 'welcome' } & Welcome)
  | ({ type: 'message' } & HeraldMessage)
  | { type: 'synced'; count: number }
  | ({ type: 'recall' } & Recall)
  | { type: 'pong'; ref?: string; serverTime: string }
  | ({ type: 'ok'; ref: string } & Record<string, unknown>)
  | { type: 'error'; code: string; message: string; ref?: string };
