import { providerRegistry } from '../../delivery/registry.ts';
import { type FakeApns, startFakeApns } from '../../fakes/apns.ts';
import { type FakeFcm, startFakeFcm } from '../../fakes/fcm.ts';
import { generateApnsKey, generateServiceAccount } from '../../fakes/keys.ts';
import { startTestStack, type TestStack } from './stack.ts';

export interface FakesStack {
  stack: TestStack;
  apns: FakeApns;
  fcm: FakeFcm;
  /** The APNs key the fake checks, with the credentials body for `PUT …/credentials/apns`. */
  apnsKey: ReturnType<typeof generateApnsKey>;
  /** The FCM service account the fake checks. */
  serviceAccount: ReturnType<typeof generateServiceAccount>;
  stop(): Promise<void>;
}

/**
 * The test stack with its worker's APNs and FCM clients pointed at local fakes that check Apple's and Google's
 * authentication: one fake APNs for both environments, and the fake FCM's token endpoint allowed.
 */
export async function startStackWithFakes(opts: {
  topic: string;
  projectId: string;
  /** More settings of the stack. */
  env?: Record<string, string>;
}): Promise<FakesStack> {
  const apnsKey = generateApnsKey({ topic: opts.topic, keyId: 'KEY1234567', teamId: 'TEAM123456' });
  const serviceAccount = generateServiceAccount(opts.projectId);
  const apns = await startFakeApns({
    publicKey: apnsKey.publicKey,
    keyId: 'KEY1234567',
    teamId: 'TEAM123456',
    topic: opts.topic,
  });
  const fcm = await startFakeFcm({
    projectId: opts.projectId,
    clientEmail: serviceAccount.clientEmail,
    publicKey: serviceAccount.publicKey,
  });
  const stack = await startTestStack({
    providers: providerRegistry({
      apnsProductionUrl: apns.url,
      apnsSandboxUrl: apns.url,
      apnsCa: apns.ca,
      fcmUrl: fcm.url,
      fcmCa: fcm.ca,
      fcmAllowedTokenUris: [fcm.tokenUri],
    }),
    env: { HERALD_ALLOWED_TOKEN_URIS: fcm.tokenUri, ...opts.env },
  });
  return {
    stack,
    apns,
    fcm,
    apnsKey,
    serviceAccount,
    async stop() {
      await stack.stop();
      await apns.close();
      await fcm.close();
    },
  };
}
