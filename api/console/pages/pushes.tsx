/** Pushes: the list (filterable), a push's page with its live funnel and timeline, cancel and recall. */
import { setTimeout as sleep } from 'node:timers/promises';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { PushView } from '../../push-view.ts';
import { type ConsoleContext, type Cx, fragment, render, restOf } from '../context.tsx';
import { ErrorBox, Notice, Time } from '../layout.tsx';
import { audienceText, messageText, Progress, PushLive, Status, TERMINAL } from '../push-parts.tsx';
import { type ConsoleEnv, currentSession, redirect } from '../session.ts';
import { MAX_STREAM_MS, POLL_IDLE_MS, POLL_RUNNING_MS, streamLimiter } from '../streams.ts';

const STATUSES = ['scheduled', 'running', 'completed', 'canceled', 'failed'];

/** The Temporal Web UI's page of a workflow. */
export const workflowLink = (base: string, namespace: string, workflowId: string) =>
  `${base.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;

function PushList(props: {
  pushes: PushView[];
  next: string | null;
  filter: Record<string, string>;
  error?: { code: string; message: string } | undefined;
}) {
  const f = props.filter;
  const nextQuery = new URLSearchParams({ ...f, cursor: props.next ?? '' }).toString();
  return (
    <div>
      <form method="get" action="/console/pushes" class="panel row" aria-label="Filter pushes">
        <div>
          <label for="status">Status</label>
          <select id="status" name="status" class="narrow">
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option value={s} selected={f.status === s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="campaignId">Campaign id</label>
          <input id="campaignId" name="campaignId" value={f.campaignId ?? ''} class="narrow" size={38} />
        </div>
        <div>
          <label for="createdFrom">Created from (UTC)</label>
          <input id="createdFrom" name="createdFrom" type="date" value={f.createdFrom ?? ''} class="narrow" />
        </div>
        <div>
          <label for="createdTo">Created before (UTC)</label>
          <input id="createdTo" name="createdTo" type="date" value={f.createdTo ?? ''} class="narrow" />
        </div>
        <button type="submit">Filter</button>
        <a class="button secondary" href="/console/compose">
          New push
        </a>
      </form>
      <ErrorBox error={props.error} />
      {props.pushes.length === 0 ? (
        <p class="muted">No pushes match.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="muted">Newest first</caption>
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Status</th>
                <th scope="col">Message</th>
                <th scope="col">Audience</th>
                <th scope="col">Delivered</th>
                <th scope="col" class="num">
                  Audience
                </th>
                <th scope="col" class="num">
                  Online
                </th>
                <th scope="col" class="num">
                  Stored
                </th>
                <th scope="col" class="num">
                  Acked
                </th>
              </tr>
            </thead>
            <tbody>
              {props.pushes.map((p) => {
                const c = p.counters;
                return (
                  <tr>
                    <td>
                      <a href={`/console/pushes/${p.id}`}>
                        <Time at={p.createdAt} />
                      </a>
                    </td>
                    <td>
                      <Status status={p.status} />
                    </td>
                    <td>{messageText(p.message)}</td>
                    <td>
                      <code>{audienceText(p.audience)}</code>
                    </td>
                    <td>
                      <Progress
                        counters={p.counters as Record<string, unknown>}
                        label={`Delivered of push ${p.id}`}
                      />
                    </td>
                    <td class="num">{c.audience}</td>
                    <td class="num">{c.deliveredOnline}</td>
                    <td class="num">{c.storedOffline}</td>
                    <td class="num">{c.acked}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {props.next && (
        <p>
          <a href={`/console/pushes?${nextQuery}`}>Older pushes →</a>
        </p>
      )}
    </div>
  );
}

function PushPage(props: {
  push: PushView;
  csrf: string;
  temporalLink: string | undefined;
  notice?: string | undefined;
  error?: { code: string; message: string } | undefined;
}) {
  const p = props.push;
  const live = !TERMINAL.has(p.status) || (p.expiresAt !== null && p.expiredAt === null && !p.recalledAt);
  return (
    <div>
      <Notice text={props.notice} />
      <ErrorBox error={props.error} />
      <p class="muted">
        Push <code>{p.id}</code>
        {p.campaignId && (
          <span>
            {' '}
            · step of <a href={`/console/campaigns/${p.campaignId}`}>campaign</a>
          </span>
        )}
        {' · '}
        {props.temporalLink ? (
          <a href={props.temporalLink} target="_blank" rel="noopener noreferrer">
            Workflow in the Temporal UI
          </a>
        ) : (
          <span>
            workflow <code>{p.workflowId}</code>
          </span>
        )}
      </p>
      <section
        id="live"
        aria-label="Progress"
        hx-ext={live ? 'sse' : undefined}
        sse-connect={live ? `/console/pushes/${p.id}/events` : undefined}
        sse-swap={live ? 'push' : undefined}
        sse-close={live ? 'done' : undefined}
      >
        <PushLive push={p} csrf={props.csrf} />
      </section>
      <h2>Audience</h2>
      <pre>{JSON.stringify(p.audience, null, 2)}</pre>
      <h2>Message</h2>
      <pre>{JSON.stringify(p.message, null, 2)}</pre>
      <h2>Offline notification</h2>
      <pre>{JSON.stringify(p.offline, null, 2)}</pre>
      <p class="muted">Retention: {p.retentionSeconds.toLocaleString('en')} s</p>
    </div>
  );
}

export function pushesRoutes(cx: Cx) {
  const r = new Hono<ConsoleEnv>();
  const streams = streamLimiter();
  const { config } = cx.deps;
  const temporalLink = (p: PushView) =>
    cx.options.temporalUiUrl
      ? workflowLink(cx.options.temporalUiUrl, config.TEMPORAL_NAMESPACE, p.workflowId)
      : undefined;

  r.get('/pushes', async (c) => {
    const filter: Record<string, string> = {};
    for (const k of ['status', 'campaignId', 'createdFrom', 'createdTo']) {
      const v = c.req.query(k);
      if (v) filter[k] = v;
    }
    const dates = (d: string | undefined) => (d ? `${d}T00:00:00Z` : undefined);
    const result = await restOf(cx, c)<{ pushes: PushView[]; nextCursor: string | null }>(
      'GET',
      '/v1/pushes',
      {
        query: {
          status: filter.status,
          campaignId: filter.campaignId,
          createdFrom: dates(filter.createdFrom),
          createdTo: dates(filter.createdTo),
          cursor: c.req.query('cursor'),
          limit: '50',
        },
      },
    );
    const body = result.ok ? (
      <PushList pushes={result.body.pushes} next={result.body.nextCursor} filter={filter} />
    ) : (
      <PushList pushes={[]} next={null} filter={filter} error={result} />
    );
    return render(cx, c, 'Pushes', '/console/pushes', body, result.ok ? 200 : 400);
  });

  const showPush = async (
    c: ConsoleContext,
    id: string,
    extra: { notice?: string; error?: { code: string; message: string } } = {},
  ) => {
    const result = await restOf(cx, c)<PushView>('GET', `/v1/pushes/${encodeURIComponent(id)}`);
    if (!result.ok) return render(cx, c, 'Push', '/console/pushes', <ErrorBox error={result} />, 404);
    const p = result.body;
    return render(
      cx,
      c,
      `Push: ${messageText(p.message) || p.id}`,
      '/console/pushes',
      <PushPage push={p} csrf={c.get('csrf')} temporalLink={temporalLink(p)} {...extra} />,
    );
  };

  const NOTICES: Record<string, string> = {
    created: 'The push was created.',
    cancel: 'Cancel requested: the push sends nothing more.',
    recall: 'Recall requested: stored copies are withdrawn and connected apps remove the message.',
  };
  r.get('/pushes/:id', (c) => {
    const notice = NOTICES[c.req.query('done') ?? ''];
    return showPush(c, c.req.param('id'), notice ? { notice } : {});
  });

  for (const action of ['cancel', 'recall'] as const) {
    r.post(`/pushes/:id/${action}`, async (c) => {
      const id = c.req.param('id');
      const result = await restOf(cx, c)('POST', `/v1/pushes/${encodeURIComponent(id)}/${action}`);
      if (!result.ok) return showPush(c, id, { error: result });
      return redirect(c, `/console/pushes/${encodeURIComponent(id)}?done=${action}`);
    });
  }

  // Live progress: the funnel and timeline, re-rendered when the push row changes.
  r.get('/pushes/:id/events', async (c) => {
    const session = c.get('session');
    if (!streams.acquire(session.tokenHash)) return c.text('Too many live pages open in this session', 429);
    const id = c.req.param('id');
    const rest = restOf(cx, c);
    const stop = new AbortController();
    const closing = cx.options.closing;
    const onClose = () => stop.abort();
    closing?.addEventListener('abort', onClose);
    return streamSSE(c, async (stream) => {
      stream.onAbort(() => stop.abort());
      const started = Date.now();
      let last = '';
      try {
        while (!stop.signal.aborted && Date.now() - started < MAX_STREAM_MS) {
          if (!(await currentSession(c, cx.deps.database.db))) break;
          const result = await rest<PushView>('GET', `/v1/pushes/${encodeURIComponent(id)}`);
          if (!result.ok) break;
          const html = await fragment(<PushLive push={result.body} csrf={session.csrfToken} />);
          if (html !== last) {
            await stream.writeSSE({ event: 'push', data: html });
            last = html;
          }
          const settled = TERMINAL.has(result.body.status);
          await sleep(settled ? POLL_IDLE_MS : POLL_RUNNING_MS, undefined, { signal: stop.signal }).catch(
            () => {},
          );
        }
        if (!stream.aborted) await stream.writeSSE({ event: 'done', data: '' });
      } finally {
        closing?.removeEventListener('abort', onClose);
        streams.release(session.tokenHash);
      }
    });
  });

  return r;
}
