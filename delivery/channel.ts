import type { z } from 'zod';

/**
 * What every channel shows for one push, from the push's common offline options. A channel adds its own
 * options (its key under `offline`) when it renders this into what its client sends.
 */
export interface CommonNotification {
  pushId: string;
  title?: string;
  body: string;
  sound?: string;
  /** Badge number to set; undefined leaves the badge alone. */
  badge?: number;
  /** Custom payload string (Tencent's OfflinePushInfo.Ext). */
  ext?: string;
  /** Extra string key/values for the data payload. */
  data?: Record<string, string>;
  /** When the provider should stop trying; null = deliver now or never (retention 0). */
  expiresAt: Date | null;
}

export interface DeviceTarget {
  token: string;
  environment: 'sandbox' | 'production';
  /** APNs topic (bundle id); falls back to the app's credential topic. */
  topic?: string | null;
}

export type SendOutcome =
  | { token: string; outcome: 'sent' }
  /** The provider says the token is dead: disable it. */
  | { token: string; outcome: 'invalid'; reason: string }
  /** Anything else that did not get through after retries; counted, never fatal for the push. */
  | { token: string; outcome: 'failed'; reason: string };

/**
 * What a provider's answer to one request means. `retry` says the request may be tried again: after a backoff
 * (at least `retryAfterMs` when the provider said so), or with a fresh credential.
 */
export type Answer =
  | { outcome: 'sent' }
  | { outcome: 'invalid'; reason: string }
  | { outcome: 'failed'; reason: string; retry?: 'backoff' | 'reauthorize'; retryAfterMs?: number };

/** Sends one rendered notification to many devices of one app. */
export interface ChannelClient<Rendered = unknown> {
  send(targets: readonly DeviceTarget[], notification: Rendered): Promise<SendOutcome[]>;
  close(): Promise<void>;
}

/** A stored credential that cannot be used (not a key of the expected kind): the API answers 400. */
export class InvalidCredentialsError extends Error {
  override name = 'InvalidCredentialsError';
}

/**
 * One delivery channel (APNs, FCM, …): everything that differs between channels lives behind this, so that
 * the push pipeline, the API and storage only loop over the registry (delivery/registry.ts). Methods (not
 * arrow properties) so that a channel of specific types fits the registry's list of `Channel`s.
 */
export interface Channel<
  Name extends string = string,
  Key extends string = string,
  Stored = unknown,
  Options = unknown,
  Rendered = unknown,
  Settings = object,
> {
  /** The channel's name: a device's `platform`, the key of its credentials and counters. */
  readonly name: Name;
  /** How people write it: 'APNs', 'FCM'. */
  readonly label: string;
  /**
   * Used for a device only when it has no live token of another channel (FCM on a phone that also has its
   * maker's push service, which reaches it where Google's services are missing).
   */
  readonly fallback?: boolean;
  /** The key under a push's `offline` that holds this channel's own options. */
  readonly optionsKey: Key;
  readonly optionsSchema: z.ZodType<Options>;
  /** The body of `PUT /v1/apps/current/credentials/<name>`. */
  readonly credentialsSchema: z.ZodType;
  /** Summary of that route in the OpenAPI document. */
  readonly credentialsSummary: string;
  /** What the app view shows of stored credentials: never the key. */
  readonly credentialsViewSchema: z.ZodType;
  /**
   * Turns a valid PUT body into stored credentials; throws InvalidCredentialsError when the key is unusable or
   * names an endpoint the operator's settings do not allow. `current`: what the app has stored now, if anything
   * (a channel may keep part of it, as Web Push keeps its generated key pair).
   */
  storeCredentials(body: unknown, settings: Settings, current?: unknown): Promise<Stored>;
  viewCredentials(stored: Stored): unknown;
  /**
   * A device token in its stored spelling; throws DeviceTokenError (db/devices.ts) when it is malformed. With
   * `settings` (registering a device) also when the operator's settings refuse it (a Web Push endpoint on a
   * push service not allowed); without (removing one) only the spelling counts.
   */
  normalizeToken(token: string, settings?: Settings): string;
  /** The common notification plus this channel's own options, untouched, as its client sends it. */
  render(common: CommonNotification, options: Options | undefined): Rendered;
  /** A client for one app's credentials; `settings` holds every channel's endpoint settings. */
  createClient(credentials: Stored, settings: Settings): ChannelClient<Rendered>;
}
