export {
  backoffDelay,
  type ClientState,
  type CloseInfo,
  connectUrl,
  type EngagementAnswer,
  HeraldClient,
  type HeraldClientOptions,
  HeraldError,
  type HeraldEvents,
  type Platform,
  type ReconnectOptions,
} from './client.ts';
export { PLATFORMS } from './platforms.ts';
export {
  CloseCode,
  type Element,
  type HeraldMessage,
  PROTOCOL,
  type Recall,
  type ServerFrame,
  type Welcome,
} from './protocol.ts';
export type { WebSocketConstructor, WebSocketLike } from './socket.ts';
export { type HeraldStorage, memoryStorage } from './storage.ts';
export { SDK_VERSION } from './version.ts';
export {
  type PushManagerLike,
  type PushSubscriptionLike,
  subscribeWebPush,
  unsubscribeWebPush,
  type WebPushOptions,
  type WebPushRegistration,
  type WebPushSubscriptionJSON,
  webPushToken,
} from './webpush.ts';
