/**
 * Compose a push: message elements, the offline notification (with how it looks on iOS and Android), the
 * audience with a live count and sample (the API's audience preview), now or at a time, retention; then a
 * confirmation that names how many accounts it reaches, and the push is created by the REST API.
 */
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { notificationBody } from '../../../core/messages.ts';
import { CHANNELS } from '../../../delivery/registry.ts';
import { AudienceFieldset, audienceOf, FormError, groupCount } from '../audience-form.tsx';
import { type ConsoleContext, type Cx, fragment, render, restOf } from '../context.tsx';
import { type FormValues, formValues, localToIso } from '../form.ts';
import { ErrorBox, Time } from '../layout.tsx';
import { audienceText } from '../push-parts.tsx';
import type { ConsoleEnv } from '../session.ts';
import { redirect } from '../session.ts';

type Problem = { code: string; message: string };

const UNITS: Record<string, number> = { minutes: 60, hours: 3600, days: 86_400 };

/** The channels' own options keys (`apns`, `android`, …), from the registry. */
const OPTION_KEYS = [...new Set(CHANNELS.map((c) => c.optionsKey))].map((key) => ({
  key,
  labels: CHANNELS.filter((c) => c.optionsKey === key).map((c) => c.label),
}));

const json = (text: string, what: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    throw new FormError(`${what}: not valid JSON`);
  }
};

/** The message the form describes (the API validates it). */
export function messageOf(v: FormValues): { elements: unknown[] } {
  if (v.elementsJson?.trim()) {
    const elements = json(v.elementsJson, 'Elements (JSON)');
    if (!Array.isArray(elements)) throw new FormError('Elements (JSON): must be an array of elements');
    return { elements };
  }
  const elements: unknown[] = [];
  if (v.text?.trim()) elements.push({ type: 'text', text: v.text });
  if (v.imageUrl?.trim()) elements.push({ type: 'image', url: v.imageUrl.trim() });
  if (v.customData?.trim() || v.customDesc?.trim())
    elements.push({
      type: 'custom',
      data: v.customData ?? '',
      ...(v.customDesc?.trim() ? { desc: v.customDesc } : {}),
    });
  return { elements };
}

export function offlineOf(v: FormValues): Record<string, unknown> {
  const offline: Record<string, unknown> = { push: v.offlinePush === 'on' };
  for (const k of ['title', 'body', 'sound', 'ext'] as const) if (v[k]?.trim()) offline[k] = v[k];
  if (v.badge?.trim()) offline.badge = Number(v.badge);
  for (const { key, labels } of OPTION_KEYS) {
    const text = v[`opt.${key}`]?.trim();
    if (text) offline[key] = json(text, `${labels.join(' / ')} options (JSON)`);
  }
  return offline;
}

/** The body of POST /v1/pushes the form describes; FormError for what the form itself cannot say. */
export function pushBodyOf(v: FormValues): Record<string, unknown> {
  const body: Record<string, unknown> = {
    audience: audienceOf(v),
    message: messageOf(v),
    offline: offlineOf(v),
    retentionSeconds: Math.round(Number(v.retention || 0) * (UNITS[v.retentionUnit ?? 'hours'] ?? 3600)),
  };
  if (!(body.message as { elements: unknown[] }).elements.length)
    throw new FormError('Message: write a text, or add another element');
  if (v.when === 'at') {
    const at = localToIso(v.sendAt ?? '', v.tzOffset);
    if (!at) throw new FormError('Send at: choose a date and time');
    body.sendAt = at;
  }
  return body;
}

/** The defaults of a new push. */
const FRESH: FormValues = {
  offlinePush: 'on',
  audienceMode: 'all',
  when: 'now',
  retention: '24',
  retentionUnit: 'hours',
};

function PhonePreview(props: { v: FormValues }) {
  let title = props.v.title?.trim() ?? '';
  let body: string | undefined;
  try {
    const message = messageOf(props.v) as Parameters<typeof notificationBody>[0];
    body = notificationBody(message, { body: props.v.body?.trim() || undefined });
  } catch {
    body = undefined;
  }
  if (props.v.offlinePush !== 'on') return <p class="muted">No notification: stored copies only.</p>;
  if (!body) return <p class="muted">No notification text yet: add a text element or a notification body.</p>;
  if (!title) title = '';
  return (
    <div class="phones">
      <figure class="phone ios" aria-label="iOS lock screen preview">
        <div class="bar">
          <span>iOS</span>
          <span>now</span>
        </div>
        <div class="card">
          {title && <span class="title">{title}</span>}
          <span class="body">{body.length > 178 ? `${body.slice(0, 177)}…` : body}</span>
        </div>
      </figure>
      <figure class="phone android" aria-label="Android notification preview">
        <div class="bar">
          <span>Android</span>
          <span>now</span>
        </div>
        <div class="card">
          {title && <span class="title">{title}</span>}
          <span class="body">{body.length > 240 ? `${body.slice(0, 239)}…` : body}</span>
        </div>
      </figure>
    </div>
  );
}

