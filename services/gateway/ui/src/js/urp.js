// The URP's screens (/urp): at the counter, a citizen's report or complaint and a formal
// access request (documents, simple or generalised civic access); in the URP's office,
// the open reports with the reply form (the masked text; the unmasked text and the person
// on request, each read audited by URP) and the access requests on their terms — the
// counter-interested parties and their objections, the decision with its grounds and
// reasons, the review with the Garante (the transparency officer, a manager).
// ?segnalazione={code|id} and ?accesso={id} open one directly.
import { GROUNDS } from './urp-i18n.js';
import { api, hasRole, requireSession, showError, withBusy } from './api.js';
import { announce, fmtDate, h, initPage, label, showUser, uuid } from './common.js';
import { onLangChange, t } from './i18n.js';
import { fileReport, filedMessage, loadCategories, reportDetails, reportRef } from './reports.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let session = null;
let report = null;
let access = null;

initPage();
start().catch((err) => showError(null, err, $('page-alert')));

async function start() {
  session = await requireSession(['info_desk', 'polivalente', 'tecnico', 'back_office', 'manager']);
  showUser();
  const counter = hasRole(session, 'info_desk', 'polivalente', 'tecnico', 'back_office');
  const office = hasRole(session, 'manager') || (hasRole(session, 'back_office') && session.account.department === 'urp');
  $('counter-area').hidden = !counter;
  $('office-area').hidden = !office;
  if (counter) await startCounter();
  if (office) await startOffice();
  onLangChange(() => {
    if (counter) loadCategories($('cr-category')).catch(() => {});
    if (report) showReport(report);
    if (access) showAccess(access);
    if (office) {
      loadReports().catch(() => {});
      loadAccess().catch(() => {});
    }
  });
}

// ---------------------------------------------------------------------------------------
// The counter

async function startCounter() {
  const form = $('counter-report-form');
  await loadCategories($('cr-category'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const filed = await fileReport(form, '/urp/reports');
    if (!filed) return;
    form.reset();
    $('counter-report-filed').textContent = filedMessage(filed);
    $('counter-report-filed').hidden = false;
    $('counter-report-filed').focus();
    announce(filedMessage(filed));
  });
  const af = $('access-form');
  const syncInterest = () => {
    $('acc-interest-group').hidden = af.elements.kind.value !== 'documents';
  };
  for (const r of af.querySelectorAll('input[name=kind]')) r.addEventListener('change', syncInterest);
  syncInterest();
  af.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    await withBusy(af.querySelector('button[type=submit]'), async () => {
      const v = (n) => af.elements[n].value;
      const kind = v('kind');
      const { access: filed } = await api('POST', '/urp/access-requests', {
        kind,
        subject: v('subject'),
        interest: kind === 'documents' ? v('interest') : '',
        fiscal_code: v('fiscal_code').trim().toUpperCase(),
        first_name: v('first_name').trim(),
        last_name: v('last_name').trim(),
        email: v('email').trim(),
        idempotency_key: af.dataset.key || (af.dataset.key = uuid()),
      });
      delete af.dataset.key;
      af.reset();
      syncInterest();
      const done = $('access-filed');
      done.replaceChildren(t('acc.filed', { protocol: filed.protocol_number, due: fmtDate(filed.due_date) }));
      done.dataset.accessId = filed.id;
      done.hidden = false;
      done.focus();
      if (!$('office-area').hidden) await loadAccess();
    }, { form: af });
  });
}

// ---------------------------------------------------------------------------------------
// The office: reports

async function startOffice() {
  $('reports-refresh').addEventListener('click', () => withBusy($('reports-refresh'), loadReports, { alertEl: $('page-alert') }));
  $('access-refresh').addEventListener('click', () => withBusy($('access-refresh'), loadAccess, { alertEl: $('page-alert') }));
  $('report-ref-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = $('report-ref-form');
    const ref = reportRef(f.elements.ref.value);
    if (!ref) {
      showError(f, { message: t('rep.bad_ref'), fields: [{ field: 'ref', description: t('rep.bad_ref') }] });
      return;
    }
    withBusy(f.querySelector('button'), () => openReport(ref), { form: f });
  });
  $('reveal').addEventListener('click', () => withBusy($('reveal'), reveal, { alertEl: $('page-alert') }));
  $('reply-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sendReply();
  });
  await Promise.all([loadReports(), loadAccess()]);
  const r = params.get('segnalazione');
  if (r && reportRef(r)) await openReport(reportRef(r));
  const a = params.get('accesso');
  if (a && /^[0-9a-f-]{36}$/i.test(a)) await openAccess(a);
}

