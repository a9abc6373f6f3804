// The counter's change-of-residence form (console): within the municipality, from another
// municipality or from abroad; members as rows; the printed receipt with the protocol
// number and the day by which the citizen will hear (45 days, DPR 223/1989 art. 18-bis).
import { api, clearErrors, showError, withBusy } from './api.js';
import { announce, fillSelect, fmtDate, h, uuid } from './common.js';
import { base64, formatSize, mediaType } from './files.js';
import { onLangChange, t } from './i18n.js';

const $ = (id) => document.getElementById(id);
/** Who takes a declaration (the gateway checks it again). */
export const DECLARANT_ROLES = ['polivalente', 'tecnico'];
const RELATIONSHIPS = ['head', 'spouse', 'civil_partner', 'partner', 'child', 'stepchild', 'grandchild',
  'parent', 'parent_in_law', 'sibling', 'child_in_law', 'grandparent', 'other_relative', 'cohabitant'];
const EU_GROUNDS = ['', 'worker', 'self_employed', 'sufficient_resources', 'student', 'family_member'];
/** The fields of a member's row, in order; `incoming` ones only for a move in. */
const MEMBER_FIELDS = [
  { name: 'fiscal_code', key: 'res.fiscal_code', attrs: { maxlength: 16, spellcheck: 'false', class: 'form-control sp-mono', required: true } },
  { name: 'relationship', key: 'res.relationship', select: RELATIONSHIPS, prefix: 'rel' },
  { name: 'surname', key: 'res.surname', incoming: true, attrs: { maxlength: 100 } },
  { name: 'given_names', key: 'res.given_names', incoming: true, attrs: { maxlength: 100 } },
  { name: 'sex', key: 'res.sex', incoming: true, select: ['', 'female', 'male'], prefix: 'sex' },
  { name: 'birth_date', key: 'res.birth_date', incoming: true, attrs: { type: 'date' } },
  { name: 'birthplace_code', key: 'res.birthplace_code', incoming: true, attrs: { maxlength: 4, class: 'form-control sp-mono' } },
  { name: 'citizenship', key: 'res.citizenship', incoming: true, attrs: { maxlength: 2, class: 'form-control sp-mono' } },
  { name: 'residence_permit', key: 'res.residence_permit', incoming: true, attrs: { maxlength: 40 } },
  { name: 'residence_permit_expiry', key: 'res.residence_permit_expiry', incoming: true, attrs: { type: 'date' } },
  { name: 'eu_ground', key: 'res.eu_ground', incoming: true, select: EU_GROUNDS, prefix: 'eu' },
];

let rows = 0;

/** At most this many documents (the registry's limit, stated in openapi.json). */
const MAX_DOCUMENTS = 5;
/**
 * Titles to choose from, not free text: a title travels to routing's work item and the
 * back office, so it must say what the document is, never whose. The value sent is the
 * Italian title (the record's language); the label follows the page's language.
 */
const DOCUMENT_TITLES = [
  { key: 'form', value: 'Modulo di dichiarazione' },
  { key: 'identity', value: "Documento d'identità" },
  { key: 'dwelling', value: "Titolo di occupazione dell'alloggio" },
  { key: 'permit', value: 'Permesso di soggiorno' },
  { key: 'other', value: 'Altro documento' },
];
/** The files chosen, in the order they are sent. */
let documents = [];

