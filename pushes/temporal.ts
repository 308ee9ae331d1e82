import { WorkflowNotFoundError } from '@temporalio/client';

/**
 * The error an update gets when its workflow has already closed. The server answers NOT_FOUND ("workflow
 * execution already completed"), which @temporalio/client raises as WorkflowNotFoundError, as for an id that
 * never ran (test/push-service.test.ts checks it against the dev server).
 */
export function isClosedWorkflowError(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError;
}
