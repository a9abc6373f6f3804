// The business desk (/imprese): each SUAP procedure's guidance (what to file, its clock,
// what it costs — printable for the business), the business found by VAT number or
// registered, the filing with one file per checklist item and, for public land, the
// place as an outline; then the printed receipt with the protocol number (DPR 160/2010
// art. 5 c. 4). The SUAP decides every rule; errors come back on their fields.
import { api, clearErrors, hasRole, requireSession, showError, withBusy } from './api.js';
import { announce, fillSelect, fmtDate, h, initPage, showUser, uuid } from './common.js';
import { ACCEPT, base64, formatSize, mediaType } from './files.js';
import { onLangChange, t } from './i18n.js';

const $ = (id) => document.getElementById(id);
/** Who files at the counter (the gateway checks it again). */
const FILER_ROLES = ['polivalente', 'tecnico'];
/** Metres per degree of latitude (mean Earth radius 6,371,008.8 m). */
const METRES_PER_DEGREE = (Math.PI / 180) * 6371008.8;

const state = {
  procedures: [],
  business: null,
  /** Checklist code -> chosen File. */
  files: new Map(),
  /** The checklist codes of the documents sent, in order: `documents[i]` errors map back. */
  sent: [],
  dossier: null,
};

initPage();
main().catch((err) => showError(null, err, $('page-alert')));

async function main() {
  const session = await requireSession(['info_desk', 'polivalente', 'tecnico', 'back_office', 'manager']);
  showUser();
  const { procedures } = await api('GET', '/suap/procedures');
  state.procedures = procedures;
  fillSelect($('procedure'), procedures.map((p) => ({ value: p.code, text: p.title })));
  $('procedure').addEventListener('change', renderProcedure);
  $('guide-print').addEventListener('click', () => printOnly('guide'));
  $('receipt-print').addEventListener('click', () => printOnly('receipt'));
  $('receipt-new').addEventListener('click', newFiling);
  if (hasRole(session, ...FILER_ROLES)) {
    $('filing-block').hidden = false;
    $('lookup-form').addEventListener('submit', lookup);
    $('register-form').addEventListener('submit', register);
    $('filing-form').addEventListener('submit', file);
    $('place-vertices').addEventListener('input', renderPlace);
  }
  onLangChange(() => {
    renderProcedure();
    renderDossier();
    if (state.dossier) showReceipt(state.dossier);
  });
  const shown = new URLSearchParams(location.search).get('domanda');
  const wanted = new URLSearchParams(location.search).get('procedimento');
  if (wanted && procedures.some((p) => p.code === wanted)) $('procedure').value = wanted;
  renderProcedure();
  if (shown) showReceipt(await api('GET', `/suap/applications/${encodeURIComponent(shown)}`));
}

function procedure(code = $('procedure').value) {
  return state.procedures.find((p) => p.code === code);
}

function checklistTitle(p, code) {
  return p?.checklist.find((i) => i.code === code)?.title ?? code;
}

/** The guidance of the chosen procedure, and the filing's document rows to match. */
function renderProcedure() {
  const p = procedure();
  if (!p) return;
  $('guide-title').textContent = p.title;
  $('guide-basis').textContent = p.legal_basis;
  $('guide-clock').textContent = p.clock || t('suap.no_clock');
  $('guide-expiry').textContent = p.outcome_on_expiry || '—';
  $('guide-costs').textContent = p.costs || t('suap.free');
  $('guide-checklist').replaceChildren(...p.checklist.map((item) => h('tr', {},
    h('td', {}, item.title),
    h('td', {}, item.required ? t('common.yes') : t('common.no')),
    h('td', { class: 'small' }, item.basis))));
  $('place').hidden = !p.occupies_land;
  renderDocuments(p);
}

