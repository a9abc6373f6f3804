// Back-office inbox (/back-office, tier 4): offers pushed by routing with their countdown,
// my items, the department's items; accept, decline, complete with the outcome. Routing
// decides who an offer is for; this page only shows and asks.
import './urp-i18n.js';
import { api, requireSession, showError, withBusy } from './api.js';
import { announce, fmtDate, fmtDateTime, fmtTime, h, initPage, label, mmss, showUser } from './common.js';
import { onLangChange, t } from './i18n.js';

const REFRESH_EVERY_MS = 4000;
// The outcomes an item may be completed with are its service's in the catalogue (the
// item view carries them, with the catalogue's Italian names: the registry's address
// check lists the two it reads). A service that lists none takes the general ones, which
// routing accepts then and which this page names itself, in the user's language.
const GENERAL_OUTCOMES = ['approved', 'rejected', 'informed'];
const $ = (id) => document.getElementById(id);
const state = { operator: null, offers: [], mine: [], department: [], selected: null, history: [], change: null };
let refreshTimer = null;
let tickTimer = null;

initPage();
main().catch((err) => showError(null, err, $('page-alert')));

async function main() {
  await requireSession(['back_office', 'tecnico']);
  showUser();
  $('presence-toggle').addEventListener('click', togglePresence);
  $('complete-work-form').addEventListener('submit', completeSelected);
  bindResidenceSteps();
  onLangChange(render);
  await refresh();
  tickTimer = setInterval(tick, 1000);
}

async function refresh() {
  clearTimeout(refreshTimer);
  try {
    const [overview, offers, mine, department] = await Promise.all([
      api('GET', '/console'),
      api('GET', '/back-office/work?view=offered'),
      api('GET', '/back-office/work?view=mine'),
      api('GET', '/back-office/work?view=department'),
    ]);
    state.operator = overview.operator;
    const seen = new Set(state.offers.map((o) => o.id));
    state.offers = offers.items;
    state.mine = mine.items;
    state.department = department.items;
    for (const o of state.offers) if (!seen.has(o.id)) announce(`${t('bo.new_offer')}: ${o.service_code}`);
    if (state.selected) {
      const fresh = [...state.mine, ...state.offers, ...state.department].find((i) => i.id === state.selected.id);
      // The lists carry no outcomes (only the item view asks the catalogue): keep those
      // the item view brought.
      if (fresh) state.selected = { ...fresh, outcomes: state.selected.outcomes };
    }
    render();
    await loadResidence();
    $('work-updated').textContent = fmtTime();
  } catch (err) {
    if (err.status === 401) return location.assign(`/accesso?next=${encodeURIComponent('/back-office')}`);
    showError(null, err, $('page-alert'));
  }
  refreshTimer = setTimeout(refresh, REFRESH_EVERY_MS);
}

async function togglePresence() {
  const btn = $('presence-toggle');
  const next = state.operator?.presence === 'back_office' ? 'offline' : 'back_office';
  await withBusy(btn, async () => {
    const res = await api('POST', '/console/presence', { presence: next });
    state.operator = res.operator;
    announce(`${t('console.presence')}: ${label('presence', res.operator.presence)}`);
    await refresh();
  }, { alertEl: $('page-alert') });
}

function light(item) {
  return h('span', { class: `badge sp-light sp-light-${item.traffic_light}`, dataset: { light: item.traffic_light } },
    label('bo.light', item.traffic_light));
}

function due(item) {
  return item.due_date ? fmtDate(item.due_date) : t('bo.no_clock');
}

