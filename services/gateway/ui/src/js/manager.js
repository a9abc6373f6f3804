// The manager's page (/ufficio): a department's open back-office work by procedure and by
// assignee — waiting, offered, held, suspended, due soon, breached — and the yearly
// report of terms not kept (L. 241/1990 art. 2 c.9-quater). Counts of work to organise,
// never anyone's performance: the page shows nothing about completed work per person.
// Below them, the counter queues of every site with the honest wait estimate: a figure
// and always what it rests on (or why there is none), and the peaks at the counter: each
// enrolment window's surge, who reinforces it, and its applications per day against the
// counters' capacity. And per service over the last 30 days: the cases completed in person,
// their median wait and handling time and outcomes, next to the citizens' ratings (URP's
// report, per service and never per operator).
import { api, requireSession, showError } from './api.js';
import { fmtDate, fmtTime, h, initPage, label, mmss } from './common.js';
import { onLangChange, t } from './i18n.js';

const REFRESH_EVERY_MS = 15000;
// The departments of the shipped catalogue (services/routing/seed); the catalogue API does
// not list departments yet.
const DEPARTMENTS = ['anagrafe', 'servizi_educativi', 'suap', 'mobilita', 'urp', 'servizi_sociali'];
const $ = (id) => document.getElementById(id);
const state = { summary: null, breaches: null, queues: null, surges: null, satisfaction: null };
let refreshTimer = null;

initPage();
main().catch((err) => showError(null, err, $('page-alert')));

async function main() {
  const session = await requireSession(['manager', 'admin']);
  const select = $('department');
  for (const d of DEPARTMENTS) select.append(h('option', { value: d }, d));
  if (session.account.department) select.value = session.account.department;
  $('breaches-year').value = String(new Date().getFullYear());
  $('summary-form').addEventListener('submit', (e) => {
    e.preventDefault();
    refresh();
  });
  $('breaches-form').addEventListener('submit', (e) => {
    e.preventDefault();
    loadBreaches();
  });
  onLangChange(render);
  await Promise.all([refresh(), loadBreaches()]);
}

async function refresh() {
  clearTimeout(refreshTimer);
  const query = new URLSearchParams({ department: $('department').value });
  const days = $('due-soon-days').value.trim();
  if (days) query.set('due_soon_days', days);
  try {
    [state.summary, state.queues, state.surges, state.satisfaction] = await Promise.all([
      api('GET', `/back-office/summary?${query}`),
      api('GET', '/back-office/queues'),
      api('GET', '/back-office/surges'),
      api('GET', '/back-office/satisfaction'),
    ]);
    $('page-alert').hidden = true;
    render();
  } catch (err) {
    if (err.status === 401) return location.assign(`/accesso?next=${encodeURIComponent('/ufficio')}`);
    showError(null, err, $('page-alert'));
  }
  refreshTimer = setTimeout(refresh, REFRESH_EVERY_MS);
}

async function loadBreaches() {
  try {
    state.breaches = await api('GET', `/back-office/breaches?year=${encodeURIComponent($('breaches-year').value)}`);
    render();
  } catch (err) {
    showError(null, err, $('page-alert'));
  }
}

const num = (n, cls = '') => h('td', { class: `text-end ${cls}`.trim() }, String(n));

function render() {
  const s = state.summary;
  if (s) {
    $('summary-day').textContent = `${fmtDate(s.day)} ${fmtTime()}`;
    const procedureRow = (r, head) =>
      h(
        'tr',
        { dataset: { key: r.key } },
        h(head ? 'th' : 'td', head ? { scope: 'row' } : {}, head ? t('mgr.total') : r.key),
        num(r.open),
        num(r.waiting),
        num(r.offered),
        num(r.held),
        num(r.suspended),
        num(r.due_soon, r.due_soon ? 'text-warning fw-semibold' : ''),
        num(r.breached, r.breached ? 'text-danger fw-semibold' : ''),
      );
    $('procedure-rows').replaceChildren(
      ...(s.by_procedure.length
        ? s.by_procedure.map((r) => procedureRow(r, false))
        : [h('tr', {}, h('td', { colspan: '8', class: 'text-muted' }, t('mgr.nothing_open')))]),
    );
    $('procedure-total').replaceChildren(procedureRow(s.total, true));
    $('assignee-rows').replaceChildren(
      ...s.by_assignee.map((r) =>
        h(
          'tr',
          { dataset: { key: r.key } },
          h('td', {}, r.key || t('mgr.unassigned')),
          num(r.open),
          num(r.offered),
          num(r.held),
          num(r.suspended),
          num(r.due_soon, r.due_soon ? 'text-warning fw-semibold' : ''),
          num(r.breached, r.breached ? 'text-danger fw-semibold' : ''),
        ),
      ),
    );
  }
  if (state.queues) renderQueues(state.queues.sites);
  if (state.surges) renderSurges(state.surges.surges);
  if (state.satisfaction) renderSatisfaction(state.satisfaction.services);
  const b = state.breaches;
  if (b) {
    $('breaches-rows').replaceChildren(
      ...(b.procedures.length
        ? b.procedures.map((p) => h('tr', {}, h('td', {}, p.service_code), num(p.breached), num(p.decided)))
        : [h('tr', {}, h('td', { colspan: '3', class: 'text-muted' }, t('mgr.no_breaches')))]),
    );
  }
}

