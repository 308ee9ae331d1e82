/**
 * The invariants of one push, checked after it settled, from three sources of truth that no Herald code
 * writes for itself: the database tables of stable shape (push_recipients states, devices, accounts), the
 * fakes' per-token log and the clients' per-connection log. The push's own report is read only through
 * GET /v1/pushes/{id}. Each check says what it found: counts, and a few example ids when it fails.
 */
import type { Database } from '../../db/client.ts';
import type { ChaosFakesReport, ConnectionLog } from './ipc.ts';
import type { PushView } from './observe.ts';

export type Verdict = 'PASS' | 'PASS (documented)' | 'FAIL';

export interface Check {
  name: string;
  verdict: Verdict;
  found: string;
  examples: string[];
}

export interface PushTruth {
  /** Eligible accounts of the app (the audience of a push to "all"). */
  eligible: number;
  rows: number;
  distinctAccounts: number;
  byState: Record<string, number>;
  /** Recipient accounts → state, for the client accounts only. */
  clientStates: Map<string, number>;
  /** Live devices of recipients: platform, token, account. */
  devices: { platform: 'apns' | 'fcm'; token: string; account: string }[];
  /** Devices disabled since the push was created. */
  disabledSince: number;
}

const STATE_NAMES: Record<number, string> = {
  0: 'pending',
  1: 'online',
  2: 'awaitingLive',
  3: 'synced',
  4: 'acked',
  5: 'withdrawn',
  6: 'expired',
  7: 'skipped',
};

export async function readTruth(
  database: Database,
  appId: string,
  pushId: string,
  clientAccounts: string[],
  pushCreatedMs: number,
): Promise<PushTruth> {
  const { sql } = database;
  const [eligible] = await sql<{ n: number }[]>`
    select count(*)::int as n from accounts
    where app_id = ${appId} and (imported_at is not null or last_login_at is not null)`;
  const states = await sql<{ state: number; n: number }[]>`
    select state, count(*)::int as n from push_recipients where push_id = ${pushId} group by state`;
  const [distinct] = await sql<{ n: number }[]>`
    select count(distinct account_id)::int as n from push_recipients where push_id = ${pushId}`;
  const clientRows = await sql<{ account_id: string; state: number }[]>`
    select account_id, state from push_recipients
    where push_id = ${pushId} and account_id = any(${clientAccounts}::text[])`;
  const devices = await sql<{ platform: 'apns' | 'fcm'; token: string; account: string }[]>`
    select d.platform, d.token, d.account_id as account from devices d
    where d.app_id = ${appId} and d.disabled_at is null
      and exists (select 1 from push_recipients r where r.push_id = ${pushId} and r.account_id = d.account_id)`;
  const [disabled] = await sql<{ n: number }[]>`
    select count(*)::int as n from devices
    where app_id = ${appId} and disabled_at >= to_timestamp(${pushCreatedMs / 1000})`;
  const byState: Record<string, number> = {};
  let rows = 0;
  for (const s of states) {
    byState[STATE_NAMES[s.state] ?? String(s.state)] = s.n;
    rows += s.n;
  }
  return {
    eligible: eligible?.n ?? 0,
    rows,
    distinctAccounts: distinct?.n ?? 0,
    byState,
    clientStates: new Map(clientRows.map((r) => [r.account_id, r.state])),
    devices: [...devices],
    disabledSince: disabled?.n ?? 0,
  };
}

export interface PushEvidence {
  view: PushView | undefined;
  truth: PushTruth;
  fakes: ChaosFakesReport;
  /** Every connection of every client, with the account id resolved. */
  connections: (ConnectionLog & { accountId: string })[];
  clientAccounts: string[];
  /** When the push was created (POST answered), runner clock. */
  tPost: number;
  /** When the evidence was collected. */
  tCollect: number;
  /** Clients connected (synced) when the push was created: what its snapshot saw as online. */
  connectedAtPost: number;
  /**
   * The documented bound on notifications lost to crashes: crashes × the page ranges one worker runs at once
   * (PAGE_RANGES_PER_WORKER) × PAGES_IN_FLIGHT × page size.
   */
  lossBound: number;
  retention: number;
}

const sample = <T>(xs: T[], n = 5): string[] => xs.slice(0, n).map(String);
const verdict = (ok: boolean): Verdict => (ok ? 'PASS' : 'FAIL');

