import { snapshot } from '../pushes/lifecycle.ts';
import type { ActivityDeps } from './deps.ts';

export function audienceActivities({ database }: ActivityDeps) {
  return {
    /**
     * Copies the matching accounts into the push's own recipient partition inside PostgreSQL and counts them
     * (pushes/lifecycle.ts snapshot). Idempotent: a push whose snapshot committed is never snapshotted again.
     */
    async snapshotAudience({
      appId,
      pushId,
    }: {
      appId: string;
      pushId: string;
    }): Promise<{ audience: number }> {
      return snapshot(database.db, { appId, pushId });
    },
  };
}