async function loadReports() {
  const { reports } = await api('GET', '/urp/reports');
  $('open-reports').replaceChildren(...reports.map((r) => h('li', { class: 'mb-2' },
    h('button', { type: 'button', class: 'btn btn-link p-0', 'data-testid': 'open-report', 'data-code': r.code, onclick: () => openReport(r.id) },
      `${r.code} — ${label('rep.kind', r.kind)}: ${r.category_name}`),
    h('div', { class: 'small text-muted' }, `${t('rep.due')} ${fmtDate(r.due_date)} · ${label('rep.status', r.status)}`))));
  $('open-reports-empty').hidden = reports.length > 0;
}

async function openReport(ref) {
  const { report: r } = await api('GET', `/urp/reports/${encodeURIComponent(ref)}`);
  $('access-panel').hidden = true;
  access = null;
  $('revealed').hidden = true;
  $('revealed').replaceChildren();
  $('replied').hidden = true;
  showReport(r);
  $('report-panel').hidden = false;
  $('report-panel-heading').focus?.();
}

function showReport(r) {
  report = r;
  $('report-panel-heading').textContent = `${label('rep.kind', r.kind)} ${r.code}`;
  $('report-panel-details').replaceChildren(reportDetails(r));
  const closed = r.status === 'closed';
  $('reply-form').hidden = closed;
}

async function reveal() {
  const { requester, description } = await api('POST', `/urp/reports/${report.id}/requester`, { purpose: 'reply' });
  const who = [requester.first_name, requester.last_name].filter(Boolean).join(' ');
  const row = (key, value) => [h('dt', { class: 'col-sm-4' }, t(key)), h('dd', { class: 'col-sm-8' }, value || '—')];
  $('revealed').replaceChildren(
    h('h4', { class: 'h6' }, t('urp.revealed_heading')),
    h('dl', { class: 'row' },
      row('rep.description', h('span', { class: 'sp-prewrap', 'data-testid': 'revealed-description' }, description)),
      row('acc.requester', who || t('urp.anonymous')),
      row('rep.fiscal_code', requester.fiscal_code),
      row('rep.email', requester.email),
      row('rep.phone', requester.phone)));
  $('revealed').hidden = false;
}

async function sendReply() {
  const form = $('reply-form');
  await withBusy(form.querySelector('button[type=submit]'), async () => {
    const { report: r } = await api('POST', `/urp/reports/${report.id}/reply`, {
      text: form.elements.text.value,
      outcome: form.elements.outcome.value,
      idempotency_key: form.dataset.key || (form.dataset.key = uuid()),
    });
    delete form.dataset.key;
    form.reset();
    showReport(r);
    $('replied').textContent = t('urp.replied', { protocol: r.reply_protocol_number ?? '—', code: r.code });
    $('replied').hidden = false;
    announce($('replied').textContent);
    await loadReports();
  }, { form });
}

// ---------------------------------------------------------------------------------------
// The office: access requests

async function loadAccess() {
  const { requests } = await api('GET', '/urp/access-requests');
  $('open-access').replaceChildren(...requests.map((w) => {
    const a = w.access;
    const title = a ? `${a.protocol_number} — ${label('acc.kind', a.kind)}` : w.note.slice(0, 80);
    return h('li', { class: 'mb-2' },
      h('button', { type: 'button', class: 'btn btn-link p-0', 'data-testid': 'open-access-request', 'data-id': w.id, onclick: () => openAccess(w.id, w) }, title),
      h('div', { class: 'small text-muted' }, `${label('acc.stage', w.stage)} · ${t('acc.due')} ${fmtDate(a?.due_date ?? w.work_due_date)}`));
  }));
  $('open-access-empty').hidden = requests.length > 0;
}

