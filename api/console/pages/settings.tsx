/**
 * App settings: name and quotas (within the operator's ceilings; an operator also sets the limits beyond them),
 * each channel's credentials (set, replace, remove; never shown back), and key rotation.
 */
import { Hono } from 'hono';
import type { Child } from 'hono/jsx';
import { updateConsoleSession } from '../../../db/console-sessions.ts';
import { CHANNELS, channelNamed } from '../../../delivery/registry.ts';
import { type ConsoleContext, type Cx, render, restOf } from '../context.tsx';
import { CredentialsForm, CredentialsFormError, credentialsBody } from '../credentials-form.tsx';
import { formValues } from '../form.ts';
import { ErrorBox, Notice } from '../layout.tsx';
import { type ConsoleEnv, redirect } from '../session.ts';

interface AppView {
  id: string;
  name: string;
  sdkAppId: number;
  adminIdentifier: string;
  dailyPushQuota: number;
  minPushIntervalMs: number;
  attributeSlots: number;
  credentials: Record<string, Record<string, unknown> | null>;
}

type Problem = { code: string; message: string };

function Settings(props: {
  app: AppView;
  csrf: string;
  root: boolean;
  notice?: string | undefined;
  error?: Problem | undefined;
  newKey?: { kind: string; key: string; previousExpiresAt: string | null } | undefined;
}) {
  const { app, csrf } = props;
  const hidden = <input type="hidden" name="_csrf" value={csrf} />;
  return (
    <div>
      <Notice text={props.notice} />
      <ErrorBox error={props.error} />
      {props.newKey && (
        <div class="panel" role="status">
          <h2>New {props.newKey.kind === 'api' ? 'API' : 'secret'} key</h2>
          <p>Copy it now: it is not shown again.</p>
          <p class="secret" data-testid="new-key">
            {props.newKey.key}
          </p>
          <p class="muted">
            {props.newKey.previousExpiresAt
              ? `The previous key keeps working until ${props.newKey.previousExpiresAt}.`
              : 'The previous key stopped working.'}
          </p>
        </div>
      )}
      <p class="muted">
        App <code>{app.id}</code> · sdkAppId {app.sdkAppId} · {app.attributeSlots} attribute slots
      </p>
      <div class="grid">
        <form method="post" action="/console/settings" class="panel">
          {hidden}
          <h2>App</h2>
          <label for="name">Name</label>
          <input id="name" name="name" value={app.name} maxlength={100} required />
          <label for="dailyPushQuota">Daily push quota</label>
          <span class="hint" id="dailyPushQuota-hint">
            pushes per UTC day
          </span>
          <input
            aria-describedby="dailyPushQuota-hint"
            id="dailyPushQuota"
            name="dailyPushQuota"
            type="number"
            min="1"
            value={String(app.dailyPushQuota)}
          />
          <label for="minPushIntervalMs">Minimum interval between pushes</label>
          <span class="hint" id="minPushIntervalMs-hint">
            milliseconds
          </span>
          <input
            aria-describedby="minPushIntervalMs-hint"
            id="minPushIntervalMs"
            name="minPushIntervalMs"
            type="number"
            min="0"
            value={String(app.minPushIntervalMs)}
          />
          <label for="adminIdentifier">Tencent admin identifier</label>
          <span class="hint" id="adminIdentifier-hint">
            for the v4 layer
          </span>
          <input
            aria-describedby="adminIdentifier-hint"
            id="adminIdentifier"
            name="adminIdentifier"
            value={app.adminIdentifier}
            maxlength={32}
          />
          <div class="actions">
            <button type="submit">Save</button>
          </div>
        </form>
        {props.root && (
          <form method="post" action="/console/settings/limits" class="panel">
            {hidden}
            <h2>Operator limits</h2>
            <p class="muted">Beyond the installation's ceilings (root key only).</p>
            <label for="limitQuota">Daily push quota</label>
            <input
              id="limitQuota"
              name="dailyPushQuota"
              type="number"
              min="1"
              value={String(app.dailyPushQuota)}
            />
            <label for="limitInterval">Minimum interval (ms)</label>
            <input
              id="limitInterval"
              name="minPushIntervalMs"
              type="number"
              min="0"
              value={String(app.minPushIntervalMs)}
            />
            <div class="actions">
              <button type="submit">Set limits</button>
            </div>
          </form>
        )}
      </div>
      <h2>Channels</h2>
      {CHANNELS.map((channel) => {
        const set = app.credentials[channel.name];
        return (
          <section class="panel" aria-labelledby={`ch-${channel.name}`}>
            <h3 id={`ch-${channel.name}`}>{channel.label}</h3>
            {set ? (
              <p>
                Set:{' '}
                {Object.entries(set)
                  .map(([k, v]) => `${k} ${String(v)}`)
                  .join(' · ')}
                . Saving below replaces them.
              </p>
            ) : (
              <p class="muted">No credentials: devices of this channel get no notification.</p>
            )}
            <CredentialsForm channel={channel} csrf={csrf} />
            {set && (
              <form method="post" action={`/console/settings/credentials/${channel.name}/remove`}>
                {hidden}
                <div class="actions">
                  <button
                    type="submit"
                    class="danger"
                    data-confirm={`Remove the ${channel.label} credentials?`}
                  >
                    Remove {channel.label} credentials
                  </button>
                </div>
              </form>
            )}
          </section>
        );
      })}
      <h2>Keys</h2>
      <div class="grid">
        <form method="post" action="/console/settings/keys/rotate" class="panel">
          {hidden}
          <h3>Rotate a key</h3>
          <label for="kind">Key</label>
          <select id="kind" name="kind" class="narrow">
            <option value="api">API key (this console's and your servers')</option>
            <option value="secret">Secret key (signs user tokens)</option>
          </select>
          <label for="overlapSeconds">Overlap</label>
          <span class="hint" id="overlapSeconds-hint">
            seconds the replaced key keeps working (0 = stops now)
          </span>
          <input
            aria-describedby="overlapSeconds-hint"
            id="overlapSeconds"
            name="overlapSeconds"
            type="number"
            min="0"
            value="86400"
          />
          <div class="actions">
            <button type="submit" data-confirm="Make a new key? It is shown once.">
              Rotate
            </button>
          </div>
        </form>
        <form method="post" action="/console/settings/keys/revoke-previous" class="panel">
          {hidden}
          <h3>End an overlap</h3>
          <label for="revokeKind">Key</label>
          <select id="revokeKind" name="kind" class="narrow">
            <option value="api">API key</option>
            <option value="secret">Secret key</option>
          </select>
          <div class="actions">
            <button type="submit" class="danger" data-confirm="Stop the replaced key now?">
              Revoke the previous key
            </button>
          </div>
        </form>
      </div>
    </div>
  );
}

