/** Messages between bench/main.ts and its child processes (fakes-child.ts, clients-child.ts). */

/** Wall-clock milliseconds with sub-millisecond precision: one clock for every bench process. */
export const now = (): number => performance.timeOrigin + performance.now();

export interface FakesSpec {
  apns: { publicKey: string; keyId: string; teamId: string; topic: string };
  fcm: { publicKey: string; projectId: string; clientEmail: string };
  /** The Huawei Push Kit and Honor Push fakes' app credentials; each fake runs only when given. */
  hms?: { clientId: string; clientSecret: string };
  honor?: { appId: string; clientId: string; clientSecret: string };
  /** The phone makers' fakes, started when given (bench/main.ts and provider-cpu.ts; not the chaos runs). */
  xiaomi?: { appSecret: string; packageName: string };
  oppo?: { appKey: string; masterSecret: string };
  vivo?: { appId: string; appKey: string; appSecret: string };
}

export interface FakesAddresses {
  apnsUrl: string;
  apnsSandboxUrl: string;
  ca: string;
  fcmUrl: string;
  tokenUri: string;
  hmsUrl?: string;
  hmsTokenUrl?: string;
  honorUrl?: string;
  honorTokenUrl?: string;
  /** The Web Push fake's origin (bench/fakes-child.ts; its subscriptions: its `subscribe` command). */
  webPushUrl?: string;
  xiaomiUrl?: string;
  oppoUrl?: string;
  vivoUrl?: string;
}

/** Arrivals at one provider fake: count, first and last arrival, and a histogram in 100 ms buckets. */
export interface Arrivals {
  accepted: number;
  rejected: number;
  rejectedReasons: Record<string, number>;
  first: number | null;
  last: number | null;
  /** bucket start (epoch ms, multiple of 100) → notifications accepted in it. */
  buckets: Record<string, number>;
  /** HTTP/2 sessions opened (APNs, both fakes), the peak of concurrent requests (FCM), or batch requests (Huawei, Honor). */
  connections: number;
}

export interface FakesReport {
  apns: Arrivals;
  fcm: Arrivals;
  /** Arrivals count devices reached, not requests: a batch of 1,000 tokens is 1,000 arrivals. */
  hms: Arrivals;
  honor: Arrivals;
  xiaomi: Arrivals;
  oppo: Arrivals;
  vivo: Arrivals;
}

/** The phone makers' channels, in the order the bench reports them. */
export const VENDORS = ['xiaomi', 'oppo', 'vivo'] as const;
export type Vendor = (typeof VENDORS)[number];

/** Fresh credentials for the vendor fakes (any values: the fakes check what they were started with). */
export function vendorSpec(): Required<Pick<FakesSpec, Vendor>> {
  const secret = () => Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  return {
    xiaomi: { appSecret: secret(), packageName: 'com.example.herald.bench' },
    oppo: { appKey: secret(), masterSecret: secret() },
    vivo: { appId: '10004', appKey: secret(), appSecret: secret() },
  };
}

export interface ClientsStart {
  cmd: 'start';
  /** ws://host:port of each api process; client i connects to urls[i % urls.length]. */
  urls: string[];
  appId: string;
  secretKey: string;
  accounts: string[];
  /** Connections opening at once. */
  concurrency: number;
}

export interface ClientsProgress {
  type: 'progress';
  connected: number;
  failed: number;
}

export interface ClientsConnected {
  type: 'connected';
  connected: number;
  failed: number;
  errors: string[];
}

/** Receipts of one push: for each receipt the account's index in `accounts` and the arrival time. */
export interface ClientsReceipts {
  type: 'receipts';
  pushId: string;
  index: number[];
  times: number[];
  /** Sockets the server closed since the previous collect, by close code (4008 = slow consumer). */
  closes: Record<string, number>;
  reconnects: number;
}
