import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { providerRequestSeconds, secondsSince } from '../../../core/metrics.ts';
import { WEBPUSH_CONCURRENCY, WEBPUSH_SOCKETS_PER_ORIGIN } from '../../../core/tunables.ts';
import type { ChannelClient, DeviceTarget, SendOutcome } from '../../channel.ts';
import { backoff, createGate, failed } from '../../limits.ts';
import { readWebPushAnswer } from './answers.ts';
import type { WebPushCredentials } from './credentials.ts';
import { encryptPayload, MAX_PLAINTEXT_BYTES } from './encryption.ts';
import { type WebPushNotification, webPushHeaders, webPushPayload } from './payload.ts';
import { allowingEntry, pushServiceRules } from './push-services.ts';
import { decodeWebPushToken } from './subscription.ts';
import { createVapidSigner } from './vapid.ts';

export interface WebPushClientOptions {
  credentials: WebPushCredentials;
  /** HERALD_WEBPUSH_PUSH_SERVICES: the push services endpoints may name; undefined = the browsers' defaults. */
  services?: readonly string[] | undefined;
  /** Requests in flight across every push service; default WEBPUSH_CONCURRENCY (core/tunables.ts). */
  concurrency?: number;
  /** Keep-alive sockets per push-service origin; default WEBPUSH_SOCKETS_PER_ORIGIN. */
  socketsPerOrigin?: number;
  /** Retries after 429, 5xx and network errors; default 3. */
  maxRetries?: number;
  /** Extra trusted CA (tests' fakes, a private push service). */
  ca?: string | Buffer;
}

const REQUEST_TIMEOUT_MS = 15_000;
/** A Retry-After longer than this is not worth holding a send for; the message fails instead. */
const MAX_RETRY_AFTER_MS = 60_000;

/** One target's request, worked out once and kept across retries. */
interface Prepared {
  url: URL;
  origin: string;
  /** The allow-list entry that allowed it: the label of its latency metric (a bounded set). */
  label: string;
  keys: { p256dh: string; auth: string };
  body?: Buffer;
}

/**
 * Web Push (RFC 8030) to whatever push service each subscription names, over HTTP/1.1 with keep-alive sockets
 * per origin: every browser's push service speaks it, where HTTP/2 is not promised. Each message is encrypted
 * for its subscription (RFC 8291) and carries the app's VAPID token for the origin (RFC 8292).
 */