/** Shows the form to the roles that declare; `sites` fill the site list, `seat` preselects. */
export function initResidence({ roles, sites, seatSite }) {
  if (!roles.some((r) => DECLARANT_ROLES.includes(r))) return;
  $('residence-block').hidden = false;
  fillSelect($('res-site'), sites.map((s) => ({ value: s.code, text: s.name })));
  if (seatSite) $('res-site').value = seatSite;
  $('residence-open').addEventListener('click', () => {
    const form = $('residence-form');
    form.hidden = !form.hidden;
    $('residence-open').setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) form.querySelector('input[name="origin"]:checked')?.focus();
  });
  for (const radio of document.querySelectorAll('#residence-form input[name="origin"]')) {
    radio.addEventListener('change', renderOrigin);
  }
  $('res-add-member').addEventListener('click', () => {
    const row = addMember();
    row.querySelector('input')?.focus();
  });
  $('res-doc-files').addEventListener('change', addDocuments);
  $('residence-form').addEventListener('submit', submit);
  $('res-receipt-print').addEventListener('click', () => window.print());
  addMember();
  renderOrigin();
  onLangChange(() => {
    for (const row of $('res-members').children) labelRow(row);
    renderDocuments();
  });
}

function origin() {
  return document.querySelector('#residence-form input[name="origin"]:checked')?.value ?? 'within';
}

/** A move in asks for the person's data, the origin and the title to the dwelling. */
function renderOrigin() {
  const incoming = origin() !== 'within';
  $('res-incoming').hidden = !incoming;
  $('res-within').hidden = incoming;
  $('res-origin-municipality-group').hidden = origin() !== 'municipality';
  $('res-origin-country-group').hidden = origin() !== 'abroad';
  for (const el of document.querySelectorAll('#res-members [data-incoming]')) el.hidden = !incoming;
  // The registry takes documents with a move within the municipality only (its
  // declaration of a move in has no documents yet): the gateway refuses them otherwise.
  $('res-documents-group').hidden = incoming;
}

/** Adds the chosen files (up to MAX_DOCUMENTS in all); the first defaults to the form. */
function addDocuments(ev) {
  const input = ev.currentTarget;
  const chosen = [...input.files];
  input.value = '';
  const room = MAX_DOCUMENTS - documents.length;
  for (const file of chosen.slice(0, Math.max(room, 0))) {
    const title = documents.length === 0 ? DOCUMENT_TITLES[0].value : DOCUMENT_TITLES.at(-1).value;
    documents.push({ file, title });
  }
  renderDocuments();
  if (chosen.length > room) announce(t('res.documents_too_many'));
}

/** A row per document: the file (named `documents[i].file` for its errors), its title, remove. */
function renderDocuments() {
  const list = $('res-doc-list');
  list.replaceChildren(...documents.map((doc, i) => {
    const fileId = `res-doc${i}-file`;
    const titleId = `res-doc${i}-title`;
    const select = h('select', { id: titleId, name: `documents[${i}].title` },
      ...DOCUMENT_TITLES.map((d) => h('option', { value: d.value }, t(`res.doc.${d.key}`))));
    select.value = doc.title;
    select.addEventListener('change', () => { doc.title = select.value; });
    const remove = h('button', { type: 'button', class: 'btn btn-outline-danger btn-sm' }, t('res.document_remove'));
    remove.addEventListener('click', () => {
      documents.splice(i, 1);
      renderDocuments();
      $('res-doc-files').focus();
    });
    return h('div', { class: 'row g-2 mb-1', 'data-testid': 'residence-document' },
      h('div', { class: 'col-md-5 form-group mb-1' },
        h('label', { for: fileId, class: 'active' }, t('res.document_file')),
        h('input', { type: 'text', class: 'form-control', id: fileId, name: `documents[${i}].file`, readonly: true,
          value: `${doc.file.name} (${formatSize(doc.file.size)})` })),
      h('div', { class: 'col-md-4 select-wrapper mb-1' }, h('label', { for: titleId }, t('res.document_title')), select),
      h('div', { class: 'col-md-3 mb-1' }, remove));
  }));
}

/** The documents as openapi.json's AttachedDocument states them, read from the files. */
async function attachedDocuments() {
  return Promise.all(documents.map(async (doc) => ({
    title: doc.title,
    media_type: mediaType(doc.file),
    content_base64: base64(await doc.file.arrayBuffer()),
  })));
}

