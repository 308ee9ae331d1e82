/** Accounts: look one up — tags, attributes, devices, the pushes waiting for it and those it got. */
import { Hono } from 'hono';
import { type Cx, render, restOf } from '../context.tsx';
import { ErrorBox, Time } from '../layout.tsx';
import type { ConsoleEnv } from '../session.ts';

interface AccountDetail {
  id: string;
  nick: string | null;
  tags: string[];
  attributes: Record<string, string>;
  eligible: boolean;
  importedAt: string | null;
  lastLoginAt: string | null;
  createdAt: string;
  devices: {
    platform: string;
    token: string;
    environment: string;
    topic: string | null;
    updatedAt: string;
    disabledAt: string | null;
    disabledReason: string | null;
  }[];
}

interface AccountPush {
  id: string;
  state: string;
  waiting: boolean;
  status: string;
  snapshotAt: string | null;
  expiresAt: string | null;
}

/** A device token is shown by its ends only: enough to recognise it. */
const shortToken = (t: string) => (t.length > 20 ? `${t.slice(0, 8)}…${t.slice(-8)}` : t);

function Lookup(props: { id: string }) {
  return (
    <form method="get" action="/console/accounts" class="panel row" aria-label="Look up an account">
      <div>
        <label for="id">Account id</label>
        <input id="id" name="id" value={props.id} required maxlength={128} class="narrow" size={34} />
      </div>
      <button type="submit">Look up</button>
    </form>
  );
}

function PushRows(props: { pushes: AccountPush[]; empty: string }) {
  if (!props.pushes.length) return <p class="muted">{props.empty}</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Push</th>
            <th scope="col">Its copy</th>
            <th scope="col">Sent</th>
            <th scope="col">Kept until</th>
          </tr>
        </thead>
        <tbody>
          {props.pushes.map((p) => (
            <tr>
              <td>
                <a href={`/console/pushes/${p.id}`}>
                  <code>{p.id.slice(0, 8)}</code>
                </a>
              </td>
              <td>{p.waiting ? 'waiting for a connect' : p.state}</td>
              <td>
                <Time at={p.snapshotAt} />
              </td>
              <td>
                <Time at={p.expiresAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Account(props: { a: AccountDetail; pushes: AccountPush[] }) {
  const { a } = props;
  return (
    <div>
      <div class="grid">
        <div class="panel">
          <h2>{a.id}</h2>
          <p>
            {a.nick && <span>{a.nick} · </span>}
            {a.eligible ? 'receives pushes' : 'not eligible yet (neither imported nor logged in)'}
          </p>
          <p class="muted">
            imported <Time at={a.importedAt} empty="never" /> · last login{' '}
            <Time at={a.lastLoginAt} empty="never" />
          </p>
        </div>
        <div class="panel">
          <h2>Tags</h2>
          {a.tags.length ? (
            <ul class="tags">
              {a.tags.map((t) => (
                <li>{t}</li>
              ))}
            </ul>
          ) : (
            <p class="muted">none</p>
          )}
          <h2>Attributes</h2>
          {Object.keys(a.attributes).length ? (
            <table>
              <tbody>
                {Object.entries(a.attributes).map(([k, v]) => (
                  <tr>
                    <th scope="row">{k}</th>
                    <td>{v}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p class="muted">none</p>
          )}
        </div>
      </div>
      <h2>Devices</h2>
      {a.devices.length ? (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Channel</th>
                <th scope="col">Token</th>
                <th scope="col">Environment</th>
                <th scope="col">Updated</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {a.devices.map((d) => (
                <tr>
                  <td>{d.platform}</td>
                  <td>
                    <code>{shortToken(d.token)}</code>
                  </td>
                  <td>{d.environment}</td>
                  <td>
                    <Time at={d.updatedAt} />
                  </td>
                  <td>{d.disabledAt ? `disabled: ${d.disabledReason ?? ''}` : 'active'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p class="muted">No devices registered.</p>
      )}
      <h2>Waiting for it</h2>
      <PushRows pushes={props.pushes.filter((p) => p.waiting)} empty="Nothing waiting." />
      <h2>Recent pushes it got</h2>
      <PushRows pushes={props.pushes.filter((p) => !p.waiting)} empty="None among the recent pushes." />
    </div>
  );
}

export function accountsRoutes(cx: Cx) {
  const r = new Hono<ConsoleEnv>();
  r.get('/accounts', async (c) => {
    const id = c.req.query('id')?.trim() ?? '';
    if (!id) return render(cx, c, 'Accounts', '/console/accounts', <Lookup id="" />);
    const rest = restOf(cx, c);
    const path = `/v1/accounts/${encodeURIComponent(id)}`;
    const [account, pushes] = await Promise.all([
      rest<AccountDetail>('GET', path),
      rest<{ pushes: AccountPush[] }>('GET', `${path}/pushes`, { query: { limit: '50' } }),
    ]);
    const body = (
      <div>
        <Lookup id={id} />
        {account.ok ? (
          <Account a={account.body} pushes={pushes.ok ? pushes.body.pushes : []} />
        ) : (
          <ErrorBox error={account} />
        )}
      </div>
    );
    return render(cx, c, 'Accounts', '/console/accounts', body, account.ok ? 200 : 404);
  });
  return r;
}