// Seconds as minutes for people: "4 min", "< 1 min".
const minutes = (seconds) => (seconds < 60 ? '< 1 min' : `${Math.round(seconds / 60)} min`);

function renderQueues(sites) {
  const rows = sites.flatMap((site) =>
    site.queues.map((q) =>
      h(
        'tr',
        { dataset: { site: site.code, queue: q.service_group } },
        h('td', {}, site.name),
        h('td', {}, `${q.letter} — ${q.name}`),
        num(q.waiting),
        num(q.waiting ? minutes(q.longest_wait_seconds) : '—'),
        h(
          'td',
          { class: 'text-end sp-mono', 'data-testid': 'wait-estimate' },
          q.wait_p90_seconds ? `${minutes(q.wait_p50_seconds)} – ${minutes(q.wait_p90_seconds)}` : '—',
        ),
        // Never blank: the basis says what the figure rests on, or why there is none.
        h('td', { class: 'small', 'data-testid': 'wait-basis' }, q.wait_basis),
      ),
    ),
  );
  $('queue-rows').replaceChildren(
    ...(rows.length ? rows : [h('tr', {}, h('td', { colspan: '6', class: 'text-muted' }, t('mgr.no_queues')))]),
  );
}

// Each window's surge: who reinforces it (and what became of their skill), and each day's
// applications against what the counters can take, over capacity in red.
function renderSurges(surges) {
  const rows = surges.map((s) =>
    h(
      'tr',
      { dataset: { surge: s.id } },
      h('td', {}, `${s.level} ${s.school_year} — ${fmtDate(s.opens_on)} – ${fmtDate(s.closes_on)}`),
      h('td', { 'data-testid': 'surge-status' }, t(`mgr.surge_${s.status}`)),
      h(
        'td',
        { class: 'small' },
        s.operators
          .map((o) => {
            const note = !o.changed ? t('mgr.surge_unchanged') : o.restored ? t('mgr.surge_restored') : '';
            return `${o.operator_id} (${o.prior_proficiency || '—'} → ${o.granted_proficiency})${note ? ` ${note}` : ''}`;
          })
          .join(', ') || '—',
      ),
      h(
        'td',
        { class: 'small sp-mono' },
        ...s.days.map((d) =>
          h(
            'span',
            { class: `me-2${d.applications > d.capacity ? ' text-danger fw-semibold' : ''}`, dataset: { day: d.date } },
            `${fmtDate(d.date)}: ${d.applications}/${d.capacity}`,
          ),
        ),
      ),
    ),
  );
  $('surge-rows').replaceChildren(
    ...(rows.length ? rows : [h('tr', {}, h('td', { colspan: '4', class: 'text-muted' }, t('mgr.no_surges')))]),
  );
}

// Satisfaction next to waits and handling times, per service: the quick info-desk case
// shows as such (tier 1, its median handling in minutes:seconds, its outcomes).
function renderSatisfaction(services) {
  const rows = services.map((s) =>
    h(
      'tr',
      { dataset: { service: s.service_code } },
      h('td', {}, s.service_code),
      num(s.tier || '—'),
      h('td', { class: 'text-end', 'data-testid': 'sat-cases' }, String(s.cases_completed)),
      h('td', { class: 'text-end sp-mono' }, s.cases_completed ? mmss(s.median_wait_seconds) : '—'),
      h('td', { class: 'text-end sp-mono', 'data-testid': 'sat-handling' }, s.cases_completed ? mmss(s.median_handling_seconds) : '—'),
      h('td', { class: 'small', 'data-testid': 'sat-outcomes' }, s.outcomes.map((o) => `${label('outcome', o.outcome_code)}: ${o.count}`).join(', ') || '—'),
      h('td', { class: 'text-end', 'data-testid': 'sat-ratings' }, String(s.ratings)),
      h('td', { class: 'text-end fw-semibold', 'data-testid': 'sat-average' }, s.average_rating == null ? '—' : s.average_rating.toFixed(1)),
    ),
  );
  $('satisfaction-rows').replaceChildren(
    ...(rows.length ? rows : [h('tr', {}, h('td', { colspan: '8', class: 'text-muted' }, t('mgr.sat_empty')))]),
  );
}