function render() {
  const op = state.operator;
  const badge = $('presence-badge');
  badge.textContent = label('presence', op?.presence);
  badge.dataset.presence = op?.presence ?? '';
  const receiving = op?.presence === 'back_office';
  const toggle = $('presence-toggle');
  toggle.setAttribute('aria-pressed', String(receiving));
  toggle.textContent = receiving ? t('bo.stop_receiving') : t('bo.receive');

  $('offers-list').replaceChildren(...state.offers.map((item) => h('li', { class: 'sp-offer', dataset: { item: item.id } },
    h('p', { class: 'mb-1' }, h('strong', {}, item.service_code), ' ', light(item), ' ', due(item)),
    h('p', { class: 'mb-1 small' }, item.context_note || '—'),
    h('p', { class: 'mb-1 small' }, t('bo.answer_within'), ' ',
      h('span', { class: 'sp-countdown', dataset: { expires: item.offer_expires_at ?? '' }, 'data-testid': 'offer-countdown' }, mmss(item.offer_seconds_left ?? 0))),
    h('div', { class: 'd-flex gap-2' },
      h('button', { type: 'button', class: 'btn btn-success btn-sm', 'data-testid': 'accept-offer', onclick: (ev) => answer(ev.currentTarget, item, 'accept') }, t('bo.accept')),
      h('button', { type: 'button', class: 'btn btn-outline-danger btn-sm', 'data-testid': 'decline-offer', onclick: (ev) => answer(ev.currentTarget, item, 'decline') }, t('bo.decline'))),
  )));
  $('offers-empty').hidden = state.offers.length > 0;

  $('mine-list').replaceChildren(...state.mine.map((item) => h('li', { class: 'sp-mine' },
    h('button', { type: 'button', class: 'btn btn-link p-0 text-start', 'data-testid': 'open-item', onclick: () => select(item) },
      item.service_code), ' ', light(item), ' ', due(item),
    item.escalation !== 'none' ? h('span', { class: 'badge bg-warning text-dark ms-1' }, label('bo.escalation', item.escalation)) : '',
  )));
  $('mine-empty').hidden = state.mine.length > 0;

  $('department-rows').replaceChildren(...state.department.map((item) => h('tr', {},
    h('td', {}, item.service_code),
    h('td', {}, label('bo.state', item.state)),
    h('td', {}, light(item), ' ', due(item)),
    h('td', {}, label('bo.escalation', item.escalation)),
  )));
  renderItem();
}

function renderItem() {
  const item = state.selected;
  $('item-card').hidden = !item;
  if (!item) return;
  $('item-service').textContent = item.service_code;
  const st = $('item-state');
  st.textContent = label('bo.state', item.state);
  st.dataset.state = item.state;
  const l = $('item-light');
  l.textContent = label('bo.light', item.traffic_light);
  l.className = `badge sp-light sp-light-${item.traffic_light}`;
  $('item-due').textContent = item.due_date ? fmtDate(item.due_date) : t('bo.no_clock');
  $('item-on-expiry').textContent = label('bo.on_expiry', item.outcome_on_expiry ?? 'none');
  $('item-escalation').textContent = label('bo.escalation', item.escalation)
    + (item.substitute_due_date ? ` — ${t('bo.substitute_by')} ${fmtDate(item.substitute_due_date)}` : '');
  $('item-note').textContent = item.context_note || '—';
  renderItemDocuments(item);
  $('complete-work-form').hidden = !item.held_by_me;
  renderOutcomes(item);
  $('item-history').replaceChildren(...state.history.map((s) => h('li', {},
    `${fmtDateTime(s.time)} — ${label('status', s.status)}${s.reason ? `: ${s.reason}` : ''}`)));
  hideCompleteWhereTheRegistryDecides(item);
}

// Work the department decides itself: the 10-bis phase of a change of residence ends with
// the answer to the observations (or the window lapsing), given in the residence panel
// below; an outcome picked here would not be the registry's decision.
const DECIDED_BY_THE_DEPARTMENT = ['registry.residence_reasons_against'];

function hideCompleteWhereTheRegistryDecides(item) {
  if (DECIDED_BY_THE_DEPARTMENT.includes(item.service_code)) $('complete-work-form').hidden = true;
}

