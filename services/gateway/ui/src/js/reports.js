// What the public report page and the URP console share: the report form (category,
// description, place, who) and a report's public view (status, due date, the reply).
import { api, clearErrors, showError, withBusy } from './api.js';
import { fmtDate, fmtDateTime, h, label, uuid } from './common.js';
import { t } from './i18n.js';

/** Fills the form's category select from the categories, grouped. */
export async function loadCategories(select) {
  const { categories } = await api('GET', '/report-categories');
  const groups = new Map();
  for (const c of categories) {
    if (!groups.has(c.group)) groups.set(c.group, []);
    groups.get(c.group).push(c);
  }
  const options = [h('option', { value: '' }, t('rep.category_choose'))];
  for (const [group, list] of groups) {
    options.push(h('optgroup', { label: group || '—' }, list.map((c) => {
      const notes = [c.kind === 'complaint' ? t('rep.complaint') : null, c.location_required ? t('rep.needs_place') : null].filter(Boolean);
      return h('option', { value: c.code }, notes.length ? `${c.name} (${notes.join(', ')})` : c.name);
    })));
  }
  const prev = select.value;
  select.replaceChildren(...options);
  if (categories.some((c) => c.code === prev)) select.value = prev;
  return categories;
}

function number(value) {
  const s = String(value ?? '').trim().replace(',', '.');
  if (!s) return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : s; // a wrong value goes as typed: the API names the field
}

/** The form's fields as the API takes them. */
export function reportBody(form) {
  const v = (name) => form.elements[name]?.value ?? '';
  const body = {
    category_code: v('category_code'),
    description: v('description'),
    address: v('address').trim(),
    first_name: v('first_name').trim(),
    last_name: v('last_name').trim(),
    email: v('email').trim(),
    phone: v('phone').trim(),
    idempotency_key: form.dataset.key || (form.dataset.key = uuid()),
  };
  const lat = number(v('latitude'));
  const long = number(v('longitude'));
  if (lat !== null) body.latitude = lat;
  if (long !== null) body.longitude = long;
  if (form.elements.fiscal_code) body.fiscal_code = v('fiscal_code').trim().toUpperCase();
  if (form.elements.channel) body.channel = v('channel');
  return body;
}

/** Wires "Use my position" (when the browser has one) to the form's coordinates. */
export function wirePosition(form, button) {
  if (!button) return;
  if (!navigator.geolocation) {
    button.hidden = true;
    return;
  }
  button.addEventListener('click', () => {
    navigator.geolocation.getCurrentPosition((pos) => {
      form.elements.latitude.value = pos.coords.latitude.toFixed(5);
      form.elements.longitude.value = pos.coords.longitude.toFixed(5);
    }, () => {
      showError(form, { message: t('rep.here_failed') });
    }, { timeout: 10000 });
  });
}

/** Files the form at `path`; resolves to the report filed (or undefined on an error shown). */
export async function fileReport(form, path) {
  clearErrors(form);
  return withBusy(form.querySelector('button[type=submit]'), async () => {
    const { report } = await api('POST', path, reportBody(form));
    delete form.dataset.key;
    return report;
  }, { form });
}

/** The sentence telling the citizen the code (and, for a complaint, the token). */
export function filedMessage(r) {
  const vars = { code: r.code, protocol: r.protocol_number, due: fmtDate(r.due_date), token: r.id };
  return t(r.kind === 'complaint' ? 'rep.filed_complaint' : 'rep.filed', vars);
}

function place(r) {
  if (!r.location) return '—';
  const parts = [];
  if (r.location.address) parts.push(r.location.address);
  if (r.location.latitude !== null && r.location.latitude !== undefined) {
    parts.push(`${r.location.latitude}, ${r.location.longitude}`);
  }
  return parts.join(' — ') || '—';
}

/** A report's public view as a definition list. */
export function reportDetails(r) {
  const row = (key, value, attrs = {}) => [h('dt', { class: 'col-sm-4' }, t(key)), h('dd', { class: 'col-sm-8', ...attrs }, value)];
  const dl = h('dl', { class: 'row mb-2', 'data-testid': 'report-details' },
    row('rep.code', r.code, { 'data-testid': 'report-code' }),
    row('rep.kind', label('rep.kind', r.kind)),
    row('rep.category', r.category_name),
    row('rep.status', h('span', { class: `badge ${r.status === 'closed' ? 'bg-success' : 'bg-primary'}`, 'data-testid': 'report-status', 'data-status': r.status }, label('rep.status', r.status))),
    row('rep.received', fmtDateTime(r.receive_time)),
    row('rep.protocol', r.protocol_number || '—'),
    row('rep.due', fmtDate(r.due_date), { 'data-testid': 'report-due' }),
    row('rep.office', r.office || '—'),
    row('rep.where', place(r)),
    row('urp.description_masked', h('span', { class: 'sp-prewrap' }, r.description)),
  );
  if (r.masked?.length) {
    dl.append(h('dd', { class: 'col-sm-8 offset-sm-4 small text-muted' },
      t('rep.masked', { what: r.masked.map((m) => label('rep.masked', m)).join(', ') })));
  }
  if (r.status === 'closed') {
    dl.append(...row('rep.outcome', label('rep.outcome', r.outcome)));
    dl.append(...row('rep.reply', h('span', { class: 'sp-prewrap', 'data-testid': 'report-reply' }, r.reply ?? '')));
  } else {
    dl.append(...row('rep.reply', h('span', { class: 'text-muted' }, t('rep.no_reply'))));
  }
  return dl;
}

/** A report's code (`2026-000123`) or token (a UUID), as typed; null when neither. */
export function reportRef(raw) {
  const s = String(raw ?? '').trim();
  if (/^[0-9]{4}-[0-9]{6}$/.test(s)) return s;
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s)) return s.toLowerCase();
  return null;
}
