import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { importPKCS8, SignJWT } from 'jose';
import { createBearerCache } from '../../bearer.ts';
import type { FcmCredentials } from './credentials.ts';

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
const REQUEST_TIMEOUT_MS = 15_000;

/**
 * OAuth2 access tokens for the service account (JWT bearer grant, RFC 7523), fetched from the key's own
 * `token_uri`, shared by all sends and renewed shortly before they expire.
 */
export function createAccessTokenSource(credentials: FcmCredentials, ca: string | Buffer | undefined) {
  const account = credentials.serviceAccount;
  const privateKey = stringField(account, 'private_key');
  const clientEmail = stringField(account, 'client_email') ?? credentials.clientEmail;
  const tokenUri = stringField(account, 'token_uri') ?? GOOGLE_TOKEN_URI;
  const keyId = stringField(account, 'private_key_id');
  const trusted = ca ? [...rootCertificates, ca.toString()] : undefined;
  let key: ReturnType<typeof importPKCS8> | undefined;

  return createBearerCache('Bearer', async () => {
    if (!privateKey) throw new Error('service account has no private_key');
    key ??= importPKCS8(privateKey, 'RS256');
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ scope: SCOPE })
      .setProtectedHeader(keyId ? { alg: 'RS256', typ: 'JWT', kid: keyId } : { alg: 'RS256', typ: 'JWT' })
      .setIssuer(clientEmail)
      .setAudience(tokenUri)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(await key);
    const form = new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion,
    });
    const res = await postForm(tokenUri, form.toString(), trusted);
    let body: { access_token?: unknown; expires_in?: unknown; error?: unknown } = {};
    try {
      body = JSON.parse(res.body) as typeof body;
    } catch {
      // not JSON: reported below by status
    }
    if (res.status !== 200 || typeof body.access_token !== 'string') {
      throw new Error(`token endpoint answered ${res.status} ${String(body.error ?? '')}`.trim());
    }
    const lifetimeMs = (typeof body.expires_in === 'number' ? body.expires_in : 3600) * 1000;
    // Renew 5 minutes early (or halfway for short-lived tokens) so no request carries a dying token.
    return {
      token: body.access_token,
      renewAt: Date.now() + lifetimeMs - Math.min(5 * 60_000, lifetimeMs / 2),
    };
  });
}

/**
 * The token request: HTTP/1.1 like any OAuth client (once an hour, so no pooled connection), trusting the
 * client's extra CA as the sends do.
 */
function postForm(
  url: string,
  form: string,
  ca: string[] | undefined,
): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  const options: https.RequestOptions = {
    method: 'POST',
    agent: false,
    timeout: REQUEST_TIMEOUT_MS,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': Buffer.byteLength(form),
    },
  };
  if (ca) options.ca = ca;
  return new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    };
    const req =
      target.protocol === 'https:'
        ? https.request(target, options, onResponse)
        : http.request(target, options, onResponse);
    req.on('timeout', () =>
      req.destroy(Object.assign(new Error('token request timed out'), { code: 'ETIMEDOUT' })),
    );
    req.on('error', reject);
    req.end(form);
  });
}

function stringField(record: Record<string, unknown>, name: string): string | undefined {
  const value = record[name];
  return typeof value === 'string' && value ? value : undefined;
}
