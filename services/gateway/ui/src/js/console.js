// Operator console (/console): seat, presence, heartbeat, queues, call next, the case.
import './urp-i18n.js';
import { api, clearErrors, requireSession, showError, withBusy } from './api.js';
import { announce, fillSelect, fmtDate, fmtTime, h, initPage, label, mmss, showUser } from './common.js';
import { onLangChange, t } from './i18n.js';
import { hideRatingSlip, initQuickAnswers, showRatingSlip } from './quick.js';
import { initResidence } from './residence.js';

const OPERATOR_ROLES = ['info_desk', 'polivalente', 'tecnico', 'back_office', 'manager'];
const QUEUES_EVERY_MS = 5000;
const CERT_TYPES = {
  'registry.family_status_certificate': 'family_status',
  'registry.residence_certificate': 'residence',
  'registry.residence_family_certificate': 'residence_family',
  'registry.birth_certificate': 'birth',
  'registry.citizenship_certificate': 'citizenship',
  'registry.existence_certificate': 'existence',
};
/** Case statuses after which the case is no longer in front of the operator. */
const CLOSED = new Set(['completed', 'no_show', 'parked', 'transferred', 'cancelled', 'closed']);

const $ = (id) => document.getElementById(id);
const state = { operator: null, queues: [], sites: [], groups: [], kase: null, lastCall: null };
let heartbeatTimer = null;
let queuesTimer = null;

initPage();
main().catch((err) => showError(null, err, $('page-alert')));

async function main() {
  const session = await requireSession([...OPERATOR_ROLES, 'admin']);
  showUser();
  bindSeat();
  bindPresence();
  bindCalls();
  bindCase();
  bindShortcuts();
  initQuickAnswers();
  onLangChange(() => {
    renderOperator();
    renderQueues();
    renderCase();
    renderCall();
  });

  const [sites, groups] = await Promise.all([
    api('GET', '/sites').catch(() => ({ sites: [] })),
    api('GET', '/catalogue/groups').catch(() => ({ groups: [] })),
  ]);
  state.sites = sites.sites ?? [];
  state.groups = groups.groups ?? [];
  // The services each queue serves, to name the service a transferred case becomes.
  const firstSite = state.sites[0]?.code;
  state.services = firstSite
    ? ((await api('GET', `/sites/${encodeURIComponent(firstSite)}/services`).catch(() => ({}))).services ?? [])
    : [];
  await refreshConsole();
  fillSites();
  initResidence({ roles: session.account.roles, sites: state.sites, seatSite: state.operator?.site_code });
  if (state.operator?.current_case_id) await loadCase(state.operator.current_case_id);
  await refreshParked();
  scheduleQueues();
  heartbeat();
}

// ---------------------------------------------------------------------------------------
// Operator, seat, presence, heartbeat

function fillSites() {
  const siteSel = $('seat-site');
  fillSelect(siteSel, state.sites.map((s) => ({ value: s.code, text: s.name })));
  if (state.operator?.site_code) siteSel.value = state.operator.site_code;
  fillCounters();
  if (state.operator?.counter_number) $('seat-counter').value = String(state.operator.counter_number);
}

function fillCounters() {
  const site = state.sites.find((s) => s.code === $('seat-site').value);
  fillSelect($('seat-counter'), (site?.counters ?? []).map((n) => ({ value: String(n), text: `${t('console.counter')} ${n}` })));
}

function bindSeat() {
  $('seat-site').addEventListener('change', fillCounters);
  $('seat-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    await withBusy($('seat-submit'), async () => {
      const res = await api('POST', '/console/seat', {
        site_code: $('seat-site').value,
        counter_number: Number($('seat-counter').value),
      });
      setOperator(res.operator);
      announce(t('console.seated', { counter: res.operator.counter_number }));
      await refreshConsole();
    }, { form });
  });
}

