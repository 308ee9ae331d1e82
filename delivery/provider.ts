/** What a provider (APNs or FCM) is asked to show on a device for one push. */
export interface Notification {
  pushId: string;
  title?: string;
  body: string;
  subtitle?: string;
  sound?: string;
  /** Badge number to set; undefined leaves the badge alone. */
  badge?: number;
  /** Custom payload string (Tencent's OfflinePushInfo.Ext), delivered beside `aps` / in FCM data as `ext`. */
  ext?: string;
  /** Extra string key/values for the data payload. */
  data?: Record<string, string>;
  image?: string;
  mutableContent?: boolean;
  /** apns-collapse-id / FCM collapse key. */
  collapseId?: string;
  priority?: 'high' | 'normal';
  /** Android notification channel. */
  channelId?: string;
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

export interface ProviderClient {
  send(targets: readonly DeviceTarget[], notification: Notification): Promise<SendOutcome[]>;
  close(): Promise<void>;
}
