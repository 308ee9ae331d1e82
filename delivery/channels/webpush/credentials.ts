import { createECDH, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { z } from 'zod';
import { InvalidCredentialsError } from '../../channel.ts';

/**
 * An app's VAPID key pair (RFC 8292) and contact, as stored: raw keys in base64url, the form browsers take as
 * `applicationServerKey` and `web-push generate-vapid-keys` prints. The public key is public (every browser
 * that subscribes gets it); the private key is sealed with the rest (db/apps.ts) and never shown.
 */
export interface WebPushCredentials {
  subject: string;
  /** P-256 public key, uncompressed point (65 bytes), base64url. */
  publicKey: string;
  /** P-256 private scalar (32 bytes), base64url. */
  privateKey: string;
}

const SUBJECT_MAX = 255;

export const webPushCredentialsSchema = z.strictObject({
  subject: z
    .string()
    .max(SUBJECT_MAX)
    .refine(
      (s) => /^mailto:[^\s@]+@[^\s@]+$/.test(s) || (URL.canParse(s) && new URL(s).protocol === 'https:'),
      'subject is a mailto: address or an https: URL where push services can reach you',
    )
    .meta({ description: 'Contact of the sender, sent to push services as the VAPID `sub` claim' }),
  privateKey: z
    .string()
    .max(4096)
    .optional()
    .meta({
      description:
        'Your VAPID private key: 32 bytes in base64url (as `web-push generate-vapid-keys` prints) or a PKCS#8 PEM. ' +
        'Absent: Herald keeps the key pair it has, or generates one.',
    }),
  publicKey: z
    .string()
    .max(200)
    .optional()
    .meta({ description: 'The matching public key (base64url, 65 bytes); checked against the private key' }),
  generate: z.boolean().optional().meta({
    description: 'true: generate a new key pair even if one is set (existing subscriptions stop working)',
  }),
});

export const webPushCredentialsViewSchema = z.object({
  subject: z.string(),
  publicKey: z.string().meta({ description: 'The applicationServerKey browsers subscribe with' }),
});

/** A fresh P-256 key pair in the stored form. */
export function generateVapidKeys(): Pick<WebPushCredentials, 'publicKey' | 'privateKey'> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return rawKeys(privateKey.export({ format: 'jwk' }));
}

function rawKeys(jwk: {
  x?: string;
  y?: string;
  d?: string;
}): Pick<WebPushCredentials, 'publicKey' | 'privateKey'> {
  const part = (v: string | undefined) => Buffer.from(v ?? '', 'base64url');
  const publicKey = Buffer.concat([Buffer.from([4]), part(jwk.x), part(jwk.y)]);
  return { publicKey: publicKey.toString('base64url'), privateKey: part(jwk.d).toString('base64url') };
}

/** The key pair a private key (base64url scalar or PKCS#8 PEM) makes; throws when it is not a P-256 key. */
function keysFromPrivate(text: string): Pick<WebPushCredentials, 'publicKey' | 'privateKey'> {
  const refuse = () =>
    new InvalidCredentialsError(
      'privateKey is not a P-256 private key (32 bytes in base64url, or PKCS#8 PEM)',
    );
  if (text.includes('BEGIN')) {
    try {
      const key = createPrivateKey(text);
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
        throw refuse();
      return rawKeys(key.export({ format: 'jwk' }));
    } catch {
      throw refuse();
    }
  }
  const d = /^[A-Za-z0-9_-]+$/.test(text) ? Buffer.from(text, 'base64url') : Buffer.alloc(0);
  if (d.length !== 32) throw refuse();
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(d);
    return { publicKey: ecdh.getPublicKey().toString('base64url'), privateKey: d.toString('base64url') };
  } catch {
    throw refuse();
  }
}

/**
 * A PUT body as stored credentials. With `privateKey`: that pair (a `publicKey` given beside it must match).
 * With `generate: true`: a new pair. With neither: the subject changes and the stored pair stays (`current`),
 * or a pair is generated when there is none — so repeating the same PUT never breaks the subscriptions browsers
 * made with the key.
 */
export function storeWebPushCredentials(body: unknown, current: unknown): WebPushCredentials {
  const { subject, privateKey, publicKey, generate } = webPushCredentialsSchema.parse(body);
  if (generate && privateKey !== undefined)
    throw new InvalidCredentialsError('send either privateKey (your key pair) or generate: true, not both');
  if (publicKey !== undefined && privateKey === undefined)
    throw new InvalidCredentialsError(
      'publicKey comes with its privateKey (or leave both out to keep the pair)',
    );
  if (privateKey !== undefined) {
    const keys = keysFromPrivate(privateKey.trim());
    if (publicKey !== undefined && publicKey.replace(/=+$/, '') !== keys.publicKey)
      throw new InvalidCredentialsError('publicKey is not the public key of privateKey');
    return { subject, ...keys };
  }
  const kept = !generate && isWebPushCredentials(current) ? current : undefined;
  return {
    subject,
    ...(kept ? { publicKey: kept.publicKey, privateKey: kept.privateKey } : generateVapidKeys()),
  };
}

function isWebPushCredentials(value: unknown): value is WebPushCredentials {
  const v = value as Partial<WebPushCredentials> | undefined;
  return typeof v?.publicKey === 'string' && typeof v.privateKey === 'string';
}

/** The subject and the public key; never the private key. */
export function viewWebPushCredentials(c: WebPushCredentials): z.infer<typeof webPushCredentialsViewSchema> {
  return { subject: c.subject, publicKey: c.publicKey };
}
