/** Sign-in with an app's API key, or with HERALD_ROOT_KEY (the operator, who then chooses an app). */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { type Cx, field, renderPublic } from '../context.tsx';
import { ErrorBox, Notice } from '../layout.tsx';
import { restFor } from '../rest.ts';
import {
  crossSiteProblem,
  currentSession,
  endSession,
  redirect,
  signInLimiter,
  startSession,
} from '../session.ts';

function SignInForm(props: { error?: string | undefined; notice?: string | undefined }) {
  return (
    <div class="panel">
      <Notice text={props.notice} />
      <ErrorBox error={props.error ? { code: 'sign_in', message: props.error } : undefined} />
      <form method="post" action="/console/sign-in">
        <label for="key">API key</label>
        <span class="hint" id="key-hint">
          The app's admin API key, or the installation's root key (HERALD_ROOT_KEY) to choose among apps. It
          is kept on the server, sealed, for this session only.
        </span>
        <input
          aria-describedby="key-hint"
          id="key"
          name="key"
          type="password"
          autocomplete="off"
          required
          maxlength={512}
          autofocus
        />
        <div class="actions">
          <button type="submit">Sign in</button>
        </div>
      </form>
    </div>
  );
}

export function signInRoutes(cx: Cx) {
  const r = new Hono();
  const { database, config } = cx.deps;
  const limiter = signInLimiter(config);

  r.get('/sign-in', async (c) => {
    if (await currentSession(c, database.db)) return c.redirect('/console', 303);
    const notice = c.req.query('ended')
      ? 'The session ended: its key no longer works. Sign in again.'
      : undefined;
    return renderPublic(cx, c, 'Sign in', <SignInForm notice={notice} />);
  });

  r.post(
    '/sign-in',
    bodyLimit({ maxSize: 4096, onError: (c) => c.text('The form is too large', 413) }),
    async (c) => {
      const problem = crossSiteProblem(c, config.HERALD_TRUST_PROXY);
      if (problem) return c.text(`Refused: ${problem}`, 403);
      const wait = limiter.retryAfter(c);
      if (wait > 0) {
        c.header('retry-after', String(wait));
        const error = `Too many failed sign-ins from your address; try again in ${wait} s`;
        return renderPublic(cx, c, 'Sign in', <SignInForm error={error} />, 429);
      }
      const key = field(await c.req.parseBody(), 'key').trim();
      const rest = restFor(cx.fetch, c, undefined);
      // The REST API decides what the key is: an app's key reads its app, the root key lists the apps.
      const asApp = key ? await rest<{ id: string }>('GET', '/v1/apps/current', { key }) : undefined;
      if (asApp?.ok) {
        await startSession(c, database.db, config, { kind: 'app', appId: asApp.body.id, key });
        return redirect(c, '/console/pushes');
      }
      const asRoot =
        key && config.HERALD_ROOT_KEY
          ? await rest('GET', '/v1/apps', { key, query: { limit: '1' } })
          : undefined;
      if (asRoot?.ok) {
        await startSession(c, database.db, config, { kind: 'root', appId: null, key });
        return redirect(c, '/console/apps');
      }
      limiter.failed(c);
      const error = 'That key is neither an app’s API key nor the root key';
      return renderPublic(cx, c, 'Sign in', <SignInForm error={error} />, 400);
    },
  );
  return r;
}

export function signOutRoute(cx: Cx) {
  const r = new Hono();
  r.post('/sign-out', async (c) => {
    // Reached behind the session and CSRF checks (index.tsx).
    await endSession(c, cx.deps.database.db, await currentSession(c, cx.deps.database.db));
    return redirect(c, '/console/sign-in');
  });
  return r;
}
