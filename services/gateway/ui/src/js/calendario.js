// The operators' calendar (/calendario): a site's appointments by day, counter and
// operator; booking on a citizen's behalf (also from a counter case: ?case=<id>&service=
// <code>); moving a booking to a free slot; cancelling with a reason.
import { api, requireSession, showError, withBusy, clearErrors } from './api.js';
import { announce, fillSelect, h, initPage, uuid } from './common.js';
import { getLang, onLangChange, t } from './i18n.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const originCase = params.get('case') || '';
let sites = [];
let services = [];
let bookings = [];
let behalfKey = uuid();

initPage();
main().catch((err) => showError(null, err, $('page-alert')));

function fmt(iso, options) {
  return new Intl.DateTimeFormat(getLang() === 'en' ? 'en-GB' : 'it-IT', { timeZone: 'Europe/Rome', ...options }).format(new Date(iso));
}
const dayOf = (iso) => fmt(iso, { weekday: 'long', day: 'numeric', month: 'long' });
const timeOf = (iso) => fmt(iso, { hour: '2-digit', minute: '2-digit' });
const todayInRome = () => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Rome' }).format(new Date());

async function main() {
  await requireSession(['info_desk', 'polivalente', 'tecnico', 'back_office', 'manager', 'admin']);
  const [s, svc] = await Promise.all([api('GET', '/sites'), api('GET', '/appointments/services')]);
  sites = s.sites ?? [];
  services = svc.services ?? [];
  fillSelect($('cal-site'), sites.map((x) => ({ value: x.code, text: x.name })));
  fillSelect($('behalf-service'), services.map((x) => ({ value: x.code, text: x.name })));
  if (params.get('service')) $('behalf-service').value = params.get('service');
  $('cal-from').value = todayInRome();
  if (originCase) {
    $('behalf-case').hidden = false;
    $('behalf-case').textContent = t('cal.from_case', { id: originCase });
  }
  $('cal-form').addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  $('behalf-service').addEventListener('change', loadSlots);
  $('behalf-form').addEventListener('submit', bookOnBehalf);
  onLangChange(render);
  await Promise.all([load(), loadSlots()]);
}

async function load() {
  const site = $('cal-site').value;
  const res = await api('GET', `/appointments/calendar?site=${encodeURIComponent(site)}&from=${$('cal-from').value}&days=${$('cal-days').value}`);
  bookings = res.bookings ?? [];
  render();
}

async function freeSlots(service) {
  const res = await api('GET', `/appointments/slots?service=${encodeURIComponent(service)}&days=31`);
  return (res.slots ?? []).map((s) => ({ value: `${s.site}|${s.start_time}`, text: `${dayOf(s.start_time)} ${timeOf(s.start_time)} — ${s.site_name}` }));
}

let slotsAsked = 0;
async function loadSlots() {
  // Only the latest choice of service fills the list, whichever answer comes last.
  const asked = ++slotsAsked;
  const options = await freeSlots($('behalf-service').value);
  if (asked === slotsAsked) fillSelect($('behalf-slot'), options, { keep: false });
}

const serviceName = (code) => services.find((s) => s.code === code)?.name ?? code;

