import './style.css';
import { DashboardLatestEventIdDocument, DashboardViewerDocument, type DashboardViewerQuery } from '../generated/graphql.ts';
import { EventStream, request, Unauthenticated, type StreamEvent, type StreamState, type Transport } from './api.ts';
import { volumeChart } from './chart.ts';
import { dateTime, h, label, money, time } from './format.ts';
import { KINDS, kindNamed, type Detail, type Kind, type KindName, type Row, type Section, type Totals } from './kinds.ts';

/** The credential lives in this tab's session only: closing the tab signs out. */
const STORAGE_KEY = 'payments-dashboard.authorization';
const PAGE = 50;
const LATEST_SHOWN = 40;
const OK = new Set(['VERIFIED', 'SUCCESS', 'PAID', 'COMMITTED', 'FINISHED', 'PARTIALLY_PAID']);
const BAD = new Set(['FAILED', 'ERROR', 'CANCELED', 'EXPIRED', 'ROLLED_BACK', 'OVERDUE', 'REVERSED']);
/** Enum values (ZARINPAL, CARD) read as words; names the merchant chose (a group's slug) stay as they are. */
const channelLabel = (channel: string) => (/^[A-Z_]+$/.test(channel) ? label(channel) : channel);
const tone = (state: string) => (OK.has(state) ? 'ok' : BAD.has(state) ? 'bad' : 'wait');

const app = document.getElementById('app')!;

interface Board {
  authorization: string;
  viewer: DashboardViewerQuery['viewer'];
  kinds: Kind[];
  rows: Map<string, Row>;
  sections: Map<KindName, Section>;
  problems: Map<KindName, string>;
  stream: EventStream | null;
  status: StreamState | { state: 'off'; message: string };
  changed: Set<string>;
  reloads: Map<KindName, { timer: ReturnType<typeof setTimeout> | null; running: boolean; again: boolean }>;
  rereads: Map<string, number>;
}

let board: Board | null = null;

const rowId = (row: Pick<Row, 'kind' | 'key'>) => `${row.kind}:${row.key}`;

function normalizeCredential(value: string): string {
  const trimmed = value.trim();
  return /^(Token|Bearer|Basic) \S/.test(trimmed) ? trimmed : `Token ${trimmed}`;
}

// ---- Sign in ------------------------------------------------------------------------------

function showSignIn(message = ''): void {
  board?.stream?.stop();
  board = null;
  const input = h('input', { id: 'credential', name: 'credential', type: 'password', autocomplete: 'off', required: '', placeholder: 'merchant API token', size: '40' });
  const form = h(
    'form',
    { id: 'sign-in' },
    h('p', {}, 'Sign in with a merchant credential: an API token, or a full Authorization value (Bearer …). It is kept in this tab only.'),
    h('p', {}, input, ' ', h('button', { type: 'submit' }, 'Sign in')),
    message ? h('p', { class: 'outcome bad', role: 'alert' }, message) : null,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void signIn(normalizeCredential(input.value));
  });
  app.replaceChildren(h('h1', {}, 'Payments dashboard'), form);
  input.focus();
}

async function signIn(authorization: string): Promise<void> {
  try {
    const { data, errors } = await request(authorization, DashboardViewerDocument, {});
    if (!data) throw new Error(errors[0]?.message ?? 'The API did not answer.');
    sessionStorage.setItem(STORAGE_KEY, authorization);
    await openBoard(authorization, data.viewer);
  } catch (error) {
    sessionStorage.removeItem(STORAGE_KEY);
    showSignIn(error instanceof Unauthenticated ? 'This credential was refused.' : (error as Error).message);
  }
}

function signOut(): void {
  sessionStorage.removeItem(STORAGE_KEY);
  location.hash = '';
  showSignIn();
}

// ---- Loading and live updates --------------------------------------------------------------