async function openAccess(id, work) {
  let a = work?.access ?? null;
  if (!a && !hasRole(session, 'manager')) a = (await api('GET', `/urp/access-requests/${id}`)).access;
  $('report-panel').hidden = true;
  report = null;
  $('access-done').hidden = true;
  showAccess(a ?? { id, unreadable: true, note: work?.note ?? '' });
  $('access-panel').hidden = false;
}

/** Runs one office step and shows the request as it now is. */
async function step(form, path, body, done) {
  await withBusy(form.querySelector('button[type=submit]'), async () => {
    const { access: a } = await api('POST', `/urp/access-requests/${access.id}/${path}`, body);
    showAccess(a);
    if (done) {
      $('access-done').textContent = done(a);
      $('access-done').hidden = false;
      announce($('access-done').textContent);
    }
    await loadAccess();
  }, { form });
}

function field(id, key, control, hint) {
  return h('div', { class: 'form-group' },
    h('label', { for: id, class: 'active' }, t(key)), control,
    hint ? h('small', { id: `${id}-hint`, class: 'form-text' }, t(hint)) : null);
}

/** A select of `values`, labelled by the message `prefix`, each option by `prefix.value`. */
function select(id, name, prefix, values, testid) {
  return h('div', { class: 'select-wrapper mb-3' },
    h('label', { for: id }, t(prefix)),
    h('select', { id, name, 'data-testid': testid }, values.map((v) => h('option', { value: v }, label(prefix, v)))));
}

function form(id, children, submitKey, testid, onsubmit) {
  const f = h('form', { id, class: 'mt-3 border-top pt-3', novalidate: true },
    ...children,
    h('div', { class: 'alert alert-danger', role: 'alert', 'data-form-alert': true, hidden: true }),
    h('button', { type: 'submit', class: 'btn btn-primary btn-sm', 'data-testid': testid }, t(submitKey)));
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    onsubmit(f);
  });
  return f;
}

function showAccess(a) {
  access = a;
  const box = $('access-details');
  if (a.unreadable) {
    $('access-panel-heading').textContent = a.id;
    box.replaceChildren(h('p', {}, a.note), h('p', { class: 'text-muted' }, t('acc.not_visible')), ...reviewForms(a));
    return;
  }
  $('access-panel-heading').textContent = `${a.protocol_number} — ${label('acc.kind', a.kind)}`;
  const row = (key, value, testid) => [h('dt', { class: 'col-sm-5' }, t(key)), h('dd', { class: 'col-sm-7', 'data-testid': testid }, value ?? '—')];
  const terms = h('dl', { class: 'row sp-terms', 'data-testid': 'access-terms' },
    ...row('acc.state', label('acc.state', a.state), 'access-state'),
    ...row('acc.received', fmtDate(a.receive_time)),
    ...row('acc.due', fmtDate(a.due_date), 'access-due'),
    ...row('acc.objection_deadline', fmtDate(a.objection_deadline), 'access-objection-deadline'),
    ...row('acc.deliver_from', fmtDate(a.deliver_from_date), 'access-deliver-from'),
    ...row('acc.review_deadline', fmtDate(a.review_deadline), 'access-review-deadline'),
    ...row('acc.review_due', fmtDate(a.review_due_date)),
    ...row('acc.subject', h('span', { class: 'sp-prewrap' }, a.subject)),
    ...(a.interest ? row('acc.interest', h('span', { class: 'sp-prewrap' }, a.interest)) : []),
    ...(a.irregular_reason ? row('acc.irregular', `${fmtDate(a.irregular_notified_date)}: ${a.irregular_reason}`) : []),
    ...row('acc.counter_interested', a.counter_interested ? `${a.counter_interested} (${fmtDate(a.counter_interested_notified_date)})` : '0'),
    ...(a.decision ? row('acc.decision', label('acc.decision', a.decision), 'access-decision') : []),
    ...(a.grounds.length ? row('acc.grounds', groundsText(a)) : []),
    ...(a.reasons ? row('acc.reasons', h('span', { class: 'sp-prewrap' }, a.reasons)) : []),
    ...(a.remedies ? row('acc.remedies', h('span', { class: 'sp-prewrap small' }, a.remedies)) : []),
    ...(a.garante_asked_date ? row('acc.garante_ask', t('acc.garante', { asked: fmtDate(a.garante_asked_date), given: fmtDate(a.garante_given_date) })) : []),
    ...(a.review_decision ? row('acc.review_decision', `${label('acc.review_decision', a.review_decision)} — ${a.review_reasons ?? ''}`) : []),
  );
  const objections = h('div', {},
    h('h4', { class: 'h6 mt-2' }, t('acc.objections')),
    a.objections.length
      ? h('ul', { 'data-testid': 'access-objections' }, a.objections.map((o) => h('li', {}, `${t('acc.party')} ${o.party}, ${fmtDate(o.received_date)}: ${o.reasons}`)))
      : h('p', { class: 'text-muted small' }, t('acc.no_objections')));
  const open = a.state === 'received' || a.state === 'irregular';
  const parts = [terms, objections];
  if (open) parts.push(...officeForms(a));
  parts.push(...reviewForms(a));
  box.replaceChildren(...parts);
}

