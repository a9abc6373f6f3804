// Enrolment at the counter (/iscrizioni): a window open today with its published
// criteria, the application — the child's and the applicant's fiscal codes, the
// applicant's self-declarations (DPR 445/2000 artt. 46-47), the checklist of what the
// counter has seen — and the receipt with the application's code and protocol number,
// printed alone. Education decides every rule (the child's age, residence, one
// application per child); its errors come back on their fields.
import { api, clearErrors, requireSession, showError, withBusy } from './api.js';
import { announce, fillSelect, fmtDate, fmtDateTime, h, initPage, showUser, uuid } from './common.js';
import { onLangChange, t } from './i18n.js';

const $ = (id) => document.getElementById(id);
/** Who files at the counter (the gateway checks it again, with the department). */
const FILER_ROLES = ['polivalente', 'tecnico', 'back_office'];

const state = {
  windows: [],
  documents: [],
  receipt: null,
};

initPage();
main().catch((err) => showError(null, err, $('page-alert')));

async function main() {
  await requireSession(FILER_ROLES);
  showUser();
  $('window').addEventListener('change', renderWindow);
  $('application-form').addEventListener('submit', file);
  $('isee').addEventListener('input', renderChecklist);
  $('receipt-print').addEventListener('click', printReceipt);
  $('receipt-new').addEventListener('click', newApplication);
  onLangChange(() => {
    renderWindows();
    renderChecklist();
    if (state.receipt) showReceipt(state.receipt);
  });
  const shown = new URLSearchParams(location.search).get('domanda');
  if (shown) {
    showReceipt(await api('GET', `/education/applications/${encodeURIComponent(shown)}`));
    return;
  }
  const { windows, documents } = await api('GET', '/education/windows');
  state.windows = windows;
  state.documents = documents;
  renderWindows();
  renderChecklist();
}

function schoolYear(w) {
  return `${w.school_year}/${String((w.school_year + 1) % 100).padStart(2, '0')}`;
}

function windowTitle(w) {
  return `${t(`edu.level.${w.level}`)} ${schoolYear(w)}`;
}

function chosen() {
  return state.windows.find((w) => w.id === $('window').value);
}

function renderWindows() {
  const none = state.windows.length === 0;
  $('no-window').hidden = !none;
  $('window-picker').hidden = none;
  $('criteria').hidden = none;
  $('application-fields').disabled = none;
  fillSelect($('window'), state.windows.map((w) => ({ value: w.id, text: windowTitle(w) })));
  renderWindow();
}

function euro(cents) {
  return new Intl.NumberFormat('it-IT', { style: 'currency', currency: 'EUR', useGrouping: 'always' }).format(cents / 100);
}

/** The chosen window's days and the points each criterion gives. */
function renderWindow() {
  const w = chosen();
  if (!w) {
    $('window-dates').textContent = '';
    $('criteria-rows').replaceChildren();
    return;
  }
  $('window-dates').textContent = t('edu.window_dates', {
    from: fmtDate(w.opens_on), to: fmtDate(w.closes_on), starts: fmtDate(w.starts_on),
  }) + (w.level === 'nido' ? ` ${t('edu.age_nido')}` : ` ${t('edu.age_infanzia')}`);
  const c = w.criteria;
  if (!c) return;
  const rows = [
    [t('edu.c_resident'), c.resident_points],
    ...c.working_parents_points.map((p, i) => [`${t('edu.working_parents')}: ${t(`edu.working.${i}`)}`, p]),
    [t('edu.c_siblings', { max: c.max_siblings }), c.sibling_points],
    [t('edu.disability'), c.disability_points],
    ...c.income_bands.map((b) => [b.up_to_cents === null
      ? t('edu.c_isee_last')
      : t('edu.c_isee_upto', { euro: euro(b.up_to_cents) }), b.points]),
  ];
  $('criteria-rows').replaceChildren(...rows.map(([what, points]) => h('tr', {}, h('td', {}, what), h('td', {}, points))));
}

/**
 * What the counter ticks before filing: each document the catalogue asks for (the ISEE
 * attestation only when an ISEE is declared) and the signed self-declaration.
 */
function renderChecklist() {
  const ticked = new Set([...document.querySelectorAll('#checklist input:checked')].map((i) => i.value));
  const withIsee = $('isee').value.trim() !== '';
  const items = [
    ...state.documents.map((d, i) => ({ value: `doc-${i}`, text: d, required: !/ISEE/i.test(d) || withIsee })),
    { value: 'declaration', text: t('edu.check_declaration'), required: true },
    { value: 'privacy', text: t('edu.check_privacy'), required: true },
  ];
  $('checklist').replaceChildren(...items.map((item) => {
    const id = `check-${item.value}`;
    const input = h('input', { class: 'form-check-input', type: 'checkbox', id, name: `checklist.${item.value}`, value: item.value,
      'data-required': item.required ? 'true' : 'false' });
    if (item.required) input.setAttribute('aria-required', 'true');
    input.checked = ticked.has(item.value);
    return h('div', { class: 'form-check' }, input,
      h('label', { class: 'form-check-label', for: id }, `${item.text}${item.required ? ' *' : ` ${t('edu.if_declared')}`}`));
  }));
}

