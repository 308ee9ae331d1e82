import type { HeraldClient } from './client.ts';
import { HeraldError } from './client.ts';

/**
 * Web Push in a browser: subscribe through the site's service worker with the app's VAPID key and register the
 * subscription with Herald, which then sends the account's offline notifications to that browser. Nothing here
 * runs at import: the Node entry imports this module too, and only a call touches the Push API.
 */

/** What `PushSubscription.toJSON()` returns (W3C Push API). */
export interface WebPushSubscriptionJSON {
  endpoint?: string | undefined;
  expirationTime?: number | null | undefined;
  keys?: Record<string, string> | undefined;
}

/** The part of the browser's `PushSubscription` used here. */
export interface PushSubscriptionLike {
  readonly options?: { readonly applicationServerKey?: ArrayBuffer | null } | undefined;
  toJSON(): WebPushSubscriptionJSON;
  unsubscribe(): Promise<boolean>;
}

/** The part of the browser's `PushManager` used here. */
export interface PushManagerLike {
  getSubscription(): Promise<PushSubscriptionLike | null>;
  subscribe(options: {
    userVisibleOnly: boolean;
    applicationServerKey: Uint8Array;
  }): Promise<PushSubscriptionLike>;
}

export interface WebPushOptions {
  /** The site's service-worker registration (`await navigator.serviceWorker.register('/sw.js')`). */
  registration: { readonly pushManager: PushManagerLike };
  /** The app's VAPID public key; by default asked from Herald over the connection (`client.webPushKey()`). */
  applicationServerKey?: string;
}

export interface WebPushRegistration {
  /** The device token Herald keeps for this browser (`webpush` platform). */
  token: string;
  /** Whether Herald had not known this subscription. */
  created: boolean;
  subscription: PushSubscriptionLike;
}

/**
 * The `webpush` device token of a subscription: its JSON (`endpoint`, `keys.p256dh`, `keys.auth`) in base64url.
 * For an app server that receives subscriptions itself and registers them over REST
 * (`PUT /v1/accounts/{id}/devices/webpush/{token}`).
 */
export function webPushToken(subscription: WebPushSubscriptionJSON): string {
  const { endpoint, keys } = subscription;
  if (!endpoint || !keys?.p256dh || !keys.auth)
    throw new TypeError('a push subscription needs endpoint, keys.p256dh and keys.auth');
  const json = JSON.stringify({ endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } });
  return btoa(json).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Subscribes this browser to Web Push through `registration` (asking for notification permission if the user
 * has not answered yet: call it from a click) and registers the subscription for the connected account. A
 * subscription made with another key (the app's key was replaced) is dropped and made again, and its old token
 * unregistered. Throws `HeraldError` `webpush_not_configured` when the app has no Web Push credentials; the
 * browser's own errors (permission denied: `NotAllowedError`) pass through.
 */
export async function subscribeWebPush(
  client: HeraldClient,
  options: WebPushOptions,
): Promise<WebPushRegistration> {
  const key = options.applicationServerKey ?? (await client.webPushKey());
  if (!key)
    throw new HeraldError(
      'webpush_not_configured',
      'the app has no Web Push credentials (PUT /v1/apps/current/credentials/webpush)',
    );
  const applicationServerKey = fromBase64url(key);
  const manager = options.registration.pushManager;
  let subscription = await manager.getSubscription();
  const previous = subscription?.options?.applicationServerKey;
  if (subscription && previous && !sameBytes(new Uint8Array(previous), applicationServerKey)) {
    const stale = subscription;
    subscription = null;
    await stale.unsubscribe();
    await client.unregisterDevice('webpush', webPushToken(stale.toJSON())).catch(() => undefined);
  }
  subscription ??= await manager.subscribe({ userVisibleOnly: true, applicationServerKey });
  const token = webPushToken(subscription.toJSON());
  const { created } = await client.registerDevice('webpush', token);
  return { token, created, subscription };
}

/** Unregisters this browser's subscription from the account and unsubscribes it. False when there was none. */
export async function unsubscribeWebPush(
  client: HeraldClient,
  options: Pick<WebPushOptions, 'registration'>,
): Promise<boolean> {
  const subscription = await options.registration.pushManager.getSubscription();
  if (!subscription) return false;
  await client.unregisterDevice('webpush', webPushToken(subscription.toJSON()));
  await subscription.unsubscribe();
  return true;
}

function fromBase64url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, ''));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
