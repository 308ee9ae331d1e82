/** Campaigns: the list, and a campaign's steps on a timeline with reschedule and cancel. */
import { Hono } from 'hono';
import type { PushView } from '../../push-view.ts';
import { type ConsoleContext, type Cx, render, restOf } from '../context.tsx';
import { formValues, localToIso } from '../form.ts';
import { ErrorBox, Notice, Time } from '../layout.tsx';
import { audienceText, messageText, Progress, Status } from '../push-parts.tsx';
import { type ConsoleEnv, redirect } from '../session.ts';

interface CampaignView {
  id: string;
  name: string;
  status: string;
  createdAt: string;
  canceledAt: string | null;
  workflowId: string;
  steps: { index: number; at: string | null; push: PushView }[];
}

type Problem = { code: string; message: string };

function CampaignList(props: { campaigns: CampaignView[]; next: string | null }) {
  if (!props.campaigns.length)
    return <p class="muted">No campaigns yet. Create them with POST /v1/campaigns (see the API docs).</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Status</th>
            <th scope="col" class="num">
              Steps
            </th>
            <th scope="col">Next step</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {props.campaigns.map((c) => {
            const next = c.steps.find((s) => s.push.status === 'scheduled');
            return (
              <tr>
                <td>
                  <a href={`/console/campaigns/${c.id}`}>{c.name}</a>
                </td>
                <td>
                  <Status status={c.status} />
                </td>
                <td class="num">{c.steps.length}</td>
                <td>
                  <Time at={next?.at} />
                </td>
                <td>
                  <Time at={c.createdAt} />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {props.next && (
        <p>
          <a href={`/console/campaigns?cursor=${encodeURIComponent(props.next)}`}>Older campaigns →</a>
        </p>
      )}
    </div>
  );
}

function CampaignPage(props: {
  campaign: CampaignView;
  csrf: string;
  notice?: string | undefined;
  error?: Problem | undefined;
}) {
  const c = props.campaign;
  const steps = [...c.steps].sort((a, b) => Date.parse(a.at ?? '') - Date.parse(b.at ?? ''));
  return (
    <div>
      <Notice text={props.notice} />
      <ErrorBox error={props.error} />
      <p>
        <Status status={c.status} /> <span class="muted">created</span> <Time at={c.createdAt} />
        {c.canceledAt && (
          <span>
            {' '}
            · <span class="muted">canceled</span> <Time at={c.canceledAt} />
          </span>
        )}
      </p>
      <h2>Steps</h2>
      <ol class="timeline">
        {steps.map((s) => (
          <li class={s.push.status === 'scheduled' ? 'future' : undefined} data-step={String(s.index)}>
            <span class="when">
              Step {s.index + 1} · <Time at={s.at} />
            </span>
            <a href={`/console/pushes/${s.push.id}`}>{messageText(s.push.message) || s.push.id}</a>{' '}
            <Status status={s.push.status} />{' '}
            <Progress
              counters={s.push.counters as Record<string, unknown>}
              label={`Delivered, step ${s.index + 1}`}
            />
            <div class="muted">
              to <code>{audienceText(s.push.audience)}</code>
            </div>
            {s.push.status === 'scheduled' && c.status === 'active' && (
              <form method="post" action={`/console/campaigns/${c.id}/reschedule`} class="row">
                <input type="hidden" name="_csrf" value={props.csrf} />
                <input type="hidden" name="index" value={String(s.index)} />
                <input type="hidden" name="tzOffset" value="0" />
                <div>
                  <label for={`at-${s.index}`}>New time for step {s.index + 1}</label>
                  <span class="hint">in your browser's time zone</span>
                  <input
                    id={`at-${s.index}`}
                    name="at"
                    type="datetime-local"
                    step="1"
                    required
                    class="narrow"
                  />
                </div>
                <button type="submit" class="secondary">
                  Reschedule
                </button>
              </form>
            )}
          </li>
        ))}
      </ol>
      {c.status === 'active' && (
        <form method="post" action={`/console/campaigns/${c.id}/cancel`} class="panel">
          <input type="hidden" name="_csrf" value={props.csrf} />
          <label class="inline">
            <input type="checkbox" name="includeRunning" />
            Also stop the step that is running now
          </label>
          <div class="actions">
            <button type="submit" class="danger" data-confirm="Cancel the steps still to come?">
              Cancel campaign
            </button>
          </div>
        </form>
      )}
    </div>
  );
}

export function campaignsRoutes(cx: Cx) {
  const r = new Hono<ConsoleEnv>();
  r.get('/campaigns', async (c) => {
    const result = await restOf(cx, c)<{ campaigns: CampaignView[]; nextCursor: string | null }>(
      'GET',
      '/v1/campaigns',
      {
        query: { cursor: c.req.query('cursor'), limit: '20' },
      },
    );
    const body = result.ok ? (
      <CampaignList campaigns={result.body.campaigns} next={result.body.nextCursor} />
    ) : (
      <ErrorBox error={result} />
    );
    // Schedules (repeating pushes) get their list beside this one when they exist.
    return render(cx, c, 'Campaigns', '/console/campaigns', body);
  });

  const show = async (c: ConsoleContext, id: string, extra: { notice?: string; error?: Problem } = {}) => {
    const result = await restOf(cx, c)<CampaignView>('GET', `/v1/campaigns/${encodeURIComponent(id)}`);
    if (!result.ok) return render(cx, c, 'Campaign', '/console/campaigns', <ErrorBox error={result} />, 404);
    return render(
      cx,
      c,
      `Campaign: ${result.body.name}`,
      '/console/campaigns',
      <CampaignPage campaign={result.body} csrf={c.get('csrf')} {...extra} />,
      extra.error ? 409 : 200,
    );
  };

  const NOTICES: Record<string, string> = {
    rescheduled: 'The step was rescheduled.',
    canceled: 'The campaign was canceled.',
  };
  r.get('/campaigns/:id', (c) => {
    const notice = NOTICES[c.req.query('done') ?? ''];
    return show(c, c.req.param('id'), notice ? { notice } : {});
  });

  r.post('/campaigns/:id/reschedule', async (c) => {
    const id = c.req.param('id');
    const v = formValues(await c.req.parseBody());
    const at = localToIso(v.at ?? '', v.tzOffset);
    if (!at)
      return show(c, id, { error: { code: 'invalid_form', message: 'New time: choose a date and time' } });
    const result = await restOf(cx, c)('PATCH', `/v1/campaigns/${encodeURIComponent(id)}`, {
      body: { steps: [{ index: Number(v.index), at }] },
    });
    if (!result.ok) return show(c, id, { error: result });
    return redirect(c, `/console/campaigns/${encodeURIComponent(id)}?done=rescheduled`);
  });

  r.post('/campaigns/:id/cancel', async (c) => {
    const id = c.req.param('id');
    const v = formValues(await c.req.parseBody());
    const result = await restOf(cx, c)('POST', `/v1/campaigns/${encodeURIComponent(id)}/cancel`, {
      query: { includeRunning: v.includeRunning === 'on' ? 'true' : 'false' },
    });
    if (!result.ok) return show(c, id, { error: result });
    return redirect(c, `/console/campaigns/${encodeURIComponent(id)}?done=canceled`);
  });
  return r;
}