/** One file chooser per checklist item, named `checklist.<code>` for its errors. */
function renderDocuments(p) {
  const rows = p.checklist.map((item) => {
    const id = `doc-${item.code}`;
    const input = h('input', { type: 'file', class: 'form-control', id, name: `checklist.${item.code}`, accept: ACCEPT,
      'data-testid': `suap-doc-${item.code}`, 'aria-describedby': `${id}-chosen` });
    if (item.required) input.setAttribute('aria-required', 'true');
    const chosen = h('small', { class: 'form-text', id: `${id}-chosen` }, describeFile(state.files.get(item.code)));
    input.addEventListener('change', () => {
      const file = input.files[0];
      if (file) state.files.set(item.code, file);
      else state.files.delete(item.code);
      chosen.textContent = describeFile(file);
    });
    return h('div', { class: 'form-group mb-2' },
      h('label', { for: id }, `${item.title}${item.required ? ' *' : ''}`), input, chosen);
  });
  $('filing-documents').replaceChildren(...rows);
}

function describeFile(file) {
  return file ? `${file.name} (${formatSize(file.size)})` : t('suap.no_file');
}

async function lookup(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  const vat = $('vat-number').value.trim();
  if (!vat) return showError(form, { message: t('form.invalid'), fields: [{ field: 'vat_number', description: t('form.required') }] });
  $('register-form').hidden = true;
  await withBusy(form.querySelector('button[type=submit]'), async () => {
    try {
      const { business } = await api('GET', `/suap/businesses?vat_number=${encodeURIComponent(vat)}`);
      chooseBusiness(business);
    } catch (err) {
      if (err.status !== 404) throw err;
      chooseBusiness(null);
      $('register-form').hidden = false;
      $('reg-legal-name').focus();
    }
  }, { form });
}

async function register(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  form.dataset.key ||= uuid();
  const value = (name) => form.querySelector(`[name="${name}"]`).value.trim();
  const body = {
    vat_number: $('vat-number').value.trim(),
    legal_name: value('legal_name'),
    ateco_code: value('ateco_code'),
    registered_office: {
      street_name: value('registered_office.street_name'),
      house_number: value('registered_office.house_number'),
      postal_code: value('registered_office.postal_code'),
    },
    idempotency_key: form.dataset.key,
  };
  await withBusy(form.querySelector('button[type=submit]'), async () => {
    const { business } = await api('POST', '/suap/businesses', body);
    delete form.dataset.key;
    form.reset();
    form.hidden = true;
    chooseBusiness(business);
  }, { form });
}

function chooseBusiness(business) {
  state.business = business;
  const found = $('business-found');
  found.hidden = !business;
  found.textContent = business
    ? `${business.legal_name} — ${t('suap.vat_number')} ${business.vat_number} — ATECO ${business.ateco_code}`
    : '';
  $('filing-fields').disabled = !business;
  $('filing-needs-business').hidden = Boolean(business);
  $('dossier').hidden = !business;
  if (business) {
    announce(found.textContent);
    loadDossier().catch((err) => showError(null, err, $('page-alert')));
  }
}

/** The business's applications: where each stands, its term, its receipt. */
async function loadDossier() {
  if (!state.business) return;
  const { applications } = await api('GET', `/suap/businesses/${encodeURIComponent(state.business.id)}/applications`);
  state.applications = applications;
  renderDossier();
}

function renderDossier() {
  const applications = state.applications ?? [];
  $('dossier-empty').hidden = applications.length > 0;
  $('dossier-rows').replaceChildren(...applications.map((a) => h('tr', {},
    h('td', { class: 'sp-mono' }, a.protocol_number),
    h('td', {}, procedure(a.procedure_code)?.title ?? a.procedure_code),
    h('td', {}, t(`suap.status.${a.status}`)),
    h('td', {}, fmtDate(a.received_date)),
    h('td', {}, a.due_date ? fmtDate(a.due_date) : '—'),
    h('td', {}, h('a', { href: `/imprese?domanda=${encodeURIComponent(a.id)}` }, t('suap.receipt_link'))))));
}

