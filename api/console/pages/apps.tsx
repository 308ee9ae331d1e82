/** The operator (root key): choose the app to act on, or create one (its keys are shown once). */
import { Hono } from 'hono';
import { updateConsoleSession } from '../../../db/console-sessions.ts';
import { type ConsoleContext, type Cx, render, restOf } from '../context.tsx';
import { formValues } from '../form.ts';
import { ErrorBox, Time } from '../layout.tsx';
import { type ConsoleEnv, redirect } from '../session.ts';

interface AppRow {
  id: string;
  name: string;
  sdkAppId: number;
  isDefault: boolean;
  createdAt: string;
}

type Problem = { code: string; message: string };

function Apps(props: {
  apps: AppRow[];
  next: string | null;
  chosen: string | null;
  csrf: string;
  error?: Problem | undefined;
  created?: { id: string; name: string; apiKey: string; secretKey: string } | undefined;
}) {
  return (
    <div>
      <ErrorBox error={props.error} />
      {props.created && (
        <div class="panel" role="status">
          <h2>App {props.created.name} created</h2>
          <p>Copy its keys now: they are not shown again.</p>
          <p>
            API key: <span class="secret">{props.created.apiKey}</span>
          </p>
          <p>
            Secret key: <span class="secret">{props.created.secretKey}</span>
          </p>
        </div>
      )}
      <form method="post" action="/console/apps/choose" class="panel row">
        <input type="hidden" name="_csrf" value={props.csrf} />
        <div>
          <label for="chooseId">App id</label>
          <input
            id="chooseId"
            name="appId"
            required
            maxlength={64}
            class="narrow"
            size={38}
            autocomplete="off"
          />
        </div>
        <button type="submit">Act as this app</button>
      </form>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Id</th>
              <th scope="col">sdkAppId</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="muted">Act as</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {props.apps.map((a) => (
              <tr>
                <td>
                  {a.name}
                  {a.isDefault && <span class="muted"> (default)</span>}
                </td>
                <td>
                  <code>{a.id}</code>
                </td>
                <td>{a.sdkAppId}</td>
                <td>
                  <Time at={a.createdAt} />
                </td>
                <td>
                  {props.chosen === a.id ? (
                    <strong>current</strong>
                  ) : (
                    <form method="post" action="/console/apps/choose">
                      <input type="hidden" name="_csrf" value={props.csrf} />
                      <input type="hidden" name="appId" value={a.id} />
                      <button type="submit" class="secondary" aria-label={`Choose ${a.name}`}>
                        Choose
                      </button>
                    </form>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {props.next && (
        <p>
          <a href={`/console/apps?cursor=${encodeURIComponent(props.next)}`}>More apps →</a>
        </p>
      )}
      <form method="post" action="/console/apps" class="panel">
        <input type="hidden" name="_csrf" value={props.csrf} />
        <h2>New app</h2>
        <label for="appName">Name</label>
        <input id="appName" name="name" required maxlength={100} />
        <div class="actions">
          <button type="submit">Create app</button>
        </div>
      </form>
    </div>
  );
}

export function appsRoutes(cx: Cx) {
  const r = new Hono<ConsoleEnv>();
  const rootOnly = (c: ConsoleContext) =>
    c.get('session').kind === 'root' ? undefined : c.text('Only the root key chooses apps', 403);
  const show = async (
    c: ConsoleContext,
    extra: {
      error?: Problem;
      created?: { id: string; name: string; apiKey: string; secretKey: string };
    } = {},
  ) => {
    const list = await restOf(cx, c)<{ apps: AppRow[]; nextCursor: string | null }>('GET', '/v1/apps', {
      actAsApp: false,
      query: { cursor: c.req.query('cursor'), limit: '100' },
    });
    const body = list.ok ? (
      <Apps
        apps={list.body.apps}
        next={list.body.nextCursor}
        chosen={c.get('session').appId}
        csrf={c.get('csrf')}
        {...extra}
      />
    ) : (
      <ErrorBox error={list} />
    );
    return render(cx, c, 'Apps', '/console/apps', body, extra.error ? 400 : 200);
  };
  r.get('/apps', (c) => rootOnly(c) ?? show(c));
  r.post('/apps/choose', async (c) => {
    const refused = rootOnly(c);
    if (refused) return refused;
    const { appId } = formValues(await c.req.parseBody());
    const session = c.get('session');
    // The REST API says whether the app exists (X-Herald-App with the root key).
    const check = await (async () => {
      c.set('session', { ...session, appId: appId ?? null });
      return restOf(cx, c)('GET', '/v1/apps/current');
    })();
    if (!check.ok) {
      c.set('session', session);
      return show(c, { error: check });
    }
    await updateConsoleSession(cx.deps.database.db, session.tokenHash, { appId: appId ?? null });
    return redirect(c, '/console/pushes');
  });
  r.post('/apps', async (c) => {
    const refused = rootOnly(c);
    if (refused) return refused;
    const { name } = formValues(await c.req.parseBody());
    const created = await restOf(cx, c)<{ id: string; name: string; apiKey: string; secretKey: string }>(
      'POST',
      '/v1/apps',
      {
        actAsApp: false,
        body: { name },
      },
    );
    if (!created.ok) return show(c, { error: created });
    return show(c, { created: created.body });
  });
  return r;
}