function bindPresence() {
  for (const btn of document.querySelectorAll('button[data-presence]')) {
    btn.addEventListener('click', () =>
      withBusy(btn, async () => {
        const res = await api('POST', '/console/presence', { presence: btn.dataset.presence });
        setOperator(res.operator);
        announce(`${t('console.presence')}: ${label('presence', res.operator.presence)}`);
        heartbeat();
      }, { alertEl: $('page-alert') }),
    );
  }
}

function setOperator(op) {
  if (!op) return;
  state.operator = { ...state.operator, ...op };
  renderOperator();
}

function renderOperator() {
  const op = state.operator;
  if (!op) return;
  $('operator-name').textContent = op.display_name ?? '—';
  $('operator-tier').textContent = op.tier ?? '—';
  const badge = $('presence-badge');
  badge.textContent = label('presence', op.presence);
  badge.dataset.presence = op.presence ?? '';
  badge.className = `badge sp-presence sp-presence-${op.presence}`;
  for (const btn of document.querySelectorAll('button[data-presence]')) {
    btn.setAttribute('aria-pressed', String(btn.dataset.presence === op.presence));
  }
}

async function heartbeat() {
  clearTimeout(heartbeatTimer);
  let next = 15;
  try {
    const res = await api('POST', '/console/heartbeat');
    if (res?.presence && state.operator && res.presence !== state.operator.presence) setOperator({ presence: res.presence });
    next = Math.max(1, Number(res?.next_within_seconds) || 30) / 2;
  } catch (err) {
    if (err.status === 401) return goLogin();
    next = 5; // retry soon: a missed heartbeat may turn us offline
  }
  heartbeatTimer = setTimeout(heartbeat, next * 1000);
}

function goLogin() {
  location.assign(`/accesso?next=${encodeURIComponent('/console')}`);
}

// ---------------------------------------------------------------------------------------
// Queues and parked cases

async function refreshConsole() {
  try {
    const res = await api('GET', '/console');
    setOperator(res.operator);
    state.queues = res.queues ?? [];
    renderQueues();
    $('queues-updated').textContent = fmtTime();
  } catch (err) {
    if (err.status === 401) return goLogin();
    showError(null, err, $('page-alert'));
  }
}

function scheduleQueues() {
  clearTimeout(queuesTimer);
  queuesTimer = setTimeout(async () => {
    if (!document.hidden) await refreshConsole();
    scheduleQueues();
  }, QUEUES_EVERY_MS);
}

async function refreshAfterAction() {
  await Promise.all([refreshConsole(), refreshParked()]);
  scheduleQueues();
}

function renderQueues() {
  const body = $('queues-table').tBodies[0];
  if (!state.queues.length) {
    body.replaceChildren(h('tr', {}, h('td', { colspan: 5, class: 'text-muted' }, t('console.no_queues'))));
    return;
  }
  body.replaceChildren(
    ...state.queues.map((q) =>
      h('tr', { dataset: { group: q.service_group } },
        h('th', { scope: 'row' }, h('span', { class: 'sp-letter' }, q.letter ?? ''), ' ', q.name ?? q.service_group),
        h('td', { class: 'text-end' }, q.waiting ?? 0),
        h('td', { class: 'text-end' }, q.waiting_priority ?? 0),
        h('td', { class: 'text-end sp-mono' }, mmss(q.longest_wait_seconds)),
        h('td', { class: 'text-end sp-mono', title: q.wait_basis ?? '', 'data-testid': 'wait-estimate' },
          q.wait_p90_seconds ? `${mmss(q.wait_p50_seconds)}–${mmss(q.wait_p90_seconds)}` : '—',
          h('span', { class: 'visually-hidden' }, ` (${q.wait_basis ?? ''})`)),
      ),
    ),
  );
}

async function refreshParked() {
  try {
    const res = await api('GET', '/console/parked');
    renderParked(res.cases ?? []);
  } catch (err) {
    if (err.status === 401) return goLogin();
  }
}