/** The outline typed as "lat, lon" lines; `null` for a line that is no pair of numbers. */
function vertices() {
  return $('place-vertices').value.split('\n').map((l) => l.trim()).filter(Boolean).map((line) => {
    const parts = line.split(/[,;\s]+/).filter(Boolean).map(Number);
    if (parts.length !== 2 || parts.some((n) => !Number.isFinite(n))) return null;
    return { latitude: parts[0], longitude: parts[1] };
  });
}

/** Local metres around the outline's first point (equirectangular: a few metres wide). */
function toMetres(points) {
  const origin = points[0];
  const cos = Math.cos((origin.latitude * Math.PI) / 180);
  return points.map((p) => ({
    x: (p.longitude - origin.longitude) * METRES_PER_DEGREE * cos,
    y: (p.latitude - origin.latitude) * METRES_PER_DEGREE,
  }));
}

/** The outline's preview and its approximate area (the SUAP measures the billed one). */
function renderPlace() {
  const svg = $('place-preview');
  for (const el of [...svg.children]) if (el.tagName !== 'title') el.remove();
  const points = vertices();
  if (points.length < 3 || points.includes(null)) {
    $('place-area').textContent = points.includes(null) ? t('suap.place_bad_line') : '';
    return;
  }
  const m = toMetres(points);
  const xs = m.map((p) => p.x);
  const ys = m.map((p) => p.y);
  const span = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys), 1);
  const scale = 180 / span;
  const d = m.map((p) => `${(10 + (p.x - Math.min(...xs)) * scale).toFixed(1)},${(190 - (p.y - Math.min(...ys)) * scale).toFixed(1)}`).join(' ');
  svg.append(document.createElementNS('http://www.w3.org/2000/svg', 'polygon'));
  svg.lastChild.setAttribute('points', d);
  let twice = 0;
  for (let i = 0; i < m.length; i += 1) {
    const a = m[i];
    const b = m[(i + 1) % m.length];
    twice += a.x * b.y - b.x * a.y;
  }
  $('place-area').textContent = t('suap.place_area', { area: (Math.abs(twice) / 2).toFixed(1) });
}

/** The required fields the operator left empty, named as the API names them. */
function missing(p, form) {
  const fields = [];
  const need = (name) => {
    const control = form.querySelector(`[name="${name}"]`);
    if (!control.value.trim()) fields.push({ field: name, description: t('form.required') });
  };
  need('subject');
  need('mandate_reference');
  for (const item of p.checklist) {
    if (item.required && !state.files.has(item.code)) fields.push({ field: `checklist.${item.code}`, description: t('suap.document_required') });
  }
  for (const [code, file] of state.files) {
    if (!mediaType(file)) fields.push({ field: `checklist.${code}`, description: t('res.documents_type') });
  }
  if (p.occupies_land) {
    need('occupation.street');
    need('occupation.start_date');
    const points = vertices();
    if (points.includes(null)) fields.push({ field: 'occupation.vertices', description: t('suap.place_bad_line') });
    else if (points.length < 3) fields.push({ field: 'occupation.vertices', description: t('suap.place_too_few') });
  }
  return fields;
}

/** `documents[i].…` from the API names the checklist item's chooser; the rest as it is. */
function onFields(err) {
  for (const f of err?.fields ?? []) {
    const m = /^documents\[(\d+)\]\./.exec(f.field);
    if (m && state.sent[Number(m[1])]) f.field = `checklist.${state.sent[Number(m[1])]}`;
    else if (/^occupation\.vertices/.test(f.field)) f.field = 'occupation.vertices';
  }
  return err;
}

