/**
 * How a push is shown: status, audience, the funnel of its counters and its timeline. Counters are rendered
 * from the REST view generically: every number is a tile, every object (one per channel of the registry) a
 * row of its own numbers, so counters and channels added later appear without a change here.
 */
import { channelNamed } from '../../delivery/registry.ts';
import type { PushView } from '../push-view.ts';
import { Time } from './layout.tsx';

/** Names and explanations of the counters known today; others are shown by their name. */
const COUNTERS: Record<string, { label: string; hint: string }> = {
  audience: { label: 'Audience', hint: 'accounts in the snapshot' },
  deliveredOnline: { label: 'Delivered online', hint: 'over a live connection' },
  storedOffline: { label: 'Stored offline', hint: 'not connected at the snapshot' },
  syncedLater: { label: 'Synced later', hint: 'fetched on a later connect' },
  acked: { label: 'Acked', hint: 'shown by the app' },
  expired: { label: 'Expired', hint: 'stored copies nobody fetched' },
  withdrawn: { label: 'Withdrawn', hint: 'taken back by a recall' },
  // opened / clicked (engagement events) get their names here when they land; until then they show as-is.
};

const CHANNEL_COUNTERS: Record<string, string> = {
  sent: 'sent',
  failed: 'failed',
  tokensDisabled: 'tokens disabled',
};

/** `deliveredOnline` → `Delivered online`. */
export const humanize = (name: string): string => {
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
};

export const TERMINAL = new Set(['completed', 'canceled', 'failed']);

export function Status(props: { status: string }) {
  return <span class={`status status-${props.status}`}>{props.status}</span>;
}

/** A short description of an audience: "everyone", or the condition as compact JSON. */
export function audienceText(audience: unknown): string {
  if (audience === 'all' || audience === null || audience === undefined) return 'everyone';
  const text = JSON.stringify(audience);
  return text === '{}' ? 'everyone' : text;
}

/** The first text of a message, for lists. */
export function messageText(message: unknown): string {
  const elements = (message as { elements?: { type: string; text?: string; desc?: string }[] } | null)
    ?.elements;
  const first =
    elements?.find((e) => e.type === 'text')?.text ?? elements?.[0]?.desc ?? elements?.[0]?.type ?? '';
  return first.length > 80 ? `${first.slice(0, 79)}…` : first;
}

type Counters = Record<string, unknown>;

const numbers = (o: Record<string, unknown>) =>
  Object.entries(o).filter((e): e is [string, number] => typeof e[1] === 'number');

/** Delivered (online or on a later connect) out of the audience. */
export function delivered(counters: Counters): { done: number; of: number } {
  const n = (k: string) => (typeof counters[k] === 'number' ? (counters[k] as number) : 0);
  return { done: n('deliveredOnline') + n('syncedLater'), of: n('audience') };
}

export function Progress(props: { counters: Counters; label: string }) {
  const { done, of } = delivered(props.counters);
  return (
    <span>
      <progress value={of ? done : 0} max={of || 1} aria-label={props.label} />{' '}
      <span class="muted">
        {done.toLocaleString('en')} / {of.toLocaleString('en')} delivered
      </span>
    </span>
  );
}

export function Funnel(props: { counters: Counters }) {
  const entries = numbers(props.counters);
  const channels = Object.entries(props.counters).filter(
    (e): e is [string, Record<string, unknown>] => typeof e[1] === 'object' && e[1] !== null,
  );
  return (
    <div>
      <div class="funnel">
        {entries.map(([name, n]) => (
          <div class="stat" data-counter={name}>
            <span class="n">{n.toLocaleString('en')}</span>
            <span class="what">
              {COUNTERS[name]?.label ?? humanize(name)}
              {COUNTERS[name] && <span class="hint">{COUNTERS[name].hint}</span>}
            </span>
          </div>
        ))}
      </div>
      {channels.map(([name, counts]) => (
        <div class="channel">
          <h3>{channelNamed(name)?.label ?? name}</h3>
          <div class="funnel">
            {numbers(counts).map(([k, n]) => (
              <div class="stat" data-counter={`${name}.${k}`}>
                <span class="n">{n.toLocaleString('en')}</span>
                <span class="what">{CHANNEL_COUNTERS[k] ?? humanize(k)}</span>
              </div>
            ))}
          </div>
        </div>
      ))}
    </div>
  );
}

