import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ApnsCredentials } from '../delivery/channels/apns/credentials.ts';
import type { FcmCredentials } from '../delivery/channels/fcm/credentials.ts';

/** An APNs auth key like the .p8 Apple hands out (EC P-256, PKCS8 PEM) and its public half for the fake. */
export interface ApnsTestKey {
  credentials: ApnsCredentials;
  /** SPKI PEM, what the fake verifies JWTs with. */
  publicKey: string;
}

export function generateApnsKey(opts: { topic?: string; keyId?: string; teamId?: string } = {}): ApnsTestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return {
    credentials: {
      keyId: opts.keyId ?? randomId(10),
      teamId: opts.teamId ?? randomId(10),
      topic: opts.topic ?? 'com.example.herald',
      privateKey,
    },
    publicKey,
  };
}

/** The fields of a Google service-account key file that matter here. */
export interface ServiceAccountJson {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  token_uri: string;
}

/** A service-account key pair; the JSON needs the fake's token URI, known only once the fake runs. */
export interface FcmTestKey {
  projectId: string;
  clientEmail: string;
  privateKey: string;
  publicKey: string;
  credentials(tokenUri: string): FcmCredentials;
}

export function generateServiceAccount(projectId = 'herald-test'): FcmTestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const clientEmail = `firebase-adminsdk-test@${projectId}.iam.gserviceaccount.com`;
  return {
    projectId,
    clientEmail,
    privateKey,
    publicKey,
    credentials(tokenUri) {
      const serviceAccount: ServiceAccountJson = {
        type: 'service_account',
        project_id: projectId,
        private_key_id: randomBytes(20).toString('hex'),
        private_key: privateKey,
        client_email: clientEmail,
        client_id: String(100000000000000000000n + BigInt(randomBytes(4).readUInt32BE())),
        token_uri: tokenUri,
      };
      return { projectId, clientEmail, serviceAccount: { ...serviceAccount } };
    },
  };
}

function randomId(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return Array.from(randomBytes(length), (b) => alphabet[b % alphabet.length]).join('');
}

let certificate: Promise<{ key: string; cert: string }> | undefined;

/**
 * One self-signed certificate for 127.0.0.1 per process, made with the openssl CLI, served by every TLS fake
 * (APNs, FCM): a client given `cert` as its CA (or NODE_EXTRA_CA_CERTS) trusts them all.
 */
export function testCertificate(): Promise<{ key: string; cert: string }> {
  certificate ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-fake-tls-'));
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    try {
      await promisify(execFile)('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyPath,
        '-out',
        certPath,
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ]);
      return { key: await readFile(keyPath, 'utf8'), cert: await readFile(certPath, 'utf8') };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return certificate;
}