async function file(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  const p = procedure();
  if (!p || !state.business) return;
  const fields = missing(p, form);
  if (fields.length) return showError(form, { message: t('form.invalid'), fields });
  clearErrors(form);
  // One key per filing: a retry after a lost answer is the same filing.
  form.dataset.key ||= uuid();
  const value = (name) => form.querySelector(`[name="${name}"]`).value.trim();
  await withBusy(form.querySelector('button[type=submit]'), async () => {
    try {
      state.sent = [...state.files.keys()].filter((code) => p.checklist.some((i) => i.code === code));
      const documents = await Promise.all(state.sent.map(async (code) => {
        const chosen = state.files.get(code);
        return { checklist_item: code, media_type: mediaType(chosen), content_base64: base64(await chosen.arrayBuffer()) };
      }));
      const body = {
        business_id: state.business.id,
        procedure_code: p.code,
        subject: value('subject'),
        mandate: value('mandate'),
        mandate_reference: value('mandate_reference'),
        documents,
        idempotency_key: form.dataset.key,
      };
      if (p.occupies_land) {
        body.occupation = {
          kind: value('occupation.kind'),
          street: value('occupation.street'),
          zone_category: Number(value('occupation.zone_category')),
          start_date: value('occupation.start_date'),
          end_date: value('occupation.end_date'),
          vertices: vertices(),
        };
      }
      const dossier = await api('POST', '/suap/applications', body);
      delete form.dataset.key;
      showReceipt(dossier);
      history.replaceState(null, '', `/imprese?domanda=${encodeURIComponent(dossier.application.id)}`);
      announce(`${t('suap.receipt_heading')}: ${dossier.application.protocol_number}`);
      $('receipt-print').focus();
    } catch (err) {
      throw onFields(err);
    }
  }, { form });
}

function showReceipt(dossier) {
  state.dossier = dossier;
  const a = dossier.application;
  const p = procedure(a.procedure_code);
  const b = dossier.business;
  const o = dossier.occupation;
  $('receipt-protocol').textContent = a.protocol_number;
  $('receipt-received').textContent = fmtDate(a.received_date);
  $('receipt-business').textContent = b ? `${b.legal_name} — ${t('suap.vat_number')} ${b.vat_number}` : '—';
  $('receipt-procedure').textContent = p ? `${p.title} (${p.legal_basis})` : a.procedure_code;
  $('receipt-subject').textContent = a.subject;
  $('receipt-clock').textContent = p?.clock || t('suap.no_clock');
  $('receipt-due').textContent = a.due_date ? fmtDate(a.due_date) : '—';
  $('receipt-due').dataset.day = a.due_date ?? '';
  $('receipt-expiry').textContent = a.outcome_on_expiry || '—';
  for (const el of document.querySelectorAll('.sp-receipt-place')) el.hidden = !o;
  $('receipt-place').textContent = o
    ? t('suap.place_summary', {
      street: o.street,
      area: Number(o.area_m2).toFixed(2),
      from: fmtDate(o.start_date),
      to: o.end_date ? fmtDate(o.end_date) : t('suap.permanent'),
    })
    : '';
  $('receipt-documents').replaceChildren(...a.documents.map((d) => h('li', {},
    `${checklistTitle(p, d.checklist_item)} — `, h('span', { class: 'sp-mono small' }, `SHA-256 ${d.sha256}`))));
  $('receipt-outgoing').textContent = a.receipt_protocol_number || '—';
  $('receipt').hidden = false;
  $('filing-block').classList.add('d-none');
}

/** Back to an empty filing for the same business. */
function newFiling() {
  state.dossier = null;
  state.files.clear();
  state.sent = [];
  $('filing-form').reset();
  renderProcedure();
  renderPlace();
  $('receipt').hidden = true;
  $('filing-block').classList.remove('d-none');
  loadDossier().catch((err) => showError(null, err, $('page-alert')));
  history.replaceState(null, '', '/imprese');
  $('subject').focus();
}

/** Prints the guidance or the receipt alone. */
function printOnly(part) {
  document.body.dataset.print = part;
  window.addEventListener('afterprint', () => { delete document.body.dataset.print; }, { once: true });
  window.print();
}
