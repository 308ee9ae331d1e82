import type { ChannelClient, CommonNotification, DeviceTarget, SendOutcome } from '../../delivery/channel.ts';
import { type ChannelName, type ProviderRegistry, perChannel } from '../../delivery/registry.ts';

export interface RecordedSend {
  platform: ChannelName;
  token: string;
  notification: CommonNotification;
}

/** Stands in for APNs and FCM where a test is about the push pipeline, not the providers' protocols. */
export function recordingProviders(opts: { delayMs?: number; dead?: Set<string> } = {}) {
  const sent: RecordedSend[] = [];
  const client = (platform: ChannelName): ChannelClient<CommonNotification> => ({
    async send(targets: readonly DeviceTarget[], notification: CommonNotification): Promise<SendOutcome[]> {
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      return targets.map((t) => {
        if (opts.dead?.has(t.token)) return { token: t.token, outcome: 'invalid', reason: 'Unregistered' };
        sent.push({ platform, token: t.token, notification });
        return { token: t.token, outcome: 'sent' };
      });
    },
    close: async () => {},
  });
  const clients = perChannel((c) => client(c.name));
  const registry: ProviderRegistry = { forApp: () => clients, close: async () => {} };
  return { registry, sent };
}
