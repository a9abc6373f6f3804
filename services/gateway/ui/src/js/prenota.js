// Public booking (/prenota): choose a service, a free slot, give fiscal code and e-mail,
// confirm with the e-mailed code; then the booking code, its QR code, the documents to
// bring, print and the calendar file. No sign-in: nothing is stored in the browser.
import { api, showError, withBusy, clearErrors } from './api.js';
import { announce, h, initPage, uuid } from './common.js';
import { getLang, onLangChange, t } from './i18n.js';

const $ = (id) => document.getElementById(id);
let services = [];
let slots = [];
let pending = null; // the booking waiting for its code
let idempotencyKey = uuid();

initPage();
main().catch((err) => showError($('book-form'), err));

// Times are the office's: Europe/Rome, whatever the visitor's device says.
function fmt(iso, options) {
  return new Intl.DateTimeFormat(getLang() === 'en' ? 'en-GB' : 'it-IT', { timeZone: 'Europe/Rome', ...options }).format(new Date(iso));
}
const dayOf = (iso) => fmt(iso, { weekday: 'long', day: 'numeric', month: 'long' });
const timeOf = (iso) => fmt(iso, { hour: '2-digit', minute: '2-digit' });

async function main() {
  const res = await api('GET', '/appointments/services');
  services = res.services ?? [];
  renderServices();
  onLangChange(() => renderSlots());
  $('book-form').addEventListener('change', (ev) => {
    if (ev.target.name === 'service_code') chooseService(ev.target.value);
  });
  $('book-form').addEventListener('submit', book);
  $('confirm-form').addEventListener('submit', confirm);
  $('booked-print').addEventListener('click', () => window.print());
  $('waitlist-form').addEventListener('submit', joinWaitlist);
  $('wait-check-form').addEventListener('submit', checkWaitlist);
}

// The waitlist: a place in line for the chosen service between two days; the person
// comes back with its code and their fiscal code to see whether a slot is held for them.
async function joinWaitlist(ev) {
  ev.preventDefault();
  const form = $('waitlist-form');
  clearErrors(form);
  const service = document.querySelector('input[name="service_code"]:checked')?.value;
  if (!service) {
    showError(form, { message: t('book.choose_service') });
    return;
  }
  await withBusy($('wait-submit'), async () => {
    const res = await api('POST', '/appointments/waitlist', {
      service_code: service,
      fiscal_code: $('wait-fiscal-code').value.trim(),
      from_date: $('wait-from').value,
      to_date: $('wait-to').value,
    });
    $('wait-joined').hidden = false;
    $('wait-joined').textContent = t('wait.joined', { id: res.entry.id });
    $('wait-id').value = res.entry.id;
    announce($('wait-joined').textContent);
  }, { form });
}

async function checkWaitlist(ev) {
  ev.preventDefault();
  const form = $('wait-check-form');
  clearErrors(form);
  await withBusy($('wait-check-submit'), async () => {
    const res = await api('POST', `/appointments/waitlist/${encodeURIComponent($('wait-id').value.trim())}`, {
      fiscal_code: $('wait-check-fiscal-code').value.trim(),
    });
    renderEntry(res.entry);
  }, { form });
}

function renderEntry(entry) {
  const out = $('wait-status');
  out.dataset.status = entry.status;
  const parts = [h('p', {}, t(`wait.status_${entry.status}`))];
  const b = entry.booking;
  if (entry.status === 'offered' && b) {
    parts.push(h('p', {}, t('wait.offer', {
      when: `${dayOf(b.start_time)} ${timeOf(b.start_time)}`,
      until: b.confirm_deadline ? `${dayOf(b.confirm_deadline)} ${timeOf(b.confirm_deadline)}` : '',
    })));
    const accept = h('button', { type: 'button', class: 'btn btn-primary', dataset: { testid: 'wait-accept' } }, t('wait.accept'));
    accept.addEventListener('click', () => withBusy(accept, async () => {
      const res = await api('POST', `/appointments/waitlist/${encodeURIComponent(entry.id)}/accept`, {
        fiscal_code: $('wait-check-fiscal-code').value.trim(),
      });
      renderEntry(res.entry);
    }, { form: $('wait-check-form') }));
    parts.push(accept);
  } else if (entry.status === 'booked' && b) {
    parts.push(h('p', {}, t('wait.booked', { code: b.code, when: `${dayOf(b.start_time)} ${timeOf(b.start_time)}` })));
  }
  out.replaceChildren(...parts);
  announce(out.textContent);
}

