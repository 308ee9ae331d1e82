import { ECDH } from 'node:crypto';
import { DeviceTokenError } from '../../../db/devices.ts';
import { allowingEntry, ENDPOINT_MAX, pushServiceRules } from './push-services.ts';

/**
 * A browser's push subscription as Herald keeps it: the device token of the `webpush` platform. A subscription
 * is three values (W3C Push API `PushSubscription.toJSON()`: `endpoint`, `keys.p256dh`, `keys.auth`), and a
 * device is one token string, so the token is the subscription's JSON in base64url (RFC 4648 §5, unpadded):
 * it fits the device routes' path and the socket's `registerDevice` unchanged, and the one token names one
 * subscription. Tokens are stored in the canonical spelling `webPushToken` writes (only these three fields, in
 * this order), so the same subscription sent twice, or with `expirationTime`, is one device.
 */
export interface WebPushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** The longest token: the endpoint bound plus keys and JSON, in base64url (within the routes' 4096). */
export const TOKEN_MAX = 4096;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;
/** Printable ASCII without quotes or backslashes: what a URL needs, and JSON leaves it as it is. */
const ENDPOINT_CHARS = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** The canonical token of a subscription (its fields as given; `normalizeWebPushToken` checks them). */
export function webPushToken(s: WebPushSubscription): string {
  const json = JSON.stringify({ endpoint: s.endpoint, keys: { p256dh: s.keys.p256dh, auth: s.keys.auth } });
  return Buffer.from(json, 'utf8').toString('base64url');
}

/** A stored (canonical) token's subscription; undefined when it is not one. */
export function decodeWebPushToken(token: string): WebPushSubscription | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { endpoint, keys } = value as { endpoint?: unknown; keys?: unknown };
  if (typeof endpoint !== 'string' || typeof keys !== 'object' || keys === null) return undefined;
  const { p256dh, auth } = keys as { p256dh?: unknown; auth?: unknown };
  if (typeof p256dh !== 'string' || typeof auth !== 'string') return undefined;
  return { endpoint, keys: { p256dh, auth } };
}

/** Why this endpoint may not be used, or undefined; `services`: HERALD_WEBPUSH_PUSH_SERVICES (undefined: the default). */
export function endpointProblem(
  endpoint: string,
  services: readonly string[] | undefined,
): string | undefined {
  const target = new URL(endpoint);
  if (allowingEntry(target, pushServiceRules(services))) return undefined;
  return target.protocol === 'https:'
    ? `the push service ${target.origin} is not one the operator allows (HERALD_WEBPUSH_PUSH_SERVICES)`
    : `must be https:// (the operator may allow a plain http:// push service in HERALD_WEBPUSH_PUSH_SERVICES)`;
}

/**
 * The token rules of the `webpush` platform: base64url of the subscription JSON; an endpoint that is an
 * http(s) URL of at most ENDPOINT_MAX characters, without credentials or fragment; `p256dh` a P-256 public key
 * (65 bytes, uncompressed) and `auth` 16 bytes, both base64url. With `allowed` (when registering) the
 * endpoint must also belong to one of its push services; removing a device only needs the spelling.
 */
export function normalizeWebPushToken(
  token: string,
  allowed?: { services: readonly string[] | undefined },
): string {
  const bad = (problem: string) => new DeviceTokenError(`a Web Push token ${problem}`);
  if (!token.length || token.length > TOKEN_MAX || !BASE64URL.test(token))
    throw bad(`is the subscription's JSON in base64url, 1–${TOKEN_MAX} characters`);
  const s = decodeWebPushToken(token);
  if (!s) throw bad('decodes to JSON with `endpoint`, `keys.p256dh` and `keys.auth` strings');
  const { endpoint } = s;
  if (endpoint.length > ENDPOINT_MAX || !ENDPOINT_CHARS.test(endpoint) || !URL.canParse(endpoint))
    throw bad(`has an endpoint that is a URL of at most ${ENDPOINT_MAX} characters`);
  const url = new URL(endpoint);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw bad('has an endpoint that is https://');
  if (url.username || url.password || url.hash) throw bad('has an endpoint without credentials or fragment');
  const p256dh = strictBase64url(s.keys.p256dh);
  if (p256dh?.length !== 65 || p256dh[0] !== 4 || !onCurve(p256dh))
    throw bad('has keys.p256dh that is a P-256 public key (65 bytes, uncompressed) in base64url');
  const auth = strictBase64url(s.keys.auth);
  if (auth?.length !== 16) throw bad('has keys.auth that is 16 bytes in base64url');
  if (allowed) {
    const problem = endpointProblem(endpoint, allowed.services);
    if (problem) throw bad(`endpoint: ${problem}`);
  }
  return webPushToken({
    endpoint,
    keys: { p256dh: p256dh.toString('base64url'), auth: auth.toString('base64url') },
  });
}

function strictBase64url(text: string): Buffer | undefined {
  return BASE64URL.test(text) ? Buffer.from(text, 'base64url') : undefined;
}

function onCurve(point: Buffer): boolean {
  try {
    ECDH.convertKey(point, 'prime256v1');
    return true;
  } catch {
    return false;
  }
}
