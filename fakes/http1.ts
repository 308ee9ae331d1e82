import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { testCertificate } from './keys.ts';

/** One request to an HTTP/1.1 fake (Huawei, Honor), as its handler sees it. */
export interface FakeRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface FakeAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface Http1Fake {
  url: string;
  /** PEM of the certificate served (the test certificate of ./keys.ts). */
  ca: string;
  close(): Promise<void>;
}

/**
 * An HTTPS (or, with `plaintext`, HTTP) server on 127.0.0.1 answering every request with `handle`'s JSON.
 * The vendors' push APIs are plain HTTP/1.1 JSON services; so is this.
 */
export async function startHttp1Fake(
  handle: (request: FakeRequest) => Promise<FakeAnswer>,
  opts: { plaintext?: boolean | undefined } = {},
): Promise<Http1Fake> {
  const { key, cert } = await testCertificate();
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    void (async () => {
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of req) chunks.push(chunk as Buffer);
      } catch {
        return; // the client went away
      }
      let answer: FakeAnswer;
      try {
        answer = await handle({
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      } catch (err) {
        answer = { status: 500, body: { error: String(err) } };
      }
      if (res.destroyed) return;
      res
        .writeHead(answer.status, { 'content-type': 'application/json;charset=UTF-8', ...answer.headers })
        .end(JSON.stringify(answer.body));
    })();
  };
  const server = opts.plaintext ? http.createServer(onRequest) : https.createServer({ key, cert }, onRequest);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${opts.plaintext ? 'http' : 'https'}://127.0.0.1:${port}`,
    ca: cert,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Access tokens of an OAuth 2.0 client-credentials grant for one client, as the vendors' token endpoints
 * issue them: `issue` checks the form, `check` an `Authorization: Bearer` header.
 */
export function clientCredentialsIssuer(opts: {
  clientId: string;
  clientSecret: string;
  lifetimeSeconds: number;
  /** The vendor's error body for a form it refuses (bad grant, unknown client, wrong secret). */
  refuse(reason: 'grant' | 'client'): FakeAnswer;
}) {
  const issued = new Map<string, number>();
  const revoked = new Set<string>();
  let requests = 0;
  return {
    get requests() {
      return requests;
    },
    issue(request: FakeRequest): FakeAnswer {
      requests++;
      if (!String(request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded'))
        return opts.refuse('grant');
      const form = new URLSearchParams(request.body);
      if (form.get('grant_type') !== 'client_credentials') return opts.refuse('grant');
      if (form.get('client_id') !== opts.clientId || form.get('client_secret') !== opts.clientSecret)
        return opts.refuse('client');
      const token = `fake-${randomBytes(24).toString('base64url')}`;
      issued.set(token, Date.now() + opts.lifetimeSeconds * 1000);
      return {
        status: 200,
        body: { access_token: token, expires_in: opts.lifetimeSeconds, token_type: 'Bearer' },
      };
    },
    /** 'ok' with the token, 'missing' (no or unknown token) or 'expired' (expired or revoked). */
    check(
      header: string | string[] | undefined,
    ): { state: 'ok'; token: string } | { state: 'missing' | 'expired' } {
      const token = typeof header === 'string' ? header.match(/^Bearer (\S+)$/)?.[1] : undefined;
      if (!token) return { state: 'missing' };
      const expiresAt = issued.get(token);
      if (expiresAt === undefined) return { state: revoked.has(token) ? 'expired' : 'missing' };
      if (expiresAt <= Date.now()) return { state: 'expired' };
      return { state: 'ok', token };
    },
    /** Tokens issued so far stop working, as after a key rotation. */
    revoke() {
      for (const token of issued.keys()) revoked.add(token);
      issued.clear();
    },
  };
}