async function openBoard(authorization: string, viewer: DashboardViewerQuery['viewer']): Promise<void> {
  const current: Board = {
    authorization,
    viewer,
    kinds: KINDS.filter((kind) => kind.allowed(viewer)),
    rows: new Map(),
    sections: new Map(),
    problems: new Map(),
    stream: null,
    status: { state: 'connecting', transport: 'websocket' },
    changed: new Set(),
    reloads: new Map(),
    rereads: new Map(),
  };
  board = current;
  for (const kind of KINDS) if (!kind.allowed(viewer)) current.problems.set(kind.name, 'Not available to this credential.');
  // The stream position is read before anything is loaded: whatever changes after the load has a
  // later event, which the subscription replays.
  const latest = await request(authorization, DashboardLatestEventIdDocument, {});
  await Promise.all(current.kinds.map((kind) => loadSection(current, kind)));
  if (board !== current) return;
  if (!latest.data || latest.errors.length > 0) {
    current.status = { state: 'off', message: latest.errors[0]?.message ?? 'Live updates are unavailable.' };
  } else {
    const forced = new URLSearchParams(location.search).get('transport');
    let reconnection = false;
    current.stream = new EventStream(
      authorization,
      latest.data.latestEventId ?? '0',
      {
        event: (event) => onEvent(current, event),
        state: (state) => {
          current.status = state;
          renderStatus(current);
        },
        connected: () => {
          // After a reconnection the replay brings every change; totals are read again as well.
          if (reconnection) for (const kind of current.kinds) scheduleReload(current, kind);
          reconnection = true;
        },
        unauthenticated: () => signOut(),
      },
      forced === 'sse' || forced === 'websocket' ? (forced as Transport) : null,
    );
    current.stream.start();
  }
  render(current);
  void renderDetails(current);
}

async function loadSection(current: Board, kind: Kind): Promise<void> {
  try {
    const { data, errors } = await kind.load(current.authorization, PAGE);
    if (!data) {
      current.problems.set(kind.name, errors[0]?.message ?? 'Could not be read.');
      return;
    }
    current.problems.delete(kind.name);
    current.sections.set(kind.name, data);
    for (const row of data.rows) putRow(current, row);
  } catch (error) {
    if (error instanceof Unauthenticated) return signOut();
    current.problems.set(kind.name, (error as Error).message);
  }
}

function putRow(current: Board, row: Row): void {
  const id = rowId(row);
  const before = current.rows.get(id);
  if (before && before.state === row.state && before.amount === row.amount) return;
  current.rows.set(id, row);
  current.changed.add(id);
}

/** Totals (and the newest rows) of a kind are read again shortly after its events, at most one read at a time. */
function scheduleReload(current: Board, kind: Kind): void {
  let reload = current.reloads.get(kind.name);
  if (!reload) current.reloads.set(kind.name, (reload = { timer: null, running: false, again: false }));
  if (reload.running) {
    reload.again = true;
    return;
  }
  if (reload.timer) return;
  const state = reload;
  state.timer = setTimeout(async () => {
    state.timer = null;
    state.running = true;
    await loadSection(current, kind);
    state.running = false;
    scheduleRender(current);
    if (state.again) {
      state.again = false;
      scheduleReload(current, kind);
    }
  }, 250);
}

function onEvent(current: Board, event: StreamEvent): void {
  for (const kind of current.kinds) {
    const key = kind.keyOf(event);
    if (key === null) continue;
    // Of two re-reads of one object in flight, only the later one's answer is shown.
    const id = rowId({ kind: kind.name, key });
    const ticket = (current.rereads.get(id) ?? 0) + 1;
    current.rereads.set(id, ticket);
    void kind.reread(current.authorization, key).then(
      ({ data }) => {
        if (board !== current || !data || current.rereads.get(id) !== ticket) return;
        putRow(current, data);
        scheduleRender(current);
        if (location.hash === `#/${kind.name}/${encodeURIComponent(key)}`) void renderDetails(current);
      },
      (error) => error instanceof Unauthenticated && signOut(),
    );
    scheduleReload(current, kind);
  }
  renderStatus(current);
}

// ---- Rendering ----------------------------------------------------------------------------

function statusText(status: Board['status']): string {
  const via = 'transport' in status ? (status.transport === 'sse' ? ' (Server-Sent Events)' : ' (WebSocket)') : '';
  switch (status.state) {
    case 'live':
      return `Live${via}`;
    case 'connecting':
      return 'Connecting…';
    case 'reconnecting':
      return 'Reconnecting…';
    case 'failed':
    case 'off':
      return `Not live: ${status.message}`;
  }
}