function control(field, id) {
  if (field.select) {
    return h('select', { id, 'data-field': field.name },
      ...field.select.map((v) => h('option', { value: v, 'data-label': `${field.prefix}.${v || 'none'}` })));
  }
  return h('input', { type: 'text', class: 'form-control', id, autocomplete: 'off', 'data-field': field.name, ...field.attrs });
}

/** Adds a member's row: each control labelled, named `members[i].field` as the API names errors. */
function addMember() {
  const i = rows++;
  const row = h('fieldset', { class: 'row g-2 border-bottom pb-2 mb-2 sp-res-member', dataset: { row: String(i) }, 'data-testid': 'residence-member' });
  row.append(h('legend', { class: 'h6 col-12' }));
  for (const field of MEMBER_FIELDS) {
    const id = `res-m${i}-${field.name}`;
    const wrapper = h('div', {
      class: field.select ? 'col-md-3 select-wrapper mb-1' : 'col-md-3 form-group mb-1',
      'data-incoming': field.incoming ? '' : undefined,
    }, h('label', { for: id, class: field.select ? undefined : 'active', 'data-key': field.key }), control(field, id));
    row.append(wrapper);
  }
  const declarantId = `res-m${i}-declarant`;
  row.append(h('div', { class: 'col-md-3 form-check mb-1' },
    h('input', { class: 'form-check-input', type: 'radio', name: 'declarant', id: declarantId, value: '' }),
    h('label', { class: 'form-check-label', for: declarantId, 'data-key': 'res.declarant' })));
  const remove = h('button', { type: 'button', class: 'btn btn-outline-danger btn-sm', 'data-key': 'res.remove_member' });
  remove.addEventListener('click', () => {
    row.remove();
    renumber();
    $('res-add-member').focus();
  });
  row.append(h('div', { class: 'col-md-3 mb-1' }, remove));
  $('res-members').append(row);
  renumber();
  renderOrigin();
  return row;
}

/** Rows are numbered as the request's `members` array: names follow the order. */
function renumber() {
  const all = [...$('res-members').children];
  all.forEach((row, index) => {
    for (const el of row.querySelectorAll('[data-field]')) el.name = `members[${index}].${el.dataset.field}`;
    row.querySelector('input[name="declarant"]').value = String(index);
    labelRow(row, index);
  });
  if (all.length && !document.querySelector('#res-members input[name="declarant"]:checked')) {
    all[0].querySelector('input[name="declarant"]').checked = true;
  }
  for (const row of all) row.querySelector('button').hidden = all.length === 1;
}

function labelRow(row, index = [...$('res-members').children].indexOf(row)) {
  row.querySelector('legend').textContent = `${t('res.member')} ${index + 1}`;
  for (const el of row.querySelectorAll('[data-key]')) el.textContent = t(el.dataset.key);
  for (const el of row.querySelectorAll('option[data-label]')) {
    el.textContent = el.dataset.label.endsWith('.none') ? t('res.choose') : t(`res.${el.dataset.label}`);
  }
}

function value(id) {
  return $(id).value.trim();
}

