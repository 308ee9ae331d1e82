import { importPKCS8 } from 'jose';
import { InvalidCredentialsError } from '../channel.ts';

/** Refuses a PEM that is not a PKCS#8 private key of the kind the channel signs with. */
export async function checkPrivateKey(pem: string, alg: 'ES256' | 'RS256', what: string): Promise<void> {
  try {
    await importPKCS8(pem, alg);
  } catch {
    throw new InvalidCredentialsError(
      `${what} is not a ${alg === 'ES256' ? 'P-256 (.p8)' : 'RSA'} private key in PKCS#8 PEM`,
    );
  }
}
