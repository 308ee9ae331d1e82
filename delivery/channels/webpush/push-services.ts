/**
 * Which push services a Web Push subscription may name. A subscription's endpoint comes from the end user's
 * browser (or whoever calls the device routes), and the worker POSTs to it: left open, anyone who can register
 * a device could make the worker call any address (SSRF). Only the origins on this list are ever called.
 *
 * An entry is an origin, `https://host[:port]`, or a wildcard origin, `https://*.domain[:port]` (any host below
 * the domain, at any depth). `http://` entries are honoured (a local push service, tests' fakes) but never
 * implied. The default is the push services of the browsers that ship Web Push; HERALD_WEBPUSH_PUSH_SERVICES
 * replaces it, and its word `default` stands for this list.
 */
export const DEFAULT_PUSH_SERVICES: readonly string[] = [
  // Chrome, Chromium-based browsers on Android and desktop (Firebase Cloud Messaging).
  'https://fcm.googleapis.com',
  // Firefox (Mozilla autopush).
  'https://updates.push.services.mozilla.com',
  // Safari on macOS 13+ and iOS / iPadOS 16.4+ (Apple asks senders to allow *.push.apple.com).
  'https://*.push.apple.com',
  // Edge on Windows (Windows Push Notification Services).
  'https://*.notify.windows.com',
];

/** The longest endpoint URL accepted; real ones are 150–600 characters. */
export const ENDPOINT_MAX = 2048;

interface Rule {
  entry: string;
  protocol: string;
  /** Exact host, or the suffix (with its leading dot) that a host must end with. */
  host: string;
  wildcard: boolean;
  port: string;
}

/** Why `entry` is not a push-service entry, or undefined when it is one. */
export function pushServiceEntryProblem(entry: string): string | undefined {
  return parseRule(entry)
    ? undefined
    : `${entry} is not an origin like https://host[:port] or https://*.domain`;
}

function parseRule(entry: string): Rule | undefined {
  const wildcard = /^https?:\/\/\*\./.test(entry);
  const text = wildcard ? entry.replace('*.', '') : entry;
  if (!URL.canParse(text)) return undefined;
  const url = new URL(text);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.username || url.password || url.search || url.hash) return undefined;
  if (!/^https?:\/\/[^/?#]+\/?$/i.test(text)) return undefined;
  return {
    entry,
    protocol: url.protocol,
    host: wildcard ? `.${url.hostname}` : url.hostname,
    wildcard,
    port: url.port,
  };
}

/** The operator's list with `default` expanded; undefined (not configured) is the default list. */
export function pushServiceRules(configured: readonly string[] | undefined): readonly Rule[] {
  const entries = configured ?? DEFAULT_PUSH_SERVICES;
  return entries
    .flatMap((e) => (e === 'default' ? DEFAULT_PUSH_SERVICES : [e]))
    .map(parseRule)
    .filter((r): r is Rule => r !== undefined);
}

/** The entry that allows this endpoint (the label of its metrics), or undefined. */
export function allowingEntry(endpoint: URL, rules: readonly Rule[]): string | undefined {
  for (const r of rules) {
    if (r.protocol !== endpoint.protocol || r.port !== endpoint.port) continue;
    const host = endpoint.hostname;
    if (r.wildcard ? host.endsWith(r.host) && host.length > r.host.length : host === r.host) return r.entry;
  }
  return undefined;
}