function renderStatus(current: Board): void {
  const element = document.getElementById('status');
  if (!element) return;
  const state = current.status.state;
  element.textContent = statusText(current.status);
  element.dataset.state = state;
  element.dataset.lastEvent = current.stream?.lastId ?? '';
  element.className = `status ${state === 'live' ? 'ok' : state === 'failed' || state === 'off' ? 'bad' : 'wait'}`;
}

function totalsTable(current: Board, by: 'state' | 'channel'): HTMLTableElement {
  const groups = new Map<string, Totals>();
  for (const kind of current.kinds) {
    for (const totals of current.sections.get(kind.name)?.totals ?? []) {
      const key = `${totals.kind}|${totals[by]}|${totals.currency}`;
      const sum = groups.get(key);
      if (sum) groups.set(key, { ...sum, count: sum.count + totals.count, amount: (BigInt(sum.amount) + BigInt(totals.amount)).toString() });
      else groups.set(key, { ...totals });
    }
  }
  const body = h('tbody');
  for (const kind of current.kinds) {
    const rows = [...groups.values()].filter((totals) => totals.kind === kind.name);
    if (rows.length === 0) {
      body.append(h('tr', {}, h('th', { scope: 'row' }, kind.title), h('td', { colspan: '3', class: 'muted' }, 'none yet')));
      continue;
    }
    rows.forEach((totals, index) =>
      body.append(
        h(
          'tr',
          { 'data-kind': kind.name, [`data-${by}`]: totals[by], 'data-currency': totals.currency, 'data-count': String(totals.count), 'data-amount': totals.amount },
          index === 0 ? h('th', { scope: 'row', rowspan: String(rows.length) }, kind.title) : null,
          h('td', by === 'state' ? { class: tone(totals.state) } : {}, by === 'state' ? label(totals.state) : channelLabel(totals.channel)),
          h('td', { class: 'number' }, String(totals.count)),
          h('td', { class: 'number' }, money(totals.amount, totals.currency)),
        ),
      ),
    );
  }
  const heading = by === 'state' ? 'state' : 'gateway';
  return h(
    'table',
    { class: 'totals', id: `totals-by-${by}` },
    h('thead', {}, h('tr', {}, h('th', {}, 'kind'), h('th', {}, heading), h('th', { class: 'number' }, 'count'), h('th', { class: 'number' }, 'sum'))),
    body,
  );
}

function cards(current: Board): HTMLElement {
  return h(
    'div',
    { class: 'cards' },
    ...KINDS.map((kind) => {
      const section = current.sections.get(kind.name);
      const problem = current.problems.get(kind.name);
      const count = section ? section.totals.reduce((sum, totals) => sum + totals.count, 0) : null;
      return h(
        'div',
        { class: `card kind-${kind.name}`, 'data-kind': kind.name, 'data-count': count === null ? undefined : String(count) },
        h('div', { class: 'card-title' }, kind.title),
        h('div', { class: 'card-count' }, count === null ? '—' : String(count)),
        problem ? h('div', { class: 'muted small' }, problem) : null,
      );
    }),
  );
}

function latestTable(current: Board): HTMLTableElement {
  const rows = [...current.rows.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.key.localeCompare(a.key)).slice(0, LATEST_SHOWN);
  const body = h('tbody');
  for (const row of rows) {
    const id = rowId(row);
    const kind = kindNamed(row.kind)!;
    const tr = h(
      'tr',
      { 'data-kind': row.kind, 'data-key': row.key, 'data-state': row.state, class: current.changed.has(id) ? 'changed' : undefined },
      h('td', { class: 'muted' }, time(row.createdAt)),
      h('td', {}, kind.title),
      h('td', {}, h('a', { href: `#/${row.kind}/${encodeURIComponent(row.key)}` }, row.title)),
      h('td', {}, channelLabel(row.channel)),
      h('td', { class: tone(row.state) }, label(row.state)),
      h('td', { class: 'number' }, money(row.amount, row.currency)),
    );
    body.append(tr);
  }
  current.changed.clear();
  if (rows.length === 0) body.append(h('tr', {}, h('td', { colspan: '6', class: 'muted' }, 'No payments yet: they appear here as they happen.')));
  return h(
    'table',
    { id: 'latest' },
    h('thead', {}, h('tr', {}, ...['time', 'kind', 'what', 'gateway', 'state'].map((text) => h('th', {}, text)), h('th', { class: 'number' }, 'amount'))),
    body,
  );
}

