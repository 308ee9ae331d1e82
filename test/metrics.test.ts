import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMetricsServer } from '../cli/metrics-server.ts';
import { createLogger } from '../core/log.ts';
import { addMetricsSource, metricsResponse } from '../core/metrics.ts';
import { parsePrometheus, type Samples, seriesValue } from './support/prometheus.ts';
import { recordingProviders } from './support/recorder.ts';
import { seedAccounts } from './support/seed.ts';
import { client, startTestStack, type TestStack, waitFor } from './support/stack.ts';
import { TestSocket } from './support/ws.ts';

type Push = {
  id: string;
  status: string;
  counters: {
    audience: number;
    deliveredOnline: number;
    storedOffline: number;
    acked: number;
    fcm: { sent: number; failed: number };
  };
};

const providers = recordingProviders();
let stack: TestStack;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  stack = await startTestStack({ providers: providers.registry, gateway: { heartbeatMs: 1000 } });
});
afterAll(async () => {
  for (const s of sockets) s.ws.close();
  await stack?.stop();
});

async function scrape(): Promise<Samples> {
  const res = await fetch(`${stack.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

describe('/metrics', () => {
  it('parses as Prometheus text and its counters move by what one push did', async () => {
    const app = await stack.newApp();
    await seedAccounts(stack.database.sql, app.id, 4, { deviceEvery: 1 });
    const api = client(stack.url, app.apiKey);
    const token = (await api<{ token: string }>('POST', '/v1/accounts/u1/token', { ttlSeconds: 600 })).body
      .token;
    const socket = await TestSocket.open(stack.wsUrl, token);
    sockets.push(socket);
    await socket.synced();

    const before = await scrape();
    expect(seriesValue(before, 'herald_ws_connections')).toBe(1);
    expect(seriesValue(before, 'herald_process_resident_memory_bytes')).toBeGreaterThan(0);

    const created = await api<Push>('POST', '/v1/pushes', {
      message: { elements: [{ type: 'text', text: 'counted' }] },
      retentionSeconds: 60,
    });
    expect(created.status).toBe(201);
    const pushId = created.body.id;
    const frame = await socket.frame('message', (f) => f.pushId === pushId);
    socket.send({ type: 'ack', ids: [frame.pushId], ref: 'counted' });
    const push = await waitFor(
      () => api<Push>('GET', `/v1/pushes/${pushId}`).then((r) => r.body),
      (p) => p.status === 'completed' && p.counters.acked === 1,
      30_000,
      'completed and acked',
    );
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) =>
      seriesValue(after, name, labels) - seriesValue(before, name, labels);

    for (const status of ['scheduled', 'running', 'completed'])
      expect(delta('herald_pushes_total', { status, app: '' }), status).toBe(1);
    const recipients = (event: string) => delta('herald_push_recipients_total', { event, app: '' });
    expect(push.counters).toMatchObject({ audience: 4, storedOffline: 3, deliveredOnline: 1, acked: 1 });
    expect(recipients('snapshotted')).toBe(4);
    expect(recipients('stored')).toBe(3);
    expect(recipients('delivered_online')).toBe(1);
    expect(recipients('acked')).toBe(1);
    expect(push.counters.fcm.sent).toBe(3);
    expect(delta('herald_notifications_total', { channel: 'fcm', outcome: 'sent' })).toBe(3);
    expect(delta('herald_ws_frames_total', { direction: 'out' })).toBeGreaterThanOrEqual(1);
    expect(delta('herald_ws_frames_total', { direction: 'in' })).toBeGreaterThanOrEqual(1);
    expect(delta('herald_gateway_fanout_seconds_count')).toBeGreaterThanOrEqual(1);
    for (const activity of ['snapshotAudience', 'publishToGateways', 'deliverOfflinePages', 'completePush'])
      expect(
        delta('herald_activity_duration_seconds_count', { activity, result: 'ok' }),
        activity,
      ).toBeGreaterThanOrEqual(1);
    expect(
      delta('herald_http_request_seconds_count', { method: 'POST', route: '/v1/pushes', status: '201' }),
    ).toBe(1);
  });

  it('appends other sources (the Temporal SDK runtime) and leaves out one that fails', async () => {
    addMetricsSource(async () => '# TYPE temporal_test_total counter\ntemporal_test_total{a="b"} 7\n');
    addMetricsSource(async () => {
      throw new Error('runtime gone');
    });
    const samples = parsePrometheus((await metricsResponse(undefined, undefined)).body);
    expect(seriesValue(samples, 'temporal_test_total', { a: 'b' })).toBe(7);
    expect(seriesValue(samples, 'herald_ws_connections')).toBeGreaterThanOrEqual(0);
  });

  it('answers only the bearer token when one is configured, on the api and the worker listener', async () => {
    expect((await metricsResponse(undefined, 'metrics-secret')).status).toBe(401);
    expect((await metricsResponse('Bearer wrong', 'metrics-secret')).status).toBe(401);
    const ok = await metricsResponse('Bearer metrics-secret', 'metrics-secret');
    expect(ok.status).toBe(200);
    parsePrometheus(ok.body);

    const server = await startMetricsServer({
      host: '127.0.0.1',
      port: 0,
      token: 'metrics-secret',
      log: createLogger('silent'),
    });
    try {
      const url = `http://127.0.0.1:${server.port}/metrics`;
      expect((await fetch(url)).status).toBe(401);
      const res = await fetch(url, { headers: { authorization: 'Bearer metrics-secret' } });
      expect(res.status).toBe(200);
      const samples = parsePrometheus(await res.text());
      expect(seriesValue(samples, 'herald_process_cpu_user_seconds_total')).toBeGreaterThan(0);
      expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
    } finally {
      await server.stop();
    }
  });
});
