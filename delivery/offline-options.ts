import { commonOfflineOptionsSchema } from '../core/offline-options.ts';
import { channelOptionsShape } from './registry.ts';

/** A push's `offline`: the common options plus each registered channel's own, under its key (`apns`, `android`). */
export const offlineOptionsSchema = commonOfflineOptionsSchema.extend(channelOptionsShape());