function renderServices() {
  $('book-services').replaceChildren(
    ...services.map((s) => {
      const id = `svc-${s.code.replace(/[^a-z0-9_-]/gi, '-')}`;
      return h('div', { class: 'form-check' },
        h('input', { class: 'form-check-input', type: 'radio', id, name: 'service_code', value: s.code }),
        h('label', { class: 'form-check-label', for: id }, s.name));
    }),
  );
}

async function chooseService(code) {
  idempotencyKey = uuid();
  const service = services.find((s) => s.code === code);
  const docs = service?.documents ?? [];
  $('book-documents').hidden = docs.length === 0;
  $('book-documents-list').replaceChildren(...docs.map((d) => h('li', {}, d)));
  $('book-slots-empty').textContent = t('book.loading');
  $('book-slots-empty').hidden = false;
  const res = await api('GET', `/appointments/slots?service=${encodeURIComponent(code)}&days=31`);
  slots = res.slots ?? [];
  $('book-release').hidden = !res.next_release_time;
  if (res.next_release_time) {
    $('book-release').textContent = t('book.next_release', { when: `${dayOf(res.next_release_time)} ${timeOf(res.next_release_time)}` });
  }
  renderSlots();
}

function renderSlots() {
  const empty = $('book-slots-empty');
  if (!slots.length) {
    $('book-slots').replaceChildren();
    empty.hidden = false;
    empty.textContent = document.querySelector('input[name="service_code"]:checked') ? t('book.no_slots') : t('book.choose_service_first');
    return;
  }
  empty.hidden = true;
  const days = new Map();
  for (const s of slots) {
    const day = dayOf(s.start_time);
    if (!days.has(day)) days.set(day, []);
    days.get(day).push(s);
  }
  let n = 0;
  $('book-slots').replaceChildren(
    ...[...days.entries()].map(([day, list]) =>
      h('fieldset', { class: 'sp-book-day' },
        h('legend', { class: 'h6' }, day),
        h('div', { class: 'sp-book-times' },
          ...list.map((s) => {
            const id = `slot-${n++}`;
            return h('div', { class: 'form-check form-check-inline' },
              h('input', { class: 'form-check-input', type: 'radio', id, name: 'slot', value: `${s.site}|${s.start_time}`, dataset: { start: s.start_time } }),
              h('label', { class: 'form-check-label', for: id }, `${timeOf(s.start_time)} — ${s.site_name}`));
          })))),
  );
}

async function book(ev) {
  ev.preventDefault();
  const form = $('book-form');
  clearErrors(form);
  const service = form.querySelector('input[name="service_code"]:checked')?.value;
  const slot = form.querySelector('input[name="slot"]:checked')?.value;
  if (!service || !slot) {
    showError(form, { message: t(service ? 'book.choose_slot' : 'book.choose_service') });
    return;
  }
  const [site, start] = slot.split('|');
  await withBusy($('book-submit'), async () => {
    const res = await api('POST', '/appointments', {
      service_code: service,
      site,
      start_time: start,
      fiscal_code: $('book-fiscal-code').value.trim(),
      email: $('book-email').value.trim(),
      idempotency_key: idempotencyKey,
    });
    pending = res.booking;
    form.hidden = true;
    $('confirm-view').hidden = false;
    $('confirm-intro').textContent = t('book.code_sent', {
      email: $('book-email').value.trim(),
      when: `${dayOf(pending.start_time)} ${timeOf(pending.start_time)}`,
      deadline: pending.confirm_deadline ? timeOf(pending.confirm_deadline) : '',
    });
    announce(t('book.code_sent_short'));
    $('confirm-code').focus();
  }, { form });
}

async function confirm(ev) {
  ev.preventDefault();
  const form = $('confirm-form');
  await withBusy($('confirm-submit'), async () => {
    const res = await api('POST', `/appointments/${encodeURIComponent(pending.code)}/confirm`, {
      confirmation_code: $('confirm-code').value.trim(),
    });
    showBooking(res.booking);
  }, { form });
}

function showBooking(b) {
  $('confirm-view').hidden = true;
  $('booked-view').hidden = false;
  $('booked-code').textContent = b.code;
  $('booked-service').textContent = b.service_name;
  $('booked-when').textContent = `${dayOf(b.start_time)}, ${timeOf(b.start_time)}`;
  $('booked-where').textContent = b.site_name ?? '';
  $('booked-documents').replaceChildren(...(b.documents_to_bring ?? []).map((d) => h('li', {}, d)));
  const qr = h('img', {
    src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(b.qr_svg)}`,
    alt: t('book.qr_alt', { code: b.code }),
    width: '160', height: '160',
  });
  $('booked-qr').replaceChildren(qr);
  const ics = new Blob([b.calendar], { type: 'text/calendar' });
  $('booked-ics').href = URL.createObjectURL(ics);
  announce(t('book.booked_heading'));
  $('booked-heading').focus?.();
}
