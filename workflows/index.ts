export * from './campaign.ts';
export * from './push.ts';
export * from './reconcile.ts';
export * from './schedule.ts';
export * from './webhook.ts';
