import type { ProviderRegistry } from '../activities/deps.ts';
import type { App } from '../db/apps.ts';
import { createApnsClient } from './apns.ts';
import { createFcmClient } from './fcm.ts';
import type { ProviderClient } from './provider.ts';

export interface ProviderUrls {
  apnsProductionUrl?: string | undefined;
  apnsSandboxUrl?: string | undefined;
  fcmUrl?: string | undefined;
  /** Extra CA trusted for APNs (tests and private gateways). */
  apnsCa?: string | undefined;
  /** Extra CA trusted for FCM and its token endpoint (tests and private gateways). */
  fcmCa?: string | undefined;
}

/**
 * One pooled client per app and provider, rebuilt when the app's credentials change, so HTTP/2 sessions and
 * provider tokens are reused across every page of every push.
 */
export function providerRegistry(urls: ProviderUrls): ProviderRegistry {
  const cache = new Map<string, { key: string; client: ProviderClient }>();

  const cached = (id: string, key: string, make: () => ProviderClient): ProviderClient => {
    const hit = cache.get(id);
    if (hit?.key === key) return hit.client;
    if (hit) void hit.client.close();
    const client = make();
    cache.set(id, { key, client });
    return client;
  };

  return {
    forApp(app: App) {
      const apnsCreds = app.apnsCredentials;
      const fcmCreds = app.fcmCredentials;
      return {
        apns: apnsCreds
          ? cached(`${app.id}:apns`, JSON.stringify(apnsCreds), () =>
              createApnsClient({
                credentials: apnsCreds,
                ...(urls.apnsProductionUrl ? { productionUrl: urls.apnsProductionUrl } : {}),
                ...(urls.apnsSandboxUrl ? { sandboxUrl: urls.apnsSandboxUrl } : {}),
                ...(urls.apnsCa ? { ca: urls.apnsCa } : {}),
              }),
            )
          : undefined,
        fcm: fcmCreds
          ? cached(`${app.id}:fcm`, JSON.stringify(fcmCreds), () =>
              createFcmClient({
                credentials: fcmCreds,
                ...(urls.fcmUrl ? { baseUrl: urls.fcmUrl } : {}),
                ...(urls.fcmCa ? { ca: urls.fcmCa } : {}),
              }),
            )
          : undefined,
      };
    },
    async close() {
      await Promise.all([...cache.values()].map((c) => c.client.close()));
      cache.clear();
    },
  };
}