interface Step {
  at: string | null;
  what: string;
  future?: boolean;
}

/** The push's life from its row: what happened, and what is still to come (send time, end of retention). */
export function timelineOf(p: PushView, now = Date.now()): Step[] {
  const c = p.counters as Counters;
  const n = (k: string) => (typeof c[k] === 'number' ? (c[k] as number).toLocaleString('en') : '0');
  const future = (at: string | null) => at !== null && Date.parse(at) > now;
  const steps: Step[] = [{ at: p.createdAt, what: 'Created' }];
  if (p.sendAt) steps.push({ at: p.sendAt, what: 'Scheduled send time', future: future(p.sendAt) });
  if (p.startedAt) steps.push({ at: p.startedAt, what: 'Snapshot started' });
  if (p.snapshotAt) {
    steps.push({
      at: p.snapshotAt,
      what: `Snapshot taken: ${n('audience')} accounts, ${n('storedOffline')} not connected`,
    });
    steps.push({
      at: p.snapshotAt,
      what: `Online delivery: ${n('deliveredOnline')} delivered over live connections`,
    });
    const sent = Object.values(c)
      .filter((v): v is Record<string, number> => typeof v === 'object' && v !== null)
      .reduce((sum, v) => sum + (v.sent ?? 0) + (v.failed ?? 0), 0);
    steps.push({
      at: p.completedAt,
      what: `Offline pages: ${sent.toLocaleString('en')} notifications sent or failed${p.completedAt ? '' : ' so far'}`,
    });
  }
  if (p.completedAt) steps.push({ at: p.completedAt, what: 'Completed' });
  if (p.canceledAt) steps.push({ at: p.canceledAt, what: p.recalledAt ? 'Stopped' : 'Canceled' });
  if (p.recalledAt)
    steps.push({ at: p.recalledAt, what: `Recalled: ${n('withdrawn')} stored copies withdrawn` });
  if (p.failureReason) steps.push({ at: null, what: `Failed: ${p.failureReason}` });
  if (p.expiredAt) steps.push({ at: p.expiredAt, what: `Retention ended: ${n('expired')} copies expired` });
  else if (p.expiresAt && p.retentionSeconds > 0)
    steps.push({ at: p.expiresAt, what: 'Retention ends', future: future(p.expiresAt) });
  return steps;
}

export function Timeline(props: { push: PushView }) {
  return (
    <ol class="timeline">
      {timelineOf(props.push).map((s) => (
        <li class={s.future ? 'future' : undefined}>
          <span class="when">
            <Time at={s.at} empty="" />
            {s.future ? ' (to come)' : ''}
          </span>
          {s.what}
        </li>
      ))}
    </ol>
  );
}

/** Cancel (while it has not ended) and recall (until recalled; the API refuses it after 24 hours). */
export function PushActions(props: { push: PushView; csrf: string }) {
  const p = props.push;
  return (
    <div>
      <h2>Actions</h2>
      <div class="actions">
        {(p.status === 'scheduled' || p.status === 'running') && (
          <form method="post" action={`/console/pushes/${p.id}/cancel`}>
            <input type="hidden" name="_csrf" value={props.csrf} />
            <button type="submit" class="danger" data-confirm="Cancel this push? It stops sending.">
              Cancel push
            </button>
          </form>
        )}
        {!p.recalledAt && p.status !== 'failed' && (
          <form method="post" action={`/console/pushes/${p.id}/recall`}>
            <input type="hidden" name="_csrf" value={props.csrf} />
            <button
              type="submit"
              class="danger"
              data-confirm="Recall this push? Stored copies are withdrawn and connected apps remove it."
            >
              Recall push
            </button>
          </form>
        )}
      </div>
    </div>
  );
}

/** The part of a push's page that server-sent events replace while it runs, its actions included. */
export function PushLive(props: { push: PushView; csrf: string }) {
  const p = props.push;
  return (
    <div>
      <p>
        <Status status={p.status} />{' '}
        <Progress counters={p.counters as Counters} label="Delivered of the audience" />
      </p>
      <h2>Funnel</h2>
      <Funnel counters={p.counters as Counters} />
      <h2>Timeline</h2>
      <Timeline push={p} />
      <PushActions push={p} csrf={props.csrf} />
    </div>
  );
}
