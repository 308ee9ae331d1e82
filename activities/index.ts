import { audienceActivities } from './audience.ts';
import { campaignActivities } from './campaign.ts';
import type { ActivityDeps } from './deps.ts';
import { lifecycleActivities } from './lifecycle.ts';
import { offlineActivities } from './offline.ts';
import { reconcileActivities } from './reconcile.ts';
import { scheduleActivities } from './schedule.ts';
import { webhookActivities } from './webhooks.ts';

export type { ProviderRegistry } from '../delivery/registry.ts';
export type { ActivityDeps, ActivityTesting } from './deps.ts';

/** Every activity the workflows call, bound to the worker's connections. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...audienceActivities(deps),
    ...campaignActivities(deps),
    ...lifecycleActivities(deps),
    ...offlineActivities(deps),
    ...reconcileActivities(deps),
    ...webhookActivities(deps),
    ...scheduleActivities(deps),
  };
}

export type PushActivities = ReturnType<typeof createActivities>;
