import { findAppById } from '../db/apps.ts';
import type { Db } from '../db/client.ts';
import { viewWebPushCredentials, type WebPushCredentials } from '../delivery/channels/webpush/credentials.ts';

/**
 * The app's VAPID public key, for a browser about to subscribe (its `applicationServerKey`): public by nature,
 * read through the credentials' view (which never holds the private key). Null when the app has no Web Push
 * credentials.
 */
export async function webPushPublicKey(db: Db, appId: string): Promise<string | null> {
  const stored = (await findAppById(db, appId))?.channelCredentials.webpush;
  return stored === undefined ? null : viewWebPushCredentials(stored as WebPushCredentials).publicKey;
}