/** "7.500,00", "7500.5", "7500" → cents; null when empty; NaN when not an amount. */
function iseeCents(raw) {
  const s = raw.trim().replace(/\s|€/g, '');
  if (!s) return null;
  // Italian writing: dots group thousands, a comma marks the decimals.
  const normalised = s.includes(',') ? s.replace(/\./g, '').replace(',', '.') : s;
  if (!/^\d+(\.\d{1,2})?$/.test(normalised)) return Number.NaN;
  return Math.round(Number(normalised) * 100);
}

/** The fields the operator left empty or mistyped, named as the API names them. */
function missing(form) {
  const fields = [];
  for (const name of ['child_fiscal_code', 'applicant_fiscal_code']) {
    const value = form.querySelector(`[name="${name}"]`).value.trim();
    if (!value) fields.push({ field: name, description: t('form.required') });
    else if (!/^[A-Za-z0-9]{16}$/.test(value)) fields.push({ field: name, description: t('edu.bad_fiscal_code') });
  }
  const cents = iseeCents($('isee').value);
  if (Number.isNaN(cents)) fields.push({ field: 'isee_value_cents', description: t('edu.bad_isee') });
  if (cents !== null && !$('dsu').value.trim()) fields.push({ field: 'dsu_protocol', description: t('edu.dsu_required') });
  for (const box of form.querySelectorAll('#checklist input[data-required="true"]')) {
    if (!box.checked) fields.push({ field: box.name, description: t('edu.check_required') });
  }
  return fields;
}

async function file(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  const w = chosen();
  if (!w) return;
  const fields = missing(form);
  if (fields.length) return showError(form, { message: t('form.invalid'), fields });
  clearErrors(form);
  // One key per application: a retry after a lost answer is the same application.
  form.dataset.key ||= uuid();
  const body = {
    window_id: w.id,
    child_fiscal_code: $('child').value.trim().toUpperCase(),
    applicant_fiscal_code: $('applicant').value.trim().toUpperCase(),
    applicant_name: $('applicant-name').value.trim(),
    working_parents: Number($('working-parents').value),
    siblings_enrolled: Number($('siblings').value || 0),
    disability_certified: $('disability').checked,
    isee_value_cents: iseeCents($('isee').value),
    dsu_protocol: $('dsu').value.trim(),
    idempotency_key: form.dataset.key,
  };
  await withBusy(form.querySelector('button[type=submit]'), async () => {
    const receipt = await api('POST', '/education/applications', body);
    delete form.dataset.key;
    showReceipt(receipt);
    history.replaceState(null, '', `/iscrizioni?domanda=${encodeURIComponent(receipt.application.id)}`);
    announce(`${t('edu.receipt_heading')}: ${receipt.application.code}`);
    $('receipt-print').focus();
  }, { form });
}

function showReceipt(receipt) {
  state.receipt = receipt;
  const a = receipt.application;
  const w = receipt.window;
  const d = a.declared;
  $('receipt-service').textContent = w ? t('edu.receipt_service', { service: windowTitle(w), starts: fmtDate(w.starts_on) }) : '';
  $('receipt-code').textContent = a.code;
  $('receipt-protocol').textContent = a.protocol_number;
  $('receipt-filed').textContent = fmtDateTime(a.file_time);
  $('receipt-status').textContent = t(`edu.status.${a.status}`) + (a.entry === 'early' ? ` — ${t('edu.early')}` : '');
  $('receipt-resident').textContent = a.resident ? t('edu.resident_yes') : t('edu.resident_no');
  $('receipt-declared').replaceChildren(
    h('li', {}, `${t('edu.working_parents')}: ${t(`edu.working.${d.working_parents}`)}`),
    h('li', {}, `${t('edu.siblings')}: ${d.siblings_enrolled}`),
    h('li', {}, d.isee_value_cents === null
      ? t('edu.isee_none')
      : t('edu.isee_declared', { euro: euro(d.isee_value_cents), dsu: d.dsu_protocol ?? '—' })),
  );
  $('receipt').hidden = false;
  $('intake').classList.add('d-none');
}

/** Back to an empty application in the same window. */
function newApplication() {
  state.receipt = null;
  $('application-form').reset();
  renderChecklist();
  $('receipt').hidden = true;
  $('intake').classList.remove('d-none');
  history.replaceState(null, '', '/iscrizioni');
  if (!state.windows.length) {
    api('GET', '/education/windows').then(({ windows, documents }) => {
      state.windows = windows;
      state.documents = documents;
      renderWindows();
      renderChecklist();
    }).catch((err) => showError(null, err, $('page-alert')));
  }
  $('child').focus();
}

/** Prints the receipt alone (the page's print stylesheet hides the rest). */
function printReceipt() {
  document.body.dataset.print = 'receipt';
  window.addEventListener('afterprint', () => { delete document.body.dataset.print; }, { once: true });
  window.print();
}
