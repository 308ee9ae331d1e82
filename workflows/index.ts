export * from './campaign.ts';
export * from './push.ts';