function AudienceCount(props: { result: { count: number; sample: string[] } | Problem }) {
  const r = props.result;
  if ('code' in r) return <ErrorBox error={r} />;
  return (
    <div>
      <p>
        <span class="count" data-testid="audience-count">
          {r.count.toLocaleString('en')}
        </span>{' '}
        {r.count === 1 ? 'account matches' : 'accounts match'} now
      </p>
      {r.sample.length > 0 && (
        <div>
          <span class="muted">Among them:</span>
          <ul class="tags">
            {r.sample.map((id) => (
              <li>
                <a href={`/console/accounts?id=${encodeURIComponent(id)}`}>{id}</a>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

function Field(props: {
  v: FormValues;
  name: string;
  label: string;
  hint?: string;
  type?: string;
  textarea?: boolean;
}) {
  return (
    <div>
      <label for={props.name}>{props.label}</label>
      {props.hint && (
        <span class="hint" id={`${props.name}-hint`}>
          {props.hint}
        </span>
      )}
      {props.textarea ? (
        <textarea
          id={props.name}
          name={props.name}
          aria-describedby={props.hint ? `${props.name}-hint` : undefined}
        >
          {props.v[props.name] ?? ''}
        </textarea>
      ) : (
        <input
          id={props.name}
          name={props.name}
          type={props.type ?? 'text'}
          value={props.v[props.name] ?? ''}
          aria-describedby={props.hint ? `${props.name}-hint` : undefined}
        />
      )}
    </div>
  );
}

function ComposeForm(props: { v: FormValues; csrf: string; error?: Problem | undefined }) {
  const { v } = props;
  return (
    <form method="post" action="/console/compose">
      <input type="hidden" name="_csrf" value={props.csrf} />
      <input type="hidden" name="tzOffset" value={v.tzOffset ?? '0'} />
      <ErrorBox error={props.error} />
      <div
        hx-post="/console/compose/preview"
        hx-trigger="load, input from:closest form delay:400ms, change from:closest form"
        hx-target="#preview"
        hx-swap="innerHTML"
      />
      <div class="grid">
        <div>
          <fieldset>
            <legend>Message</legend>
            <Field
              v={v}
              name="text"
              label="Text"
              textarea
              hint="a text element; also the notification text unless a body is set"
            />
            <Field v={v} name="imageUrl" label="Image URL" hint="optional image element" type="url" />
            <Field
              v={v}
              name="customData"
              label="Custom data"
              hint="optional custom element (your app reads it)"
              textarea
            />
            <Field v={v} name="customDesc" label="Custom description" />
            <Field
              v={v}
              name="elementsJson"
              label="Elements (JSON)"
              hint="instead of the fields above: an array of elements, see docs/pushes.md"
              textarea
            />
          </fieldset>
          <fieldset>
            <legend>Offline notification</legend>
            <label class="inline">
              <input type="checkbox" name="offlinePush" checked={v.offlinePush === 'on'} />
              Notify devices that are not connected (APNs, FCM, …)
            </label>
            <Field v={v} name="title" label="Title" />
            <Field v={v} name="body" label="Body" hint="default: the message's text" textarea />
            <div class="row">
              <Field v={v} name="sound" label="Sound" />
              <Field v={v} name="badge" label="Badge" type="number" />
            </div>
            <Field v={v} name="ext" label="Ext" hint="a string your app receives with the notification" />
            {OPTION_KEYS.map(({ key, labels }) => (
              <Field
                v={v}
                name={`opt.${key}`}
                label={`${labels.join(' / ')} options (JSON)`}
                hint={`the "${key}" options of docs/pushes.md`}
                textarea
              />
            ))}
          </fieldset>
        </div>
        <div>
          <AudienceFieldset v={v} />
          <fieldset>
            <legend>When</legend>
            <label class="inline">
              <input type="radio" name="when" value="now" checked={v.when !== 'at'} />
              Now
            </label>
            <label class="inline">
              <input type="radio" name="when" value="at" checked={v.when === 'at'} />
              At a time
            </label>
            <label for="sendAt">Send at</label>
            <span class="hint" id="sendAt-hint">
              in your browser's time zone
            </span>
            <input
              aria-describedby="sendAt-hint"
              id="sendAt"
              name="sendAt"
              type="datetime-local"
              step="1"
              value={v.sendAt ?? ''}
            />
            <label for="retention">Retention</label>
            <span class="hint" id="retention-hint">
              how long offline accounts can still fetch it (at most 7 days)
            </span>
            <div class="row">
              <input
                aria-describedby="retention-hint"
                id="retention"
                name="retention"
                type="number"
                min="0"
                step="any"
                class="narrow"
                value={v.retention ?? '0'}
              />
              <select name="retentionUnit" aria-label="Retention unit" class="narrow">
                {Object.keys(UNITS).map((u) => (
                  <option value={u} selected={(v.retentionUnit ?? 'hours') === u}>
                    {u}
                  </option>
                ))}
              </select>
            </div>
          </fieldset>
          <section aria-label="Preview" aria-live="polite" id="preview" class="panel">
            <p class="muted">Counting…</p>
          </section>
        </div>
      </div>
      <div class="actions">
        <button type="submit" name="step" value="review">
          Review
        </button>
      </div>
    </form>
  );
}

function Review(props: { v: FormValues; csrf: string; body: Record<string, unknown>; count: number }) {
  const { v, body, count } = props;
  const at = body.sendAt as string | undefined;
  return (
    <form method="post" action="/console/compose">
      <input type="hidden" name="_csrf" value={props.csrf} />
      {Object.entries(v)
        .filter(([k]) => k !== 'step' && k !== 'idempotencyKey')
        .map(([k, value]) => (
          <input type="hidden" name={k} value={value} />
        ))}
      <input type="hidden" name="idempotencyKey" value={randomUUID()} />
      <div class="panel">
        <p class="count" data-testid="confirm-count">
          {at ? 'Schedule' : 'Send'} to {count.toLocaleString('en')} {count === 1 ? 'account' : 'accounts'}
        </p>
        <p>
          Audience: <code>{audienceText(body.audience)}</code>
        </p>
        {at ? (
          <p>
            At <Time at={at} />. The audience is taken when it starts: {count.toLocaleString('en')} match now.
          </p>
        ) : (
          <p>
            Now. Accounts that are connected get it at once; the others are notified and it waits for them.
          </p>
        )}
        <p>Retention: {String(body.retentionSeconds)} s</p>
        <PhonePreview v={v} />
      </div>
      <div class="actions">
        <button type="submit" name="step" value="send">
          {at ? 'Schedule' : 'Send'} to {count.toLocaleString('en')} {count === 1 ? 'account' : 'accounts'}
        </button>
        <button type="submit" name="step" value="edit" class="secondary">
          Back to edit
        </button>
      </div>
    </form>
  );
}

export function composeRoutes(cx: Cx) {
  const r = new Hono<ConsoleEnv>();
  const page = (c: ConsoleContext, v: FormValues, error?: Problem, status: 200 | 400 | 409 | 429 = 200) =>
    render(
      cx,
      c,
      'Compose a push',
      '/console/compose',
      <ComposeForm v={v} csrf={c.get('csrf')} error={error} />,
      status,
    );

  const preview = async (c: ConsoleContext, audience: unknown) => {
    const result = await restOf(cx, c)<{ count: number; sample: string[] }>('POST', '/v1/audience/preview', {
      body: { audience },
    });
    return result.ok ? result.body : { code: result.code, message: result.message };
  };

  r.get('/compose', (c) => page(c, FRESH));

  // The live count, sample and notification preview (htmx, as the form changes).
  r.post('/compose/preview', async (c) => {
    const v = formValues(await c.req.parseBody());
    let audience: unknown;
    try {
      audience = audienceOf(v);
    } catch (err) {
      if (!(err instanceof FormError)) throw err;
      return c.html(await fragment(<ErrorBox error={{ code: 'invalid_form', message: err.message }} />));
    }
    const counted = await preview(c, audience);
    return c.html(
      await fragment(
        <div>
          <h2>Who receives it</h2>
          <AudienceCount result={counted} />
          <h2>Notification</h2>
          <PhonePreview v={v} />
        </div>,
      ),
    );
  });

  r.post('/compose', async (c) => {
    const v = formValues(await c.req.parseBody());
    const step = v.step ?? 'review';
    delete v.step;
    if (step === 'addGroup' || step === 'removeGroup') {
      v.groups = String(groupCount(v) + (step === 'addGroup' ? 1 : -1));
      v.audienceMode = 'build';
      return page(c, v);
    }
    if (step === 'edit') return page(c, v);
    let body: Record<string, unknown>;
    try {
      body = pushBodyOf(v);
    } catch (err) {
      if (!(err instanceof FormError)) throw err;
      return page(c, v, { code: 'invalid_form', message: err.message }, 400);
    }
    if (step === 'send') {
      const created = await restOf(cx, c)<{ id: string }>('POST', '/v1/pushes', {
        body,
        idempotencyKey: v.idempotencyKey || undefined,
      });
      if (!created.ok)
        return page(c, v, created, created.status === 429 ? 429 : created.status === 409 ? 409 : 400);
      return redirect(c, `/console/pushes/${created.body.id}?done=created`);
    }
    const counted = await preview(c, body.audience);
    if ('code' in counted) return page(c, v, counted, 400);
    return render(
      cx,
      c,
      'Confirm the push',
      '/console/compose',
      <Review v={v} csrf={c.get('csrf')} body={body} count={counted.count} />,
    );
  });
  return r;
}