/** The outcome <select>: the item's catalogue outcomes, or the general ones; the choice
 * already made stays while it is still offered (the page re-renders every refresh). */
function renderOutcomes(item) {
  const listed = item.outcomes ?? [];
  const options = listed.length
    ? listed.map((o) => [o.code, o.name])
    : GENERAL_OUTCOMES.map((code) => [code, t(`bo.outcome_${code}`)]);
  const select = $('work-outcome');
  const chosen = select.value;
  // The catalogue names its outcomes in Italian whatever the page's language: say so to
  // screen readers.
  const lang = listed.length ? 'it' : undefined;
  select.replaceChildren(...options.map(([code, name]) => h('option', { value: code, lang }, name)));
  select.value = options.some(([code]) => code === chosen) ? chosen : options[0][0];
}

/**
 * The item's documents by reference: title, type, size; a change of residence's link to
 * the gateway's read (which the registry authorises and audits), opened in a new tab.
 * Kept apart from the outcome code so both change without touching each other.
 */
function renderItemDocuments(item) {
  const refs = item.document_refs ?? [];
  if (!refs.length) {
    $('item-documents').replaceChildren(String(item.documents ?? 0));
    return;
  }
  const readable = residenceItem(item);
  $('item-documents').replaceChildren(h('ul', { class: 'mb-0 ps-3', 'data-testid': 'item-documents' },
    ...refs.map((d) => {
      const kind = d.media_type.split('/').pop().toUpperCase();
      const size = d.size_bytes < 1024 * 1024
        ? `${Math.ceil(d.size_bytes / 1024)} KB` : `${(d.size_bytes / 1024 / 1024).toFixed(1)} MB`;
      const title = d.title || t('bo.document_untitled');
      const name = readable
        ? h('a', {
          href: `/api/v1/residence-changes/${encodeURIComponent(item.procedure_id)}/documents/${encodeURIComponent(d.sha256)}`,
          target: '_blank', rel: 'noopener', 'data-testid': 'item-document-link',
        }, title)
        : title;
      return h('li', {}, name, ` — ${kind}, ${size}`);
    })));
}

async function select(item) {
  try {
    const card = await api('GET', `/back-office/work/${encodeURIComponent(item.id)}`);
    state.selected = card.item;
    state.history = card.history ?? [];
    state.change = null;
    renderItem();
    await loadResidence();
    $('item-heading').focus?.();
  } catch (err) {
    showError(null, err, $('page-alert'));
  }
}

async function answer(button, item, action) {
  await withBusy(button, async () => {
    const body = action === 'decline' ? { reason: '' } : undefined;
    const res = await api('POST', `/back-office/work/${encodeURIComponent(item.id)}/${action}`, body);
    announce(`${item.service_code}: ${label('bo.state', res.item.state)}`);
    if (action === 'accept') await select(res.item);
    await refresh();
  }, { alertEl: $('page-alert') });
}

async function completeSelected(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  const item = state.selected;
  if (!item) return;
  await withBusy(form.querySelector('button[type=submit]'), async () => {
    const reasons = $('work-reasons').value.trim();
    const res = await api('POST', `/back-office/work/${encodeURIComponent(item.id)}/complete`, {
      outcome_code: $('work-outcome').value,
      ...(reasons ? { result: { reasons } } : {}),
    });
    $('work-reasons').value = '';
    state.selected = res.item;
    announce(`${item.service_code}: ${label('bo.state', res.item.state)}`);
    renderItem();
    await refresh();
    // The registry hears of the outcome through routing's event: read the change again
    // shortly, so a failed check shows its next step (the notice) without a reload.
    setTimeout(loadResidence, 1000);
  }, { form, alertEl: $('item-alert') });
}

/** The offers' countdowns, each second; a lapsed offer disappears at the next refresh. */
function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll('.sp-countdown')) {
    const expires = Date.parse(el.dataset.expires);
    if (Number.isNaN(expires)) continue;
    el.textContent = mmss(Math.max(0, Math.round((expires - now) / 1000)));
  }
}