function groundsText(a) {
  const all = [...GROUNDS.civic, ...GROUNDS.documents];
  return a.grounds.map((g) => `${g} — ${all.find(([c]) => c === g)?.[1] ?? ''}`).join('; ');
}

function officeForms(a) {
  const forms = [];
  if (a.kind === 'documents' && a.state === 'received' && !a.irregular_notified_date) {
    forms.push(form('irregular-form', [
      field('acc-irregular-reason', 'acc.irregular_reason', h('textarea', { class: 'form-control', id: 'acc-irregular-reason', name: 'reason', rows: 2, maxlength: 1000 })),
    ], 'acc.notify_irregular', 'access-irregular', (f) => step(f, 'irregular', { reason: f.elements.reason.value })));
  }
  if (a.state === 'irregular') {
    forms.push(form('correction-form', [], 'acc.correction', 'access-correction', (f) => step(f, 'correction')));
  }
  if (a.state === 'received' && !a.counter_interested) {
    forms.push(form('counter-interested-form', [
      field('acc-parties', 'acc.parties', h('input', { type: 'number', class: 'form-control', id: 'acc-parties', name: 'parties', min: 1, max: 50, value: 1 })),
      field('acc-received-date', 'acc.received_date', h('input', { type: 'date', class: 'form-control', id: 'acc-received-date', name: 'received_date', 'aria-describedby': 'acc-received-date-hint' }), 'acc.received_date_hint'),
    ], 'acc.notify', 'access-notify-counter-interested', (f) => step(f, 'counter-interested', {
      parties: Number(f.elements.parties.value), received_date: f.elements.received_date.value,
    })));
  }
  if (a.state === 'received' && a.counter_interested > a.objections.length) {
    forms.push(form('objection-form', [
      field('acc-party', 'acc.party', h('input', { type: 'number', class: 'form-control', id: 'acc-party', name: 'party', min: 1, max: a.counter_interested, value: a.objections.length + 1 })),
      field('acc-objection-reasons', 'acc.objection_reasons', h('textarea', { class: 'form-control', id: 'acc-objection-reasons', name: 'reasons', rows: 2, maxlength: 4000 })),
    ], 'acc.record_objection', 'access-record-objection', (f) => step(f, 'objections', {
      party: Number(f.elements.party.value), reasons: f.elements.reasons.value,
    })));
  }
  if (a.state === 'received') forms.push(decisionForm(a));
  return forms;
}