export interface Tallies {
  duplicates: number;
  deviceLosses: number;
  clientLosses: number;
}

export function checkPush(e: PushEvidence): { checks: Check[]; tallies: Tallies } {
  const checks: Check[] = [];
  const v = e.view;
  const t = e.truth;
  const add = (name: string, ok: Verdict | boolean, found: string, examples: string[] = []) =>
    checks.push({ name, verdict: typeof ok === 'boolean' ? verdict(ok) : ok, found, examples });

  // 1. Every push completes.
  add(
    'push completes',
    v?.status === 'completed',
    v ? `status ${v.status}${v.failureReason ? ` (${v.failureReason})` : ''}` : 'never read',
  );

  // 2. Every recipient has exactly one recipient row.
  const missing = t.eligible - t.distinctAccounts;
  const doubled = t.rows - t.distinctAccounts;
  add(
    'one recipient row per recipient',
    missing === 0 && doubled === 0,
    `${t.rows} rows, ${t.distinctAccounts} accounts, ${t.eligible} eligible (missing ${missing}, doubled ${doubled})`,
  );

  // 3. Every connection open through the whole push gets it exactly once; no connection gets it twice.
  const steady = e.connections.filter(
    (c) => c.syncedAt !== null && c.syncedAt < e.tPost && c.closedAt === null,
  );
  const steadyMissing = steady.filter((c) => c.viaSync + c.live === 0);
  const twice = e.connections.filter((c) => c.viaSync + c.live > 1);
  add(
    'exactly once per connection',
    steadyMissing.length === 0 && twice.length === 0,
    `${steady.length} connections open throughout: ${steadyMissing.length} got nothing; ` +
      `${twice.length} of ${e.connections.length} connections got it more than once`,
    [
      ...sample(
        steadyMissing.map((c) => `${c.accountId}: nothing (api ${c.api + 1})`),
        3,
      ),
      ...sample(
        twice.map((c) => `${c.accountId}: ${c.viaSync} sync + ${c.live} live`),
        3,
      ),
    ],
  );

  // 4. Every client gets it at least once (on any of its connections) before retention ends. A client whose
  // live send failed gets what an offline recipient gets (the live-send fallback): with retention 0 that is
  // the notification on its device, so one without a device may get nothing (documented), never one with.
  const got = new Set(e.connections.filter((c) => c.viaSync + c.live > 0).map((c) => c.accountId));
  const notifiedTokens = new Set<string>();
  for (const p of ['apns', 'fcm'] as const)
    for (const [tok, n] of e.fakes[p].perToken) if (n > 0) notifiedTokens.add(`${p}:${tok}`);
  const notifiedAccounts = new Set(
    t.devices.filter((d) => notifiedTokens.has(`${d.platform}:${d.token}`)).map((d) => d.account),
  );
  const never = e.clientAccounts.filter((a) => !got.has(a) && !notifiedAccounts.has(a));
  const neverWithDevice = never.filter((a) => t.devices.some((d) => d.account === a));
  const byNotification = e.clientAccounts.filter((a) => !got.has(a) && notifiedAccounts.has(a)).length;
  add(
    'every client gets it at least once',
    never.length === 0
      ? 'PASS'
      : e.retention === 0 && neverWithDevice.length === 0
        ? 'PASS (documented)'
        : 'FAIL',
    `${e.clientAccounts.length - never.length} of ${e.clientAccounts.length} clients got it` +
      (byNotification ? ` (${byNotification} by the live-send fallback's notification only)` : '') +
      (never.length
        ? `; ${never.length} got nothing (${neverWithDevice.length} of them have a device${e.retention === 0 ? ', retention 0 keeps no copy' : ''})`
        : ''),
    sample(never),
  );

  // 5. No device gets two notifications for one push; none gets one it should not.
  const received = new Map<string, number>();
  for (const p of ['apns', 'fcm'] as const)
    for (const [tok, n] of e.fakes[p].perToken) received.set(`${p}:${tok}`, n);
  const deviceTwice = [...received].filter(([, n]) => n > 1);
  const expected = new Map(t.devices.map((d) => [`${d.platform}:${d.token}`, d.account]));
  const stray = [...received.keys()].filter((k) => !expected.has(k));
  const otherPush = Object.entries(e.fakes.fcm.pushIds).filter(([id]) => id !== v?.id);
  add(
    'no device notified twice',
    deviceTwice.length === 0 && stray.length === 0 && otherPush.length === 0,
    `${received.size} devices notified, ${deviceTwice.length} more than once, ${stray.length} not recipients' ` +
      `devices, ${otherPush.reduce((s, [, n]) => s + n, 0)} FCM notifications naming another push`,
    sample(deviceTwice.map(([k, n]) => `${k.slice(0, 24)}… ×${n}`)),
  );

  // 6. Lost notifications: recipients' devices (of accounts with no client, which are never online) that got
  // nothing, against the documented bound.
  const clientSet = new Set(e.clientAccounts);
  const offlineDevices = t.devices.filter((d) => !clientSet.has(d.account));
  const lost = offlineDevices.filter((d) => !received.has(`${d.platform}:${d.token}`));
  add(
    'notifications lost within the bound',
    lost.length === 0 ? 'PASS' : lost.length <= e.lossBound ? 'PASS (documented)' : 'FAIL',
    `${lost.length} of ${offlineDevices.length} offline recipients' devices got nothing (bound ${e.lossBound})`,
    sample(lost.map((d) => `${d.account} ${d.platform}`)),
  );

  // 7. The report's counters against the truth.
  if (v) {
    const c = v.counters;
    const delivered = (t.byState.online ?? 0) + (t.byState.synced ?? 0) + (t.byState.acked ?? 0);
    const clientDelivered = [...t.clientStates.values()].filter((s) => s === 1 || s === 3 || s === 4).length;
    const clientGot = e.clientAccounts.filter((a) => got.has(a)).length;
    // A client that got a frame from a gateway killed before it marked the row (and never reconnected in time
    // for the retry) falls back: its row is pending again and its device notified. Documented, not a mismatch.
    const fellBack = e.clientAccounts.filter((a) => got.has(a) && t.clientStates.get(a) === 0).length;
    const storedTruth = e.retention > 0 ? t.rows - e.connectedAtPost : 0;
    const mismatches: string[] = [];
    const eq = (label: string, counter: number, truth: number) => {
      if (counter !== truth) mismatches.push(`${label} ${counter} ≠ ${truth}`);
    };
    eq('audience vs rows', c.audience, t.rows);
    eq('deliveredOnline+syncedLater vs rows delivered', c.deliveredOnline + c.syncedLater, delivered);
    eq('acked vs rows acked', c.acked, t.byState.acked ?? 0);
    eq('storedOffline vs rows − clients online at start', c.storedOffline, storedTruth);
    eq('clients given it vs their rows delivered (+ fell back)', clientGot, clientDelivered + fellBack);
    add(
      'delivery counters equal the truth',
      mismatches.length === 0,
      mismatches.length
        ? mismatches.join('; ')
        : `audience ${c.audience}, online ${c.deliveredOnline}, synced ${c.syncedLater}, acked ${c.acked}, stored ${c.storedOffline}`,
      [`rows by state ${JSON.stringify(t.byState)}`],
    );
    // Provider counters may miss the results of the pages in flight at a crash (docs/pushes.md): never more.
    const gaps: string[] = [];
    let within = true;
    const prov = (label: string, counter: number, truth: number) => {
      if (counter === truth) return;
      gaps.push(`${label} ${counter} ≠ ${truth}`);
      if (counter > truth || truth - counter > e.lossBound) within = false;
    };
    prov('apns.sent vs APNs fake', c.apns.sent, e.fakes.apns.accepted);
    prov('fcm.sent vs FCM fake', c.fcm.sent, e.fakes.fcm.accepted);
    prov('apns.failed vs APNs rejections', c.apns.failed, e.fakes.apns.rejected);
    prov('fcm.failed vs FCM rejections', c.fcm.failed, e.fakes.fcm.rejected);
    prov('tokensDisabled vs devices disabled', c.apns.tokensDisabled + c.fcm.tokensDisabled, t.disabledSince);
    add(
      'provider counters equal the fakes',
      gaps.length === 0 ? 'PASS' : within ? 'PASS (documented)' : 'FAIL',
      gaps.length
        ? `${gaps.join('; ')} (documented slack ${e.lossBound})`
        : `apns ${c.apns.sent} sent, fcm ${c.fcm.sent} sent, as the fakes counted`,
    );
  }

  const duplicates = twice.length + deviceTwice.length;
  return {
    checks,
    tallies: { duplicates, deviceLosses: lost.length, clientLosses: never.length + steadyMissing.length },
  };
}