function renderParked(cases) {
  $('parked-empty').hidden = cases.length > 0;
  $('parked-list').replaceChildren(
    ...cases.map((c) =>
      h('li', { class: 'd-flex align-items-center justify-content-between gap-2 py-1' },
        h('span', {}, h('strong', { class: 'sp-ticket-label-sm' }, c.ticket_label), ' — ', c.service_name ?? c.service_code),
        h('button', {
          type: 'button',
          class: 'btn btn-outline-primary btn-sm',
          'aria-label': `${t('case.resume')} ${c.ticket_label}`,
          onclick: (ev) => caseAction(ev.currentTarget, c.id, 'resume'),
        }, t('case.resume')),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------
// Calling

function bindCalls() {
  $('call-next').addEventListener('click', callNext);
  $('call-ticket-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const ticket = $('call-ticket-input').value.trim().toUpperCase();
    if (!ticket) {
      showError(form, { message: t('console.ticket_required'), fields: [{ field: 'ticket', description: t('console.ticket_required') }] });
      return;
    }
    await withBusy(form.querySelector('button[type=submit]'), async () => {
      const res = await api('POST', '/console/call-ticket', { ticket });
      hideRatingSlip();
      $('call-ticket-input').value = '';
      showCall(res.call);
      await refreshAfterAction();
    }, { form });
  });
}

async function callNext() {
  const btn = $('call-next');
  if (btn.disabled) return;
  await withBusy(btn, async () => {
    const res = await api('POST', '/console/call-next');
    hideRatingSlip();
    if (!res.call) {
      state.lastCall = null;
      renderCall(res.decision);
      announce(t('console.nobody_waiting'));
    } else {
      showCall(res.call);
    }
    await refreshAfterAction();
  }, { alertEl: $('call-alert') });
}

function showCall(call) {
  if (!call) return;
  state.lastCall = call;
  state.kase = call.case;
  resetCaseForms();
  renderCall();
  renderCase();
  announce(t('console.called_announce', { label: call.ticket_label, counter: call.counter_number }));
}

function renderCall(emptyDecision) {
  const call = state.lastCall;
  $('called-info').hidden = !call;
  $('called-empty').hidden = !!call;
  if (!call) {
    $('called-empty').textContent = emptyDecision ? why(emptyDecision, '') : t('console.no_call');
    return;
  }
  $('called-label').textContent = call.ticket_label;
  $('called-counter').textContent = call.counter_number;
  const d = call.decision ?? {};
  $('called-explanation').textContent = why(d, call.ticket_label);
}

/** Why a ticket was called, in the page's language, from the decision's reason code
 * (the server's English explanation is for audits; it stays in the title attribute). */
function why(decision, ticketLabel) {
  const key = `why.${decision.reason}`;
  const text = t(key, { label: ticketLabel, waited: decision.waited_minutes ?? 0, bound: decision.bound_minutes ?? 0 });
  $('called-explanation').title = decision.explanation ?? '';
  return text === key ? (decision.explanation ?? '') : text;
}

// ---------------------------------------------------------------------------------------
// The case

async function loadCase(id) {
  try {
    const res = await api('GET', `/cases/${encodeURIComponent(id)}`);
    state.kase = res.case;
    renderCase();
  } catch (err) {
    if (err.status === 401) return goLogin();
    showError(null, err, $('page-alert'));
  }
}

function renderCase() {
  const c = state.kase;
  $('case-card').hidden = !c;
  if (!c) return watchBudget(null, false);
  $('case-label').textContent = c.ticket_label;
  $('case-service').textContent = c.service_name ?? c.service_code;
  $('case-channel').textContent = label('channel', c.channel);
  $('case-waited').textContent = mmss(c.waited_seconds);
  $('case-priority').textContent = label('priority', c.priority_category || 'none');
  const status = $('case-status');
  status.textContent = label('status', c.status) + (c.outcome_code ? ` — ${label('outcome', c.outcome_code)}` : '');
  status.dataset.status = c.status;
  status.className = `badge sp-status sp-status-${c.status}`;
  $('case-call-count').textContent = c.call_count ?? 0;
  const docs = c.required_documents ?? [];
  $('case-documents').replaceChildren(...(docs.length ? docs.map((d) => h('li', {}, d)) : [h('li', { class: 'list-unstyled' }, '—')]));
  $('identity-block').hidden = !c.has_requester;

  fillOutcomes(c.outcomes ?? []);
  const open = !CLOSED.has(c.status);
  for (const el of $('case-actions').querySelectorAll('button, select, input')) el.disabled = !open;
  watchBudget(c, open);
  fillSelect($('transfer-group'), [
    { value: '', text: t('case.choose_queue') },
    ...state.groups.filter((g) => g.code !== c.service_group).map((g) => ({ value: g.code, text: `${g.letter} — ${g.name}` })),
  ]);

  const certType = CERT_TYPES[c.service_code] ?? (/^registry\..+_certificate$/.test(c.service_code) ? c.service_code.slice(9, -12) : null);
  $('certificate-block').hidden = !certType;
  if (certType && !$('certificate-form').dataset.caseId) {
    $('certificate-form').dataset.caseId = c.id;
    if ([...$('cert-type').options].some((o) => o.value === certType)) $('cert-type').value = certType;
  }
}

// The outcomes a case completes with: its catalogue entry's when it lists them (the info
// desk's answered, form given, redirected), else the general ones written in the page.
let generalOutcomes = null;
function fillOutcomes(outcomes) {
  const select = $('complete-outcome');
  generalOutcomes ??= [...select.options].map((o) => o.cloneNode(true));
  const key = `${t('case.choose_outcome')}:${outcomes.map((o) => o.code).join(',')}`;
  if (select.dataset.outcomes === key) return;
  select.dataset.outcomes = key;
  if (!outcomes.length) {
    select.replaceChildren(...generalOutcomes.map((o) => o.cloneNode(true)));
    for (const o of select.options) if (o.dataset.i18n) o.textContent = t(o.dataset.i18n);
    return;
  }
  // The service's own first; the general ones stay below, for a case that turned out to
  // be something else.
  const own = new Set(outcomes.map((o) => o.code));
  const general = generalOutcomes.filter((o) => o.value && !own.has(o.value)).map((o) => {
    const copy = o.cloneNode(true);
    if (copy.dataset.i18n) copy.textContent = t(copy.dataset.i18n);
    return copy;
  });
  select.replaceChildren(
    h('option', { value: '' }, t('case.choose_outcome')),
    h('optgroup', { label: t('case.service_outcomes') },
      ...outcomes.map((o) => h('option', { value: o.code }, label('outcome', o.code) === o.code ? o.name : label('outcome', o.code)))),
    h('optgroup', { label: t('case.other_outcomes') }, ...general),
  );
}

// The counter budget (the catalogue's expected minutes): once a case held at the counter
// runs past it, the card suggests the back office or an appointment. The server's
// `serving_seconds` was read when the card was; the timer counts on from there.
let budgetTimer = null;
function watchBudget(c, open) {
  clearTimeout(budgetTimer);
  const alert = $('over-budget');
  alert.hidden = true;
  if (!c || !open || !c.budget_seconds || !c.serving_seconds) return;
  const show = () => {
    alert.textContent = t('case.over_budget', { minutes: Math.round(c.budget_seconds / 60) });
    alert.hidden = false;
  };
  const left = c.budget_seconds - c.serving_seconds;
  if (left < 0) show();
  else budgetTimer = setTimeout(show, (left + 1) * 1000);
}

function resetCaseForms() {
  for (const id of ['complete-form', 'park-form', 'transfer-form', 'escalate-form', 'identity-form', 'certificate-form']) {
    const f = $(id);
    f.reset();
    clearErrors(f);
  }
  delete $('certificate-form').dataset.caseId;
  $('identity-form').hidden = true;
  $('identity-show').setAttribute('aria-expanded', 'false');
  $('identity-data').hidden = true;
  $('certificate-result').hidden = true;
  $('case-alert').hidden = true;
}

function bindCase() {
  $('complete-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const outcome = $('complete-outcome').value;
    if (!outcome) {
      showError(form, { message: t('case.outcome_required'), fields: [{ field: 'outcome_code', description: t('case.outcome_required') }] }, $('case-alert'));
      return;
    }
    await withBusy($('complete-btn'), async () => {
      const res = await api('POST', `/cases/${state.kase.id}/complete`, { outcome_code: outcome });
      // The completion's reply does not read the catalogue: keep the outcomes shown.
      state.kase = { ...res.case, outcomes: state.kase.outcomes };
      renderCase();
      // Served in person and done: the citizen may rate it (one continuing by appointment
      // is rated after the appointment).
      if (state.kase.status === 'completed' && state.kase.outcome_code !== 'appointment_requested') showRatingSlip(state.kase);
      announce(`${state.kase.ticket_label}: ${label('status', state.kase.status)}`);
      if (res.next_call) showCall(res.next_call);
      await refreshAfterAction();
    }, { form, alertEl: $('case-alert') });
  });
  $('recall-btn').addEventListener('click', (ev) => caseAction(ev.currentTarget, state.kase?.id, 'recall'));
  $('no-show-btn').addEventListener('click', (ev) => caseAction(ev.currentTarget, state.kase?.id, 'no-show'));
  $('park-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const reason = $('park-reason').value.trim();
    if (!reason) return showError(form, requiredError('reason'), $('case-alert'));
    await caseAction(form.querySelector('button[type=submit]'), state.kase?.id, 'park', { reason }, form);
  });
  // A case moving to another queue becomes one of that queue's services.
  $('transfer-group').addEventListener('change', () => {
    const group = $('transfer-group').value;
    fillSelect($('transfer-service'), (state.services ?? [])
      .filter((s) => s.service_group === group)
      .map((s) => ({ value: s.code, text: s.name })), { keep: false });
  });
  $('transfer-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const to = $('transfer-group').value;
    const service = $('transfer-service').value;
    const reason = $('transfer-reason').value.trim();
    if (!to) return showError(form, requiredError('to_service_group'), $('case-alert'));
    if (!service) return showError(form, requiredError('to_service_code'), $('case-alert'));
    if (!reason) return showError(form, requiredError('reason'), $('case-alert'));
    await caseAction(form.querySelector('button[type=submit]'), state.kase?.id, 'transfer',
      { to_service_group: to, to_service_code: service, reason }, form);
  });

  $('escalate-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const note = $('escalate-note').value.trim();
    if (!note) return showError(form, requiredError('context_note'), $('case-alert'));
    const id = state.kase?.id;
    if (!id) return;
    await withBusy(form.querySelector('button[type=submit]'), async () => {
      const res = await api('POST', `/cases/${encodeURIComponent(id)}/escalate`, { context_note: note });
      showReceipt(res.receipt);
      // The case left the counter for the back office: nothing is in front of the operator.
      state.kase = null;
      renderCase();
      announce(t('escalate.receipt_heading'));
      await refreshAfterAction();
    }, { form, alertEl: $('case-alert') });
  });
  $('to-appointment').addEventListener('click', async (ev) => {
    const form = $('escalate-form');
    const note = $('escalate-note').value.trim();
    if (!note) return showError(form, requiredError('context_note'), $('case-alert'));
    const id = state.kase?.id;
    if (!id) return;
    const service = state.kase?.service_code ?? '';
    await withBusy(ev.currentTarget, async () => {
      await api('POST', `/cases/${encodeURIComponent(id)}/appointment`, { context_note: note });
      // Completed at the counter; the calendar books it with the citizen still here (the
      // booking names the case it continues).
      window.open(`/calendario?case=${encodeURIComponent(id)}&service=${encodeURIComponent(service)}`, '_blank', 'noopener');
      state.kase = null;
      renderCase();
      announce(t('appointment.done'));
      await refreshAfterAction();
    }, { form, alertEl: $('case-alert') });
  });
  $('receipt-print').addEventListener('click', () => window.print());

  $('identity-show').addEventListener('click', () => {
    const form = $('identity-form');
    form.hidden = !form.hidden;
    $('identity-show').setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) $('identity-purpose').focus();
  });
  $('identity-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    await withBusy(form.querySelector('button[type=submit]'), async () => {
      const res = await api('POST', `/cases/${state.kase.id}/requester`, { purpose: $('identity-purpose').value });
      $('identity-name').textContent = res.display_name ?? '—';
      $('identity-fiscal-code').textContent = res.fiscal_code ?? '—';
      $('identity-birth-date').textContent = fmtDate(res.birth_date);
      $('identity-data').hidden = false;
      form.hidden = true;
      $('identity-show').setAttribute('aria-expanded', 'false');
      if (res.fiscal_code && !$('cert-fiscal-code').value) $('cert-fiscal-code').value = res.fiscal_code;
    }, { form });
  });

  $('certificate-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const body = {
      fiscal_code: $('cert-fiscal-code').value.trim().toUpperCase(),
      type: $('cert-type').value,
      use: $('cert-use').value.trim(),
      exemption_code: $('cert-exemption').value.trim(),
    };
    const missing = ['fiscal_code', 'use'].filter((k) => !body[k]).map((k) => ({ field: k, description: t('form.required') }));
    if (missing.length) return showError(form, { message: t('form.invalid'), fields: missing });
    await withBusy(form.querySelector('button[type=submit]'), async () => {
      const res = await api('POST', `/cases/${state.kase.id}/certificates`, body);
      const cert = res.certificate;
      $('certificate-code').textContent = cert.verification_code;
      $('certificate-pdf').href = res.pdf_url;
      $('certificate-verify').href = cert.verification_url || `/verifica/${encodeURIComponent(cert.verification_code)}`;
      $('certificate-result').hidden = false;
      $('complete-outcome').value = 'issued';
      announce(`${t('cert.verification_code')}: ${cert.verification_code}`);
    }, { form });
  });
}

