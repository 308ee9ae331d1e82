import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { installTracing } from '../core/tracing.ts';
import { seedAccounts } from './support/seed.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';

// Installed before the stack: the API, the Temporal client and the worker (all in this process) export here.
const exporter = new InMemorySpanExporter();
installTracing('herald-test', new SimpleSpanProcessor(exporter));

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.stop());

const parentOf = (s: ReadableSpan) => s.parentSpanId;
const idOf = (s: ReadableSpan) => s.spanContext().spanId;

it('joins the request, the workflow start, the workflow, its activities and statements in one trace', async () => {
  const app = await stack.newApp();
  await seedAccounts(stack.database.sql, app.id, 3);
  const api = client(stack.url, app.apiKey);
  const created = await api<{ id: string; workflowId: string }>('POST', '/v1/pushes', {
    message: { elements: [{ type: 'text', text: 'traced' }] },
    // A short retention: the workflow (and so its span) ends a second after the push completes.
    retentionSeconds: 1,
  });
  expect(created.status).toBe(201);
  await stack.temporal.workflow.getHandle(created.body.workflowId).result();

  const named = (name: string) => exporter.getFinishedSpans().find((s) => s.name === name);
  // The workflow's spans leave its sandbox through a sink after the activation that ends them.
  await waitFor(
    async () => named('RunWorkflow:pushWorkflow'),
    (s) => s !== undefined,
    10_000,
    'workflow span',
  );
  const request = named('POST /v1/pushes');
  const insert = named('db insert push');
  const start = named('StartWorkflow:pushWorkflow');
  const run = named('RunWorkflow:pushWorkflow');
  const startActivity = named('StartActivity:snapshotAudience');
  const activity = named('RunActivity:snapshotAudience');
  const snapshot = named('db snapshot push recipients');
  for (const span of [request, insert, start, run, startActivity, activity, snapshot])
    expect(span).toBeDefined();
  if (!request || !insert || !start || !run || !startActivity || !activity || !snapshot) return;

  const traceId = request.spanContext().traceId;
  for (const span of [insert, start, run, startActivity, activity, snapshot])
    expect(span.spanContext().traceId).toBe(traceId);
  expect(request.attributes['http.route']).toBe('/v1/pushes');
  expect(request.attributes['http.response.status_code']).toBe(201);
  expect(parentOf(request)).toBeUndefined();
  expect(parentOf(insert)).toBe(idOf(request));
  expect(parentOf(start)).toBe(idOf(request));
  expect(parentOf(run)).toBe(idOf(start));
  expect(parentOf(startActivity)).toBe(idOf(run));
  expect(parentOf(activity)).toBe(idOf(startActivity));
  expect(parentOf(snapshot)).toBe(idOf(activity));
});