export function createWebPushClient(opts: WebPushClientOptions): ChannelClient<WebPushNotification> {
  const maxRetries = opts.maxRetries ?? 3;
  const rules = pushServiceRules(opts.services);
  const vapid = createVapidSigner(opts.credentials);
  const gate = createGate(opts.concurrency ?? WEBPUSH_CONCURRENCY);
  const maxSockets = opts.socketsPerOrigin ?? WEBPUSH_SOCKETS_PER_ORIGIN;
  const agents = {
    'https:': new https.Agent({
      keepAlive: true,
      maxSockets,
      ...(opts.ca ? { ca: [...rootCertificates, opts.ca.toString()] } : {}),
    }),
    'http:': new http.Agent({ keepAlive: true, maxSockets }),
  };
  /** Origin → the entry that allows it (null: none); a page names a handful of origins. */
  const allowed = new Map<string, string | null>();
  let closed = false;
  let inFlight = 0;
  let idle: (() => void) | undefined;

  function prepare(token: string): Prepared | string {
    const subscription = decodeWebPushToken(token);
    if (!subscription || !URL.canParse(subscription.endpoint)) return 'BadSubscription';
    const url = new URL(subscription.endpoint);
    let label = allowed.get(url.origin);
    if (label === undefined) {
      label = allowingEntry(url, rules) ?? null;
      allowed.set(url.origin, label);
    }
    // Checked again here: devices registered before the operator narrowed HERALD_WEBPUSH_PUSH_SERVICES.
    return label === null
      ? 'EndpointNotAllowed'
      : { url, origin: url.origin, label, keys: subscription.keys };
  }

  function sendPage(
    targets: readonly DeviceTarget[],
    plaintext: Buffer,
    shared: Record<string, string>,
    resolve: (outcomes: SendOutcome[]) => void,
  ): void {
    const outcomes: SendOutcome[] = new Array(targets.length);
    const prepared: (Prepared | undefined)[] = new Array(targets.length);
    let pending = targets.length;
    const settle = (i: number, outcome: SendOutcome) => {
      outcomes[i] = outcome;
      prepared[i] = undefined;
      if (--pending === 0) resolve(outcomes);
    };
    const attempt = (i: number, n: number) => gate.enter(() => issue(i, n));

    /** Runs inside the gate: the message is encrypted when its request is about to leave, not before. */
    function issue(i: number, n: number): void {
      const target = targets[i] as DeviceTarget;
      const p = prepared[i] as Prepared;
      if (closed) {
        gate.leave();
        settle(i, failed(target.token, 'ClientClosed'));
        return;
      }
      if (!p.body) {
        try {
          p.body = encryptPayload(plaintext, p.keys);
        } catch {
          // Keys that were valid when registered always encrypt; a stored token edited by hand may not.
          gate.leave();
          settle(i, { token: target.token, outcome: 'invalid', reason: 'BadSubscription' });
          return;
        }
      }
      const header = vapid.current(p.origin);
      if (header) {
        post(i, n, p, header);
        return;
      }
      vapid.get(p.origin).then(
        (signed) => post(i, n, p, signed),
        (err: unknown) => {
          gate.leave();
          settle(i, failed(target.token, `VapidError: ${errorMessage(err)}`));
        },
      );
    }

    function post(i: number, n: number, p: Prepared, authorization: string): void {
      const body = p.body as Buffer;
      const started = performance.now();
      inFlight++;
      let done = false;
      const finish = (err: Error | undefined, status: number, retryAfter: string | undefined) => {
        if (done) return;
        done = true;
        inFlight--;
        gate.leave();
        const result = err ? 'error' : `${Math.floor(status / 100)}xx`;
        providerRequestSeconds.observe({ origin: p.label, result }, secondsSince(started));
        answered(i, n, err, status, retryAfter);
        if (inFlight === 0) idle?.();
      };
      const request = p.url.protocol === 'https:' ? https.request : http.request;
      const req = request(
        p.url,
        {
          method: 'POST',
          agent: agents[p.url.protocol as 'https:' | 'http:'],
          timeout: REQUEST_TIMEOUT_MS,
          headers: { ...shared, authorization, 'content-length': body.length },
        },
        (res) => {
          // Nothing in a push service's body changes what Herald does; drain it so the socket is reused.
          res.resume();
          res.on('end', () => finish(undefined, res.statusCode ?? 0, header(res.headers['retry-after'])));
          res.on('error', (err) => finish(err, 0, undefined));
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', (err) => finish(err, 0, undefined));
      req.end(body);
    }

    function answered(
      i: number,
      n: number,
      err: Error | undefined,
      status: number,
      retryAfter: string | undefined,
    ): void {
      const token = (targets[i] as DeviceTarget).token;
      if (err) {
        if (n >= maxRetries) settle(i, failed(token, errorMessage(err)));
        else setTimeout(attempt, backoff(n), i, n + 1);
        return;
      }
      const answer = readWebPushAnswer(status, retryAfter);
      if (answer.outcome !== 'failed') {
        settle(i, { token, ...answer });
        return;
      }
      const wait = Math.max(answer.retryAfterMs ?? 0, backoff(n));
      if (!answer.retry || n >= maxRetries || wait > MAX_RETRY_AFTER_MS)
        settle(i, failed(token, answer.reason));
      else setTimeout(attempt, wait, i, n + 1);
    }

    for (let i = 0; i < targets.length; i++) {
      const token = (targets[i] as DeviceTarget).token;
      const p = prepare(token);
      if (typeof p === 'string') {
        settle(i, { token, outcome: 'invalid', reason: p });
        continue;
      }
      prepared[i] = p;
      attempt(i, 0);
    }
  }

  return {
    async send(targets: readonly DeviceTarget[], notification: WebPushNotification): Promise<SendOutcome[]> {
      const plaintext = Buffer.from(JSON.stringify(webPushPayload(notification)), 'utf8');
      // Checked before sending: a push service need not take more (RFC 8291 §4), for any subscription.
      if (plaintext.length > MAX_PLAINTEXT_BYTES)
        return targets.map((t) => failed(t.token, 'PayloadTooLarge'));
      if (targets.length === 0) return [];
      const shared = webPushHeaders(notification);
      return new Promise((resolve) => sendPage(targets, plaintext, shared, resolve));
    },
    async close() {
      closed = true;
      // Requests on the wire finish; queued ones fail with ClientClosed as they come out of the gate.
      if (inFlight > 0) await new Promise<void>((r) => (idle = r));
      agents['https:'].destroy();
      agents['http:'].destroy();
    },
  };
}

const header = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value[0] : value;

function errorMessage(err: unknown): string {
  return err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err);
}