function render() {
  const days = new Map();
  for (const b of bookings) {
    const d = dayOf(b.start_time);
    if (!days.has(d)) days.set(d, []);
    days.get(d).push(b);
  }
  if (!days.size) {
    $('cal-days-list').replaceChildren(h('p', { class: 'text-muted' }, t('cal.none')));
    return;
  }
  $('cal-days-list').replaceChildren(...[...days.entries()].map(([day, list]) =>
    h('div', { class: 'mb-4' },
      h('h3', { class: 'h6' }, day),
      h('table', { class: 'table table-sm' },
        h('thead', {}, h('tr', {},
          ...['cal.time', 'cal.counter', 'cal.operator', 'book.service', 'book.code', 'cal.status', 'cal.actions']
            .map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, ...list.map(row))))));
}

function row(b) {
  const open = b.status === 'confirmed' || b.status === 'unconfirmed' || b.status === 'offered';
  const actions = h('td', {});
  if (open) {
    actions.append(
      h('button', { type: 'button', class: 'btn btn-sm btn-outline-primary me-2', dataset: { action: 'move', code: b.code }, onclick: () => moveForm(b, actions) }, t('cal.move')),
      h('button', { type: 'button', class: 'btn btn-sm btn-outline-danger', dataset: { action: 'cancel', code: b.code }, onclick: () => cancelForm(b, actions) }, t('cal.cancel')));
  }
  return h('tr', { dataset: { code: b.code, status: b.status } },
    h('td', {}, `${timeOf(b.start_time)}–${timeOf(b.end_time)}`),
    h('td', {}, String(b.counter_number)),
    h('td', {}, b.operator_id),
    h('td', {}, serviceName(b.service_code)),
    h('td', { class: 'sp-mono' }, b.code),
    h('td', {}, t(`cal.status_${b.status}`)),
    actions);
}

function cancelForm(b, cell) {
  const id = `reason-${b.code}`;
  const form = h('form', { class: 'mt-2', novalidate: true },
    h('label', { for: id }, t('cal.reason')),
    h('input', { type: 'text', class: 'form-control form-control-sm', id, name: 'reason', maxlength: '500', required: true }),
    h('div', { class: 'alert alert-danger mt-1', role: 'alert', 'data-form-alert': '', hidden: true }),
    h('button', { type: 'submit', class: 'btn btn-sm btn-danger mt-1', dataset: { testid: 'confirm-cancel' } }, t('cal.confirm_cancel')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    await withBusy(form.querySelector('button'), async () => {
      await api('POST', `/appointments/${encodeURIComponent(b.code)}/withdraw`, { reason: $(id).value });
      announce(t('cal.cancelled', { code: b.code }));
      await load();
    }, { form });
  });
  cell.replaceChildren(form);
  $(id).focus();
}

async function moveForm(b, cell) {
  const id = `move-${b.code}`;
  const select = h('select', { id, class: 'form-select form-select-sm' });
  fillSelect(select, await freeSlots(b.service_code), { keep: false });
  const form = h('form', { class: 'mt-2', novalidate: true },
    h('label', { for: id }, t('cal.new_slot')), select,
    h('div', { class: 'alert alert-danger mt-1', role: 'alert', 'data-form-alert': '', hidden: true }),
    h('button', { type: 'submit', class: 'btn btn-sm btn-primary mt-1', dataset: { testid: 'confirm-move' } }, t('cal.confirm_move')));
  const key = uuid();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const [site, start] = select.value.split('|');
    await withBusy(form.querySelector('button'), async () => {
      await api('POST', `/appointments/${encodeURIComponent(b.code)}/move`, { site, start_time: start, idempotency_key: key });
      announce(t('cal.moved', { code: b.code }));
      await load();
    }, { form });
  });
  cell.replaceChildren(form);
  select.focus();
}

async function bookOnBehalf(ev) {
  ev.preventDefault();
  const form = $('behalf-form');
  clearErrors(form);
  const [site, start] = ($('behalf-slot').value || '|').split('|');
  await withBusy($('behalf-submit'), async () => {
    const res = await api('POST', '/appointments/on-behalf', {
      service_code: $('behalf-service').value,
      site,
      start_time: start,
      fiscal_code: $('behalf-fiscal-code').value.trim(),
      origin_case_id: originCase,
      idempotency_key: behalfKey,
    });
    behalfKey = uuid();
    const b = res.booking;
    $('behalf-done').hidden = false;
    $('behalf-done').textContent = t('cal.booked', { code: b.code, when: `${dayOf(b.start_time)} ${timeOf(b.start_time)}` });
    announce($('behalf-done').textContent);
    form.reset();
    await Promise.all([load(), loadSlots()]);
  }, { form });
}
