/**
 * One signed webhook request (docs/webhooks.md): POST of a JSON body with the Standard Webhooks headers
 * (`webhook-id`, `webhook-timestamp`, `webhook-signature`, signed by the `standardwebhooks` library), to an
 * operator's URL: private addresses refused at connect time unless allowed, no redirect followed, 10 s for the
 * whole exchange, at most 64 KiB of the answer read. Only a 2xx is success.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { ForbiddenAddressError, guardedLookup, isPrivateAddress } from '../core/net-guard.ts';

export const WEBHOOK_TIMEOUT_MS = 10_000;
const MAX_ANSWER_BYTES = 64 * 1024;

export interface WebhookRequest {
  url: string;
  /** `whsec_…` */
  secret: string;
  /** The message id: the same on every retry of this message. */
  id: string;
  body: string;
  allowPrivate: boolean;
  timeoutMs?: number;
}

export type WebhookAnswer = { ok: true; status: number } | { ok: false; status?: number; reason: string };

/** The three Standard Webhooks headers for a message sent now. */
export function signatureHeaders(secret: string, id: string, body: string, at = new Date()) {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}

export function postWebhook(req: WebhookRequest): Promise<WebhookAnswer> {
  const url = new URL(req.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!req.allowPrivate && isIP(host) && isPrivateAddress(host))
    return Promise.resolve({ ok: false, reason: `${host} is a private or loopback address` });
  const client = url.protocol === 'https:' ? https : http;
  const headers = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(req.body)),
    'user-agent': 'Herald-Webhooks/1',
    ...signatureHeaders(req.secret, req.id, req.body),
  };
  return new Promise((resolve) => {
    let settled = false;
    const done = (answer: WebhookAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const request = client.request(
      url,
      { method: 'POST', headers, lookup: guardedLookup(req.allowPrivate), agent: false },
      (res) => {
        const status = res.statusCode ?? 0;
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) res.destroy();
        });
        res.on('close', () =>
          status >= 200 && status < 300
            ? done({ ok: true, status })
            : done({
                ok: false,
                status,
                reason:
                  status >= 300 && status < 400
                    ? `HTTP ${status} (redirects are not followed)`
                    : `HTTP ${status}`,
              }),
        );
        res.on('error', () => {});
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      done({ ok: false, reason: `no answer within ${(req.timeoutMs ?? WEBHOOK_TIMEOUT_MS) / 1000} s` });
    }, req.timeoutMs ?? WEBHOOK_TIMEOUT_MS);
    request.on('error', (err: NodeJS.ErrnoException) =>
      done({
        ok: false,
        reason: err instanceof ForbiddenAddressError ? err.message : `${err.code ?? 'error'}: ${err.message}`,
      }),
    );
    request.end(req.body);
  });
}