function decisionForm(a) {
  const decisions = a.kind === 'civic_simple' ? ['published', 'refused'] : ['granted', 'partially_granted', 'refused', 'deferred'];
  const list = a.kind === 'documents' ? GROUNDS.documents : GROUNDS.civic;
  const grounds = h('fieldset', { class: 'sp-grounds mb-3', 'aria-describedby': 'acc-grounds-hint' },
    h('legend', { class: 'h6' }, t('acc.grounds')),
    h('small', { id: 'acc-grounds-hint', class: 'form-text d-block mb-2' }, t('acc.grounds_hint')),
    h('input', { type: 'hidden', name: 'grounds' }),
    list.map(([code, text]) => h('div', { class: 'form-check' },
      h('input', { class: 'form-check-input', type: 'checkbox', id: `ground-${code}`, value: code, 'data-ground': code, 'data-testid': `ground-${code}` }),
      h('label', { class: 'form-check-label', for: `ground-${code}` }, `${code} — ${text}`))));
  const f = form('decision-form', [
    h('h4', { class: 'h6' }, t('acc.decision_heading')),
    select('acc-decision', 'decision', 'acc.decision', decisions, 'access-decision-select'),
    grounds,
    field('acc-reasons', 'acc.reasons', h('textarea', { class: 'form-control', id: 'acc-reasons', name: 'reasons', rows: 3, maxlength: 8000, 'data-testid': 'access-reasons' })),
    a.kind === 'civic_simple'
      ? field('acc-published-url', 'acc.published_url', h('input', { type: 'url', class: 'form-control', id: 'acc-published-url', name: 'published_url', maxlength: 500 }))
      : field('acc-deferred-until', 'acc.deferred_until', h('input', { type: 'date', class: 'form-control', id: 'acc-deferred-until', name: 'deferred_until' })),
    a.kind === 'documents'
      ? field('acc-copy-pages', 'acc.copy_pages', h('input', { type: 'number', class: 'form-control', id: 'acc-copy-pages', name: 'copy_pages', min: 0, max: 100000, value: 0 }))
      : null,
  ].filter(Boolean), 'acc.decide', 'access-decide', (form) => step(form, 'decision', {
    decision: form.elements.decision.value,
    grounds: [...form.querySelectorAll('input[data-ground]:checked')].map((c) => c.value),
    reasons: form.elements.reasons.value,
    deferred_until: form.elements.deferred_until?.value ?? '',
    copy_pages: Number(form.elements.copy_pages?.value || 0),
    published_url: form.elements.published_url?.value.trim() ?? '',
    idempotency_key: form.dataset.key || (form.dataset.key = uuid()),
  }, (done) => t('acc.decided', { decision: label('acc.decision', done.decision) })));
  return f;
}

function reviewForms(a) {
  const forms = [];
  const civic = a.kind !== 'documents';
  if (!a.unreadable && civic && (a.state === 'decided' || a.state === 'silently_refused') && !a.review_requested_date) {
    forms.push(form('review-request-form', [
      h('h4', { class: 'h6' }, t('acc.review_heading')),
      select('acc-review-by', 'by', 'acc.review_by', ['requester', 'counter_interested'], 'access-review-by'),
      field('acc-review-reasons', 'acc.review_reasons', h('textarea', { class: 'form-control', id: 'acc-review-reasons', name: 'reasons', rows: 2, maxlength: 4000 })),
    ], 'acc.request_review', 'access-request-review', (f) => step(f, 'review', { by: f.elements.by.value, reasons: f.elements.reasons.value })));
  }
  if (hasRole(session, 'manager') && (a.unreadable || a.state === 'under_review')) {
    if (a.unreadable || !a.garante_asked_date) {
      forms.push(form('garante-ask-form', [], 'acc.garante_ask', 'access-garante-ask', (f) => step(f, 'garante', { opinion_received: false })));
    }
    if (a.unreadable || (a.garante_asked_date && !a.garante_given_date)) {
      forms.push(form('garante-given-form', [], 'acc.garante_given', 'access-garante-given', (f) => step(f, 'garante', { opinion_received: true })));
    }
    forms.push(form('review-decision-form', [
      select('acc-review-decision', 'decision', 'acc.review_decision', ['confirmed', 'overturned', 'partly_overturned'], 'access-review-decision'),
      field('acc-review-decision-reasons', 'acc.review_reasons_decision', h('textarea', { class: 'form-control', id: 'acc-review-decision-reasons', name: 'reasons', rows: 3, maxlength: 8000 })),
    ], 'acc.decide_review', 'access-decide-review', (f) => step(f, 'review-decision', {
      decision: f.elements.decision.value, reasons: f.elements.reasons.value,
      idempotency_key: f.dataset.key || (f.dataset.key = uuid()),
    })));
  }
  return forms;
}