/** The citizen's receipt of a hand-off to the back office, ready to print. */
function showReceipt(receipt) {
  $('receipt-case').textContent = receipt.case_id;
  $('receipt-service').textContent = receipt.service_code;
  $('receipt-protocol').textContent = receipt.protocol_registration_id ?? t('escalate.no_protocol');
  $('receipt-answer-by').textContent = fmtDate(receipt.answer_by);
  $('receipt-answer-by').dataset.day = receipt.answer_by;
  $('escalation-receipt').hidden = false;
}

function requiredError(field) {
  return { message: t('form.invalid'), fields: [{ field, description: t('form.required') }] };
}

/** POST /cases/{id}/{action}; the response carries {case} or {call}. */
async function caseAction(button, id, action, body, form) {
  if (!id) return;
  await withBusy(button, async () => {
    const res = await api('POST', `/cases/${encodeURIComponent(id)}/${action}`, body);
    if (res?.call) {
      showCall(res.call);
    } else if (res?.case) {
      if (!state.kase || state.kase.id === res.case.id) {
        state.kase = res.case;
        renderCase();
        announce(`${res.case.ticket_label}: ${label('status', res.case.status)}`);
      }
    }
    await refreshAfterAction();
  }, { form, alertEl: $('case-alert') });
}

// ---------------------------------------------------------------------------------------
// Keyboard shortcuts (never while typing)

function bindShortcuts() {
  const dialog = $('shortcut-help');
  $('shortcut-help-btn').addEventListener('click', () => dialog.showModal());
  document.addEventListener('keydown', (ev) => {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) return;
    const target = ev.target;
    if (target instanceof Element && target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]')) return;
    if (dialog.open) return; // Esc closes the dialog natively
    const key = ev.key.toLowerCase();
    const open = state.kase && !CLOSED.has(state.kase.status);
    let handled = true;
    if (ev.key === '?') dialog.showModal();
    else if (key === 'n') callNext();
    else if (key === 'c' && open) $('complete-outcome').focus();
    else if (key === 'r' && open) $('recall-btn').click();
    else if (key === 'a' && open) $('no-show-btn').click();
    else if (key === 'p' && open) $('park-reason').focus();
    else if (key === 't' && open) $('transfer-group').focus();
    else handled = false;
    if (handled) ev.preventDefault();
  });
}
