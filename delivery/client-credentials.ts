import { createBearerCache } from './bearer.ts';
import type { Http1Pool } from './http1-pool.ts';

const REQUEST_TIMEOUT_MS = 15_000;

/**
 * An OAuth 2.0 access token by the client-credentials grant (RFC 6749 §4.4), as Huawei's and Honor's push
 * services hand them out: a form POST of `grant_type=client_credentials`, `client_id`, `client_secret`,
 * answered `{access_token, expires_in, token_type}`. One token is shared by every request of the client and
 * renewed 5 minutes before it expires (halfway for short-lived ones), or when the provider refuses it
 * (`expire`). Errors never carry the secret.
 */
export function createClientCredentialsToken(opts: {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  pool: Http1Pool;
}) {
  const url = new URL(opts.tokenUrl);
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: opts.clientId,
    client_secret: opts.clientSecret,
  }).toString();
  return createBearerCache('Bearer', async () => {
    const res = await opts.pool.post(
      url,
      { 'content-type': 'application/x-www-form-urlencoded' },
      form,
      REQUEST_TIMEOUT_MS,
    );
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(res.body) as Record<string, unknown>;
    } catch {
      // not JSON: reported below by status
    }
    if (res.status !== 200 || typeof body.access_token !== 'string' || body.access_token === '') {
      const why = [body.error, body.sub_error, body.error_description]
        .filter((v) => typeof v === 'string' || typeof v === 'number')
        .join(' ');
      throw new Error(`token endpoint answered ${res.status}${why ? ` ${why}` : ''}`);
    }
    const seconds = Number(body.expires_in);
    const lifetimeMs = (Number.isFinite(seconds) && seconds > 0 ? seconds : 3600) * 1000;
    return {
      token: body.access_token,
      renewAt: Date.now() + lifetimeMs - Math.min(5 * 60_000, lifetimeMs / 2),
    };
  });
}

export type ClientCredentialsToken = ReturnType<typeof createClientCredentialsToken>;
