// Kiosk (/totem/{site}): choose services, optional priority, take a ticket, print it,
// back to the start after 20 s. Needs a kiosk device account.
import { api, requireSession, showError, withBusy } from './api.js';
import { announce, fmtTime, h, initPage, siteFromPath, uuid } from './common.js';
import { onLangChange, t } from './i18n.js';

const RESET_AFTER_S = 20;
const PRIORITIES = ['none', 'disability', 'pregnancy', 'elderly', 'small_children'];
const $ = (id) => document.getElementById(id);
const site = siteFromPath();
// The rating page knows which kiosk to come back to.
document.getElementById('kiosk-rate').href = `/valuta?da=totem&sede=${encodeURIComponent(site)}`;
let services = [];
let siteName = site;
let idempotencyKey = uuid();
let countdownTimer = null;
let lastTicket = null;

initPage();
main().catch((err) => showError($('kiosk-form'), err));

async function main() {
  await requireSession(['kiosk', 'admin']);
  renderPriorities();
  onLangChange(() => {
    renderPriorities();
    if (lastTicket) renderTicket(lastTicket);
  });
  const [svc, sites] = await Promise.all([
    api('GET', `/sites/${encodeURIComponent(site)}/services`),
    api('GET', '/sites').catch(() => ({ sites: [] })),
  ]);
  services = svc.services ?? [];
  siteName = (sites.sites ?? []).find((s) => s.code === site)?.name ?? site;
  $('kiosk-site').textContent = siteName;
  renderServices();
  $('kiosk-form').addEventListener('submit', takeTicket);
  $('kiosk-form').addEventListener('change', () => {
    idempotencyKey = uuid(); // a new choice is a new ticket
  });
  $('checkin-form').addEventListener('submit', checkIn);
  $('print-ticket').addEventListener('click', () => window.print());
  $('new-ticket').addEventListener('click', reset);
}

function renderServices() {
  const groups = new Map();
  for (const s of services) {
    if (!groups.has(s.service_group)) groups.set(s.service_group, { letter: s.letter, items: [] });
    groups.get(s.service_group).items.push(s);
  }
  $('service-groups').replaceChildren(
    ...[...groups.entries()].map(([group, g]) =>
      h('fieldset', { class: 'sp-kiosk-group', dataset: { group } },
        h('legend', {}, h('span', { class: 'sp-letter', 'aria-hidden': 'true' }, g.letter), ' ', groupName(group)),
        h('div', { class: 'sp-kiosk-options' },
          ...g.items.map((s) => {
            const id = `svc-${s.code.replace(/[^a-z0-9_-]/gi, '-')}`;
            return h('div', { class: 'sp-kiosk-option' },
              h('input', { type: 'checkbox', id, name: 'service_codes', value: s.code }),
              h('label', { for: id }, s.name));
          })),
      ),
    ),
  );
}

function groupName(code) {
  const key = `group.${code}`;
  const s = t(key);
  return s === key ? code.replace(/_/g, ' ') : s;
}

function renderPriorities() {
  const current = document.querySelector('input[name="priority_category"]:checked')?.value ?? 'none';
  $('priority-options').replaceChildren(
    ...PRIORITIES.map((p) =>
      h('div', { class: 'sp-kiosk-option' },
        h('input', { type: 'radio', id: `prio-${p}`, name: 'priority_category', value: p, checked: p === current }),
        h('label', { for: `prio-${p}` }, t(`priority.${p}`)))),
  );
}

async function takeTicket(ev) {
  ev.preventDefault();
  const form = $('kiosk-form');
  const codes = [...form.querySelectorAll('input[name="service_codes"]:checked')].map((i) => i.value);
  if (!codes.length) {
    showError(form, { message: t('kiosk.choose_service') });
    return;
  }
  const priority = form.querySelector('input[name="priority_category"]:checked')?.value ?? 'none';
  await withBusy($('take-ticket'), async () => {
    const res = await api('POST', `/sites/${encodeURIComponent(site)}/tickets`, {
      service_codes: codes,
      priority_category: priority,
      idempotency_key: idempotencyKey,
    });
    idempotencyKey = uuid();
    lastTicket = res;
    renderTicket(res);
    form.hidden = true;
    $('ticket-view').hidden = false;
    announce(`${t('kiosk.your_number')} ${res.ticket.label}. ${aheadText(res.people_ahead)}`);
    $('print-ticket').focus();
    startCountdown();
  }, { form });
}

// An appointment arrives: the code (typed, or read from the QR code by a scanner that
// types it) checks it in; the ticket shows the label the board will call at its time.
async function checkIn(ev) {
  ev.preventDefault();
  const form = $('checkin-form');
  const code = $('checkin-code').value.trim();
  if (!code) {
    showError(form, { message: t('kiosk.appointment_code') });
    return;
  }
  await withBusy($('checkin-submit'), async () => {
    const res = await api('POST', `/sites/${encodeURIComponent(site)}/check-in`, { code });
    lastTicket = {
      ticket: { label: res.ticket_label, issue_time: new Date().toISOString() },
      people_ahead: 0,
      services: [],
      appointment: res.booking,
    };
    renderTicket(lastTicket);
    $('kiosk-form').hidden = true;
    form.hidden = true;
    $('ticket-view').hidden = false;
    announce(`${t('kiosk.your_number')} ${res.ticket_label}. ${$('ticket-ahead').textContent}`);
    $('print-ticket').focus();
    startCountdown();
  }, { form });
}

function aheadText(n) {
  if (!n) return t('kiosk.ahead_none');
  return n === 1 ? t('kiosk.ahead_one') : t('kiosk.ahead_many', { n });
}

function renderTicket(res) {
  $('ticket-site').textContent = siteName;
  $('ticket-label').textContent = res.ticket.label;
  $('ticket-ahead').textContent = res.appointment
    ? t('kiosk.appointment_at', { time: new Intl.DateTimeFormat('it-IT', { timeZone: 'Europe/Rome', hour: '2-digit', minute: '2-digit' }).format(new Date(res.appointment.start_time)) })
    : aheadText(res.people_ahead);
  $('ticket-services').replaceChildren(...(res.services ?? []).map((s) => h('li', {}, s.name)));
  $('ticket-time').textContent = fmtTime(res.ticket.issue_time);
}

function startCountdown() {
  clearInterval(countdownTimer);
  let left = RESET_AFTER_S;
  const tick = () => {
    $('countdown').textContent = t('kiosk.back_in', { n: left });
    if (left-- <= 0) reset();
  };
  tick();
  countdownTimer = setInterval(tick, 1000);
}

function reset() {
  clearInterval(countdownTimer);
  lastTicket = null;
  const form = $('kiosk-form');
  form.reset();
  renderPriorities();
  form.hidden = false;
  $('checkin-form').reset();
  $('checkin-form').hidden = false;
  $('ticket-view').hidden = true;
  window.scrollTo(0, 0);
  form.querySelector('input')?.focus();
}
