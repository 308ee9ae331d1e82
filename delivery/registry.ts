import { z } from 'zod';
import type { Config } from '../core/config.ts';
import type { App } from '../db/apps.ts';
import type { DevicePlatform } from '../db/devices.ts';
import type { Channel, ChannelClient } from './channel.ts';
import { apns } from './channels/apns/index.ts';
import { fcm } from './channels/fcm/index.ts';
import { hms } from './channels/hms/index.ts';
import { honor } from './channels/honor/index.ts';
import { oppo } from './channels/oppo/index.ts';
import { vivo } from './channels/vivo/index.ts';
import { webpush } from './channels/webpush/index.ts';
import { xiaomi } from './channels/xiaomi/index.ts';

/**
 * The only list of channels: the API's credential routes and device platforms, the push options, the report
 * counters, storage keys and the SDK's platform type (scripts/generate-platforms.ts) all come from here.
 * Adding a channel is one line here plus its folder under delivery/channels/.
 */
const REGISTERED = [apns, fcm, hms, honor, xiaomi, oppo, vivo, webpush] as const;

type Registered = (typeof REGISTERED)[number];
export type ChannelName = Registered['name'];
export const CHANNELS: readonly Channel<ChannelName>[] = REGISTERED;
export const CHANNEL_NAMES = CHANNELS.map((c) => c.name) as [ChannelName, ...ChannelName[]];

export function channelNamed(name: string): Channel<ChannelName> | undefined {
  return CHANNELS.find((c) => c.name === name);
}

/** The channel of a name already checked against the registry (a parsed platform). */
export function channelOf(name: ChannelName): Channel<ChannelName> {
  const channel = channelNamed(name);
  if (!channel) throw new Error(`unknown channel ${name}`);
  return channel;
}

/** Channels a device uses only when it has no live token of another one (see Channel.fallback). */
export const FALLBACK_CHANNELS: readonly ChannelName[] = CHANNELS.filter((c) => c.fallback).map(
  (c) => c.name,
);

export function isChannelName(name: string): name is ChannelName {
  return channelNamed(name) !== undefined;
}

/** A stored platform name, which only ever holds a registered channel's name. */
export function asChannelName(name: string): ChannelName {
  if (!isChannelName(name)) throw new Error(`unknown channel ${name}`);
  return name;
}

/** One entry per channel, in registry order: for schemas and views keyed by channel name. */
export function perChannel<T>(make: (channel: Channel<ChannelName>) => T): Record<ChannelName, T> {
  return Object.fromEntries(CHANNELS.map((c) => [c.name, make(c)])) as Record<ChannelName, T>;
}

type OptionsShape = { [C in Registered as C['optionsKey']]: z.ZodOptional<C['optionsSchema']> };

/** The `offline` keys of the channels' own options (`apns`, `android`), each optional. */
export function channelOptionsShape(): OptionsShape {
  return Object.fromEntries(
    REGISTERED.map((c) => [c.optionsKey, z.optional(c.optionsSchema)]),
  ) as OptionsShape;
}

/** Every channel's endpoint settings in one object (APNS_URL, FCM_URL, extra CAs…); each reads its own. */
type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void
  ? I
  : never;
export type ProviderUrls = UnionToIntersection<Parameters<Registered['createClient']>[1]>;

/** The channels' settings from the operator's configuration (the worker's clients, the API's credential checks). */
export function providerSettings(config: Config): ProviderUrls {
  return {
    apnsProductionUrl: config.APNS_URL,
    apnsSandboxUrl: config.APNS_SANDBOX_URL,
    fcmUrl: config.FCM_URL,
    fcmAllowedTokenUris: config.HERALD_ALLOWED_TOKEN_URIS,
    hmsUrl: config.HMS_URL,
    hmsTokenUrl: config.HMS_TOKEN_URL,
    honorUrl: config.HONOR_URL,
    honorTokenUrl: config.HONOR_TOKEN_URL,
    webPushServices: config.HERALD_WEBPUSH_PUSH_SERVICES,
    xiaomiUrl: config.XIAOMI_URL,
    oppoUrl: config.OPPO_URL,
    vivoUrl: config.VIVO_URL,
  };
}

/**
 * A platform's token rules as a device registration applies them: the channel's own, under the operator's
 * settings (which push services a Web Push subscription may name).
 */
export function devicePlatform(name: ChannelName, settings: ProviderUrls): DevicePlatform {
  const channel = channelOf(name);
  return { name, normalizeToken: (token) => channel.normalizeToken(token, settings) };
}

export type ChannelClients = Partial<Record<ChannelName, ChannelClient>>;

/** Gives an app's client of each channel it has credentials for. */
export interface ProviderRegistry {
  forApp(app: App): ChannelClients;
  close(): Promise<void>;
}

/**
 * One pooled client per app and channel, rebuilt when the app's credentials change, so HTTP/2 sessions and
 * provider tokens are reused across every page of every push.
 */
export function providerRegistry(settings: ProviderUrls): ProviderRegistry {
  const cache = new Map<string, { key: string; client: ChannelClient }>();

  const cached = (id: string, key: string, make: () => ChannelClient): ChannelClient => {
    const hit = cache.get(id);
    if (hit?.key === key) return hit.client;
    if (hit) void hit.client.close();
    const client = make();
    cache.set(id, { key, client });
    return client;
  };

  return {
    forApp(app: App) {
      const clients: ChannelClients = {};
      for (const channel of CHANNELS) {
        const credentials = app.channelCredentials[channel.name];
        if (credentials === undefined) continue;
        clients[channel.name] = cached(`${app.id}:${channel.name}`, JSON.stringify(credentials), () =>
          channel.createClient(credentials, settings),
        );
      }
      return clients;
    },
    async close() {
      await Promise.all([...cache.values()].map((c) => c.client.close()));
      cache.clear();
    },
  };
}