/** The request body, as openapi.json's ResidenceDeclaration states it. */
function body() {
  const incoming = origin() !== 'within';
  const members = [...$('res-members').children].map((row) => {
    const m = {};
    for (const el of row.querySelectorAll('[data-field]')) {
      const field = MEMBER_FIELDS.find((f) => f.name === el.dataset.field);
      if (field.incoming && !incoming) continue;
      let v = el.value.trim();
      if (['fiscal_code', 'birthplace_code', 'citizenship'].includes(field.name)) v = v.toUpperCase();
      if (v || !field.incoming) m[field.name] = v;
    }
    return m;
  });
  const declarant = Number(document.querySelector('#res-members input[name="declarant"]:checked')?.value ?? 0);
  const out = {
    origin: origin(),
    members,
    declarant,
    address: { street_code: value('res-street').toUpperCase(), house_number: value('res-house-number').toUpperCase() },
    site: $('res-site').value,
    idempotency_key: $('residence-form').dataset.key,
  };
  if (!incoming) {
    // DPR 223/1989 art. 6: the head may move alone, naming who heads the family left behind.
    const head = value('res-remaining-head').toUpperCase();
    const representative = value('res-representative').toUpperCase();
    if (head) out.remaining_head_fiscal_code = head;
    if (representative) out.representative_fiscal_code = representative;
  }
  if (origin() === 'municipality') out.origin_municipality_istat_code = value('res-origin-istat');
  if (origin() === 'abroad') out.origin_country = value('res-origin-country').toUpperCase();
  if (incoming) {
    out.dwelling_title = $('res-dwelling-title').value;
    out.dwelling_title_reference = value('res-dwelling-reference');
  }
  return out;
}

/** The registry names a member's data as `members[i].person` with "field: why": show it on the field. */
function onFields(err) {
  const fields = (err?.fields ?? []).map((f) => {
    // A document's type or content is shown on its file's row.
    const doc = /^(documents\[\d+\])\.(media_type|content_base64|content)$/.exec(f.field);
    if (doc) return { field: `${doc[1]}.file`, description: f.description };
    const m = /^(members\[\d+\])\.person$/.exec(f.field);
    const inner = /^([a-z_]+): (.*)$/.exec(f.description ?? '');
    return m && inner ? { field: `${m[1]}.${inner[1]}`, description: inner[2] } : f;
  });
  return Object.assign(err, { fields });
}

function missing(b) {
  const fields = [];
  documents.forEach((doc, i) => {
    if (!mediaType(doc.file)) fields.push({ field: `documents[${i}].file`, description: t('res.documents_type') });
  });
  b.members.forEach((m, i) => {
    if (!m.fiscal_code) fields.push({ field: `members[${i}].fiscal_code`, description: t('form.required') });
  });
  if (!b.address.street_code) fields.push({ field: 'address.street_code', description: t('form.required') });
  if (!b.address.house_number) fields.push({ field: 'address.house_number', description: t('form.required') });
  return fields;
}

async function submit(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  // One key per declaration: a retry after a lost answer is the same declaration.
  form.dataset.key ||= uuid();
  const b = body();
  const fields = missing(b);
  if (fields.length) return showError(form, { message: t('form.invalid'), fields });
  clearErrors(form);
  await withBusy(form.querySelector('button[type=submit]'), async () => {
    try {
      if (b.origin === 'within' && documents.length) b.documents = await attachedDocuments();
      const res = await api('POST', '/residence-changes', b);
      showReceipt(res.receipt);
      delete form.dataset.key;
      form.reset();
      $('res-members').replaceChildren();
      documents = [];
      renderDocuments();
      addMember();
      renderOrigin();
      form.hidden = true;
      $('residence-open').setAttribute('aria-expanded', 'false');
      announce(`${t('res.receipt_heading')}: ${res.receipt.protocol_number}`);
      $('res-receipt-print').focus();
    } catch (err) {
      throw onFields(err);
    }
  }, { form });
}

function showReceipt(receipt) {
  $('res-receipt-protocol').textContent = receipt.protocol_number;
  $('res-receipt-declared').textContent = fmtDate(receipt.declared_on);
  $('res-receipt-declared').dataset.day = receipt.declared_on;
  $('res-receipt-members').textContent = String(receipt.members);
  $('res-receipt-answer-by').textContent = fmtDate(receipt.answer_by);
  $('res-receipt-answer-by').dataset.day = receipt.answer_by;
  const titles = receipt.documents ?? [];
  $('res-receipt-documents').replaceChildren(...(titles.length
    ? titles.map((title) => h('li', {}, title))
    : [h('li', { class: 'list-unstyled' }, '—')]));
  $('residence-receipt').hidden = false;
}