// ---------------------------------------------------------------------------------------
// The registry's change of residence: the 10-bis steps, each offered when the procedure
// waits for it (the registry decides; a step out of turn answers 409).

const RS_FORMS = ['rs-notice-form', 'rs-receipt-form', 'rs-observations-form', 'rs-answer-form'];

function residenceItem(item) {
  return item && item.origin === 'registry' && item.procedure_kind === 'residence_change' && item.procedure_id;
}

async function loadResidence() {
  const item = state.selected;
  if (!residenceItem(item)) {
    state.change = null;
    renderResidence();
    return;
  }
  try {
    const res = await api('GET', `/residence-changes/${encodeURIComponent(item.procedure_id)}`);
    const before = state.change?.next_step;
    state.change = res.residence_change;
    renderResidence(before !== state.change.next_step);
  } catch (err) {
    showError(null, err, $('item-alert'));
  }
}

function renderResidence(stepChanged = false) {
  const c = state.change;
  $('residence-steps').hidden = !c;
  if (!c) return;
  $('rs-protocol').textContent = c.protocol_number;
  $('rs-status').textContent = label('rs.status', c.status);
  $('rs-status').dataset.status = c.status;
  $('rs-status').dataset.step = c.next_step;
  $('rs-check-due').textContent = fmtDate(c.check_due);
  $('rs-check-failure').textContent = c.check_failure ?? '—';
  $('rs-notice').textContent = c.notice_sent_date
    ? `${fmtDate(c.notice_sent_date)} — ${t('escalate.protocol')} ${c.notice_protocol_number ?? ''}` : '—';
  $('rs-receipt').textContent = c.notice_received_date
    ? `${fmtDate(c.notice_received_date)} (${label('rs.delivery', c.notice_delivery)})` : '—';
  $('rs-window').textContent = fmtDate(c.observations_window_end);
  $('rs-observations').textContent = fmtDate(c.observations_date);
  $('rs-answer').textContent = c.observations_outcome
    ? `${label('rs.outcome', c.observations_outcome)}: ${c.observations_answer ?? ''}` : '—';
  for (const id of RS_FORMS) {
    const form = $(id);
    const open = form.dataset.step === c.next_step;
    form.hidden = !open;
    if (open && stepChanged) form.reset();
  }
  // Today in Rome, as the registry counts days (a UTC date is yesterday after 23:00).
  const today = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Rome' }).format(new Date());
  for (const id of ['rs-received-date', 'rs-observations-date']) if (!$(id).value) $(id).value = today;
}

function bindResidenceSteps() {
  const step = (formId, path, body) => $(formId).addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const c = state.change;
    if (!c) return;
    const payload = body();
    const missing = Object.entries(payload).filter(([, v]) => !v).map(([field]) => ({ field, description: t('form.required') }));
    if (missing.length) return showError(form, { message: t('form.invalid'), fields: missing });
    await withBusy(form.querySelector('button[type=submit]'), async () => {
      const res = await api('POST', `/residence-changes/${encodeURIComponent(c.id)}/${path}`, payload);
      state.change = res.residence_change;
      renderResidence(true);
      announce(`${t('rs.heading')}: ${label('rs.status', state.change.status)}`);
    }, { form });
  });
  step('rs-notice-form', 'notice', () => ({ reasons: $('rs-reasons').value.trim() }));
  step('rs-receipt-form', 'notice-receipt', () => ({ delivery: $('rs-delivery').value, received_date: $('rs-received-date').value }));
  step('rs-observations-form', 'observations', () => ({
    received_date: $('rs-observations-date').value, observations: $('rs-observations-text').value.trim(),
  }));
  step('rs-answer-form', 'answer', () => ({ outcome: $('rs-outcome').value, reasons: $('rs-answer-reasons').value.trim() }));
  onLangChange(() => renderResidence());
}
