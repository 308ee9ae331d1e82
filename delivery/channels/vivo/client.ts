import { randomUUID } from 'node:crypto';
import type { Bearer } from '../../bearer.ts';
import type { ChannelClient, DeviceTarget, SendOutcome } from '../../channel.ts';
import { failed } from '../../limits.ts';
import { type ChunkAnswer, chunked, createDailyQuota, createVendorHttp, sendChunk } from '../batch-http.ts';
import { readVivoList, readVivoSingle, vivoResult } from './answers.ts';
import { createVivoAuthToken } from './auth-token.ts';
import type { VivoCredentials } from './credentials.ts';
import { type VivoNotification, vivoCustomMap, vivoCustomMapProblem, vivoMessage } from './payload.ts';

export interface VivoClientOptions {
  credentials: VivoCredentials;
  /** Default https://api-push.vivo.com.cn */
  baseUrl?: string;
  /** regIds per pushToList; default (and at most) 1000. */
  batchSize?: number;
  /** Retries of a request after throttling, 5xx and network errors; default 3. */
  maxRetries?: number;
  /** Extra trusted CA (tests). */
  ca?: string | Buffer;
}

export const VIVO_URL = 'https://api-push.vivo.com.cn';
export const VIVO_BATCH = 1000;
const JSON_TYPE = { 'content-type': 'application/json' };

/**
 * vivo Push: one device by `/message/send`; two or more by saving the message once (`/message/saveListPayload`,
 * which answers a taskId) and sending it to lists of up to 1,000 regIds (`/message/pushToList`). The taskId is
 * kept for the rendered notification, so every page of a push reuses it: vivo counts saved list payloads
 * against a daily quota of their own (10252).
 */
export function createVivoClient(opts: VivoClientOptions): ChannelClient<VivoNotification> {
  const { credentials } = opts;
  const http = createVendorHttp(opts.baseUrl ?? VIVO_URL, { ca: opts.ca });
  const authToken = createVivoAuthToken(credentials, http);
  const maxRetries = opts.maxRetries ?? 3;
  const batchSize = Math.min(VIVO_BATCH, opts.batchSize ?? VIVO_BATCH);
  const taskIds = new WeakMap<VivoNotification, Promise<{ taskId: string } | { answer: ChunkAnswer }>>();
  const quota = createDailyQuota();
  let closed = false;

  const bearer = async (): Promise<Bearer> =>
    authToken.current() ??
    (await authToken.get().catch((err: unknown) => {
      throw new Error(`AuthError: ${err instanceof Error ? err.message : String(err)}`);
    }));

  /** POSTs as the current authToken; a refused token is dropped so the retry fetches a new one. */
  async function post(path: string, body: Record<string, unknown>) {
    const token = await bearer();
    const response = await http.post(path, { ...JSON_TYPE, authToken: token.token }, JSON.stringify(body));
    const r = vivoResult(response);
    if (!r.ok && r.answer.outcome === 'reauthorize') authToken.expire(token);
    return response;
  }

  function saveList(n: VivoNotification): Promise<{ taskId: string } | { answer: ChunkAnswer }> {
    let saved = taskIds.get(n);
    if (!saved) {
      saved = (async () => {
        const message = { ...vivoMessage(n, credentials.appId), requestId: randomUUID() };
        const r = vivoResult(await post('/message/saveListPayload', message));
        if (r.ok && typeof r.body.taskId === 'string') return { taskId: r.body.taskId };
        return { answer: r.ok ? { outcome: 'retry', reason: 'NoTaskId' } : r.answer };
      })();
      taskIds.set(n, saved);
      // A failed save is not kept: the next attempt saves again.
      const current = saved;
      void current.then(
        (s) => {
          if ('answer' in s && taskIds.get(n) === current) taskIds.delete(n);
        },
        () => {
          if (taskIds.get(n) === current) taskIds.delete(n);
        },
      );
    }
    return saved;
  }

  async function attemptList(chunk: readonly DeviceTarget[], n: VivoNotification): Promise<ChunkAnswer> {
    const saved = await saveList(n);
    if ('answer' in saved) return saved.answer;
    const body = {
      appId: Number(credentials.appId),
      regIds: chunk.map((t) => t.token),
      taskId: saved.taskId,
      requestId: randomUUID(),
    };
    return readVivoList(await post('/message/pushToList', body), chunk);
  }

  async function attemptSingle(target: DeviceTarget, n: VivoNotification): Promise<ChunkAnswer> {
    const body = { ...vivoMessage(n, credentials.appId), regId: target.token, requestId: randomUUID() };
    return readVivoSingle(await post('/message/send', body), target);
  }

  return {
    async send(targets: readonly DeviceTarget[], n: VivoNotification): Promise<SendOutcome[]> {
      if (targets.length === 0) return [];
      // Checked before sending: vivo would refuse the request, for every device.
      const problem = vivoCustomMapProblem(vivoCustomMap(n));
      if (problem) return targets.map((t) => failed(t.token, problem));
      const retry = { maxRetries, closed: () => closed, quota };
      const results = await Promise.all(
        chunked(targets, batchSize).map((chunk) =>
          chunk.length === 1
            ? sendChunk(chunk, () => attemptSingle(chunk[0] as DeviceTarget, n), retry)
            : sendChunk(chunk, () => attemptList(chunk, n), retry),
        ),
      );
      return results.flat();
    },
    async close() {
      closed = true;
      await http.close();
    },
  };
}