const numberOrUndefined = (s: string | undefined) => (s?.trim() ? Number(s) : undefined);

export function settingsRoutes(cx: Cx) {
  const r = new Hono<ConsoleEnv>();
  const show = async (
    c: ConsoleContext,
    extra: {
      notice?: string;
      error?: Problem;
      newKey?: { kind: string; key: string; previousExpiresAt: string | null };
    } = {},
  ) => {
    const app = await restOf(cx, c)<AppView>('GET', '/v1/apps/current');
    let body: Child;
    if (!app.ok) body = <ErrorBox error={app} />;
    else
      body = (
        <Settings app={app.body} csrf={c.get('csrf')} root={c.get('session').kind === 'root'} {...extra} />
      );
    return render(cx, c, 'Settings', '/console/settings', body, extra.error ? 400 : 200);
  };
  /** Runs a REST change, then shows the page with a notice or the API's refusal. */
  const change = async (
    c: ConsoleContext,
    call: Promise<{ ok: boolean } & Partial<Problem>>,
    done: string,
  ) => {
    const result = await call;
    if (!result.ok)
      return show(c, { error: { code: result.code ?? 'error', message: result.message ?? '' } });
    return redirect(c, `/console/settings?done=${done}`);
  };

  const NOTICES: Record<string, string> = {
    saved: 'Saved.',
    limits: 'Limits set.',
    credentials: 'Credentials saved.',
    removed: 'Credentials removed.',
    revoked: 'Only the newest key works now.',
  };
  r.get('/settings', (c) => {
    const notice = NOTICES[c.req.query('done') ?? ''];
    return show(c, notice ? { notice } : {});
  });

  r.post('/settings', async (c) => {
    const v = formValues(await c.req.parseBody());
    const body = {
      name: v.name?.trim() || undefined,
      dailyPushQuota: numberOrUndefined(v.dailyPushQuota),
      minPushIntervalMs: numberOrUndefined(v.minPushIntervalMs),
      adminIdentifier: v.adminIdentifier?.trim() || undefined,
    };
    return change(c, restOf(cx, c)('PATCH', '/v1/apps/current', { body }), 'saved');
  });

  r.post('/settings/limits', async (c) => {
    const session = c.get('session');
    if (session.kind !== 'root' || !session.appId) return c.text('Only the root key sets limits', 403);
    const v = formValues(await c.req.parseBody());
    const body = {
      dailyPushQuota: numberOrUndefined(v.dailyPushQuota),
      minPushIntervalMs: numberOrUndefined(v.minPushIntervalMs),
    };
    return change(
      c,
      restOf(cx, c)('PATCH', `/v1/apps/${encodeURIComponent(session.appId)}/limits`, { body }),
      'limits',
    );
  });

  r.post('/settings/credentials/:channel', async (c) => {
    const channel = channelNamed(c.req.param('channel'));
    if (!channel) return show(c, { error: { code: 'not_found', message: 'No such channel' } });
    let body: Record<string, unknown>;
    try {
      body = await credentialsBody(channel, await c.req.parseBody());
    } catch (err) {
      if (!(err instanceof CredentialsFormError)) throw err;
      return show(c, { error: { code: 'invalid_form', message: err.message } });
    }
    return change(
      c,
      restOf(cx, c)('PUT', `/v1/apps/current/credentials/${channel.name}`, { body }),
      'credentials',
    );
  });

  r.post('/settings/credentials/:channel/remove', async (c) => {
    const channel = channelNamed(c.req.param('channel'));
    if (!channel) return show(c, { error: { code: 'not_found', message: 'No such channel' } });
    return change(c, restOf(cx, c)('DELETE', `/v1/apps/current/credentials/${channel.name}`), 'removed');
  });

  r.post('/settings/keys/rotate', async (c) => {
    const v = formValues(await c.req.parseBody());
    const result = await restOf(cx, c)<{ kind: string; key: string; previousExpiresAt: string | null }>(
      'POST',
      '/v1/apps/current/keys/rotate',
      { body: { kind: v.kind, overlapSeconds: numberOrUndefined(v.overlapSeconds) ?? 86_400 } },
    );
    if (!result.ok) return show(c, { error: result });
    const session = c.get('session');
    // This session signed in with the key it just replaced: it goes on with the new one.
    if (result.body.kind === 'api' && session.kind === 'app') {
      await updateConsoleSession(cx.deps.database.db, session.tokenHash, { key: result.body.key });
      c.set('session', { ...session, key: result.body.key });
    }
    return show(c, { newKey: result.body });
  });

  r.post('/settings/keys/revoke-previous', async (c) => {
    const v = formValues(await c.req.parseBody());
    return change(
      c,
      restOf(cx, c)('POST', '/v1/apps/current/keys/revoke-previous', { body: { kind: v.kind } }),
      'revoked',
    );
  });
  return r;
}
