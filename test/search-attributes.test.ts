import type { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerSearchAttributes } from '../cli/temporal-setup.ts';
import { seedAccounts } from './support/seed.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';

type Push = { id: string; status: string; workflowId: string };
type Campaign = { id: string; workflowId: string; status: string; steps: { push: Push }[] };

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.stop());

const text = (t: string) => ({ elements: [{ type: 'text', text: t }] });

/** The workflow ids the visibility query lists (sorted); visibility is eventually consistent, so poll. */
async function listed(query: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of stack.temporal.workflow.list({ query })) ids.push(wf.workflowId);
  return ids.sort();
}
const until = (query: string, expected: string[]) =>
  waitFor(
    () => listed(query),
    (ids) => JSON.stringify(ids) === JSON.stringify([...expected].sort()),
    30_000,
    `${query} lists ${expected.join(', ')}`,
  );

describe('Temporal search attributes', () => {
  it('finds a push by app and status, a campaign by its id, and follows the status', async () => {
    const app = await stack.newApp();
    const other = await stack.newApp();
    await seedAccounts(stack.database.sql, app.id, 3);
    const api = client(stack.url, app.apiKey);
    const otherApi = client(stack.url, other.apiKey);

    const a = await api<Push>('POST', '/v1/pushes', { message: text('a') });
    const b = await api<Push>('POST', '/v1/pushes', { message: text('b') });
    const elsewhere = await otherApi<Push>('POST', '/v1/pushes', { message: text('other app') });
    const later = await api<Push>('POST', '/v1/pushes', {
      message: text('later'),
      sendAt: new Date(Date.now() + 120_000).toISOString(),
    });
    const campaign = await api<Campaign>('POST', '/v1/campaigns', {
      name: 'found',
      steps: [{ at: new Date(Date.now() + 120_000).toISOString(), message: text('step') }],
    });
    for (const r of [a, b, elsewhere, later, campaign]) expect(r.status).toBe(201);

    await until(`HeraldAppId = "${app.id}" AND HeraldStatus = "completed"`, [
      a.body.workflowId,
      b.body.workflowId,
    ]);
    await until(`HeraldAppId = "${other.id}" AND HeraldStatus = "completed"`, [elsewhere.body.workflowId]);
    await until(`HeraldAppId = "${app.id}" AND HeraldStatus = "scheduled" AND HeraldCampaignId IS NULL`, [
      later.body.workflowId,
    ]);
    await until(`HeraldCampaignId = "${campaign.body.id}"`, [campaign.body.workflowId]);
    await until(`HeraldPushId = "${a.body.id}"`, [a.body.workflowId]);

    expect((await api('POST', `/v1/pushes/${later.body.id}/cancel`)).status).toBe(202);
    await until(`HeraldAppId = "${app.id}" AND HeraldStatus = "canceled"`, [later.body.workflowId]);
    expect((await api('POST', `/v1/campaigns/${campaign.body.id}/cancel`)).status).toBe(202);

    const described = await stack.temporal.workflow.getHandle(a.body.workflowId).describe();
    expect(await described.staticSummary()).toMatch(/^Push to all accounts · now/);
  });

  it('herald temporal setup registers only what is missing (the dev server has them all)', async () => {
    const again = await registerSearchAttributes(stack.temporal.connection as Connection, 'default');
    expect(again.added).toEqual([]);
    expect(again.present.sort()).toEqual(
      ['HeraldAppId', 'HeraldCampaignId', 'HeraldPushId', 'HeraldScheduleId', 'HeraldStatus'].sort(),
    );
  });
});