let renderPending = false;

/** Bursts of events redraw the page once per frame. */
function scheduleRender(current: Board): void {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => {
    renderPending = false;
    render(current);
  });
}

function render(current: Board): void {
  if (board !== current) return;
  const status = h('span', { id: 'status', class: 'status' });
  const out = h('button', { type: 'button', class: 'secondary' }, 'Sign out');
  out.addEventListener('click', signOut);
  app.replaceChildren(
    h('header', {}, h('h1', {}, 'Payments dashboard'), h('span', { class: 'merchant' }, current.viewer.merchant.name), status, out),
    cards(current),
    h(
      'div',
      { class: 'grid' },
      h('section', {}, h('h2', {}, 'By state'), totalsTable(current, 'state')),
      h('section', {}, h('h2', {}, 'By gateway'), totalsTable(current, 'channel')),
      h(
        'section',
        {},
        h('h2', {}, 'Volume'),
        volumeChart(current.rows.values(), KINDS.map((kind) => kind.name)),
        h('p', { class: 'legend' }, ...KINDS.map((kind) => h('span', { class: `key kind-${kind.name}` }, kind.title))),
      ),
    ),
    h('section', {}, h('h2', {}, 'Latest'), latestTable(current)),
    detailsPanel,
  );
  renderStatus(current);
}

// Kept across renders, so that a shown object does not flicker while the rest updates.
const detailsPanel = h('aside', { id: 'details', hidden: '' });

// ---- Details (#/<kind>/<key>) -------------------------------------------------------------

function detailValue(value: unknown): Node | string {
  if (value === null || value === undefined || value === '') return '—';
  if (Array.isArray(value)) return value.length ? h('ul', {}, ...value.map((item) => h('li', {}, String(item)))) : '—';
  if (typeof value === 'object' && 'money' in value) {
    const amount = value as { money: string; currency: string };
    return money(amount.money, amount.currency);
  }
  if (typeof value === 'object' && 'time' in value) return dateTime((value as { time: string }).time);
  return String(value);
}

let detailRequest = 0;

async function renderDetails(current: Board): Promise<void> {
  const container = detailsPanel;
  const match = /^#\/(\w+)\/(.+)$/.exec(location.hash);
  const kind = match ? kindNamed(match[1]!) : undefined;
  if (!match || !kind) {
    container.replaceChildren();
    container.hidden = true;
    return;
  }
  const key = decodeURIComponent(match[2]!);
  const ticket = ++detailRequest;
  let details: Detail | null = null;
  let problem = '';
  try {
    const { data, errors } = await kind.details(current.authorization, key);
    details = data;
    if (!data) problem = errors[0]?.message ?? 'Not found.';
  } catch (error) {
    if (error instanceof Unauthenticated) return signOut();
    problem = (error as Error).message;
  }
  if (ticket !== detailRequest || board !== current) return;
  const close = h('a', { href: '#', class: 'close' }, 'close');
  container.hidden = false;
  container.replaceChildren(
    h('h2', {}, h('span', {}, kind.title.replace(/s$/, ''), ' ', h('span', { class: 'key-value' }, key)), close),
    details
      ? h('dl', { 'data-kind': kind.name, 'data-key': key }, ...details.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, detailValue(value))]))
      : h('p', { class: 'outcome bad' }, problem),
  );
}

window.addEventListener('hashchange', () => board && void renderDetails(board));
// The chart's window slides with the clock.
setInterval(() => board && render(board), 15_000);

const saved = sessionStorage.getItem(STORAGE_KEY);
if (saved) void signIn(saved);
else showSignIn();
