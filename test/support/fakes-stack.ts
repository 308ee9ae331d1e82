import { randomBytes } from 'node:crypto';
import type { OppoCredentials } from '../../delivery/channels/oppo/credentials.ts';
import type { VivoCredentials } from '../../delivery/channels/vivo/credentials.ts';
import type { XiaomiCredentials } from '../../delivery/channels/xiaomi/credentials.ts';
import { providerRegistry } from '../../delivery/registry.ts';
import { type FakeApns, startFakeApns } from '../../fakes/apns.ts';
import { type FakeFcm, startFakeFcm } from '../../fakes/fcm.ts';
import { type FakeHms, startFakeHms } from '../../fakes/hms.ts';
import { type FakeHonor, startFakeHonor } from '../../fakes/honor.ts';
import { generateApnsKey, generateServiceAccount } from '../../fakes/keys.ts';
import { type FakeOppo, startFakeOppo } from '../../fakes/oppo.ts';
import { type FakeVivo, startFakeVivo } from '../../fakes/vivo.ts';
import { type FakeWebPush, startFakeWebPush } from '../../fakes/webpush.ts';
import { type FakeXiaomi, startFakeXiaomi } from '../../fakes/xiaomi.ts';
import { startTestStack, type TestStack } from './stack.ts';

export interface FakesStack {
  stack: TestStack;
  apns: FakeApns;
  fcm: FakeFcm;
  hms: FakeHms;
  honor: FakeHonor;
  xiaomi: FakeXiaomi;
  oppo: FakeOppo;
  vivo: FakeVivo;
  /** The bodies of `PUT …/credentials/hms` and `…/credentials/honor` the fakes accept. */
  hmsCredentials: { clientId: string; clientSecret: string };
  honorCredentials: { appId: string; clientId: string; clientSecret: string };
  /** A push service with the browsers' side of its subscriptions (fake.subscribe), allowed as the only one. */
  webpush: FakeWebPush;
  /** The bodies of `PUT …/credentials/<vendor>` that the Xiaomi, OPPO and vivo fakes accept. */
  vendorCredentials: { xiaomi: XiaomiCredentials; oppo: OppoCredentials; vivo: VivoCredentials };
  /** The APNs key the fake checks, with the credentials body for `PUT …/credentials/apns`. */
  apnsKey: ReturnType<typeof generateApnsKey>;
  /** The FCM service account the fake checks. */
  serviceAccount: ReturnType<typeof generateServiceAccount>;
  stop(): Promise<void>;
}

const secret = () => randomBytes(16).toString('hex');

/**
 * The test stack with its worker's APNs, FCM, Huawei, Honor, Xiaomi, OPPO and vivo clients pointed at local
 * fakes that check each provider's authentication: one fake APNs for both environments, and the fake FCM's
 * token endpoint allowed; and a fake Web Push service, the one push service subscriptions may name
 * (HERALD_WEBPUSH_PUSH_SERVICES).
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
  const hmsCredentials = { clientId: '101704409', clientSecret: 'hms-test-secret' };
  const honorCredentials = {
    appId: '104443651',
    clientId: 'honor-client-1',
    clientSecret: 'honor-test-secret',
  };
  const hms = await startFakeHms(hmsCredentials);
  const honor = await startFakeHonor(honorCredentials);
  const webpush = await startFakeWebPush();
  const vendorCredentials = {
    xiaomi: { appSecret: secret(), packageName: opts.topic },
    oppo: { appKey: secret(), masterSecret: secret() },
    vivo: { appId: '10004', appKey: secret(), appSecret: secret() },
  };
  const xiaomi = await startFakeXiaomi(vendorCredentials.xiaomi);
  const oppo = await startFakeOppo(vendorCredentials.oppo);
  const vivo = await startFakeVivo(vendorCredentials.vivo);
  const stack = await startTestStack({
    providers: providerRegistry({
      apnsProductionUrl: apns.url,
      apnsSandboxUrl: apns.url,
      apnsCa: apns.ca,
      fcmUrl: fcm.url,
      fcmCa: fcm.ca,
      fcmAllowedTokenUris: [fcm.tokenUri],
      hmsUrl: hms.url,
      hmsTokenUrl: hms.tokenUrl,
      hmsCa: hms.ca,
      honorUrl: honor.url,
      honorTokenUrl: honor.tokenUrl,
      honorCa: honor.ca,
      webPushServices: [webpush.url],
      webPushCa: webpush.ca,
      xiaomiUrl: xiaomi.url,
      xiaomiCa: xiaomi.ca,
      oppoUrl: oppo.url,
      oppoCa: oppo.ca,
      vivoUrl: vivo.url,
      vivoCa: vivo.ca,
    }),
    env: { HERALD_ALLOWED_TOKEN_URIS: fcm.tokenUri, HERALD_WEBPUSH_PUSH_SERVICES: webpush.url, ...opts.env },
  });
  return {
    stack,
    apns,
    fcm,
    hms,
    honor,
    hmsCredentials,
    honorCredentials,
    webpush,
    xiaomi,
    oppo,
    vivo,
    vendorCredentials,
    apnsKey,
    serviceAccount,
    async stop() {
      await stack.stop();
      await apns.close();
      await fcm.close();
      await hms.close();
      await honor.close();
      await webpush.close();
      await Promise.all([xiaomi.close(), oppo.close(), vivo.close()]);
    },
  };
}
