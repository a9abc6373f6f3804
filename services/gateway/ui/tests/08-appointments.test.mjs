// A citizen books on the public page and confirms with the code the stack's SMTP server
// received; checks in at the kiosk with the booking code; at the appointment's time the
// technician calls it before a walk-in who took a ticket earlier, and completes it.
//
// The stack runs on real time: the administrator gives the technician a schedule that
// starts two minutes from now (every day, so the test runs on any weekday), so the first
// slot is due shortly and the test waits for it.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FISCAL_CODE, SITE, axe, callNext, complete, launch, login, newPage, openConsole, openKiosk, setOffline, takeTicket } from './helpers.mjs';

const MAILDIR = process.env.SPORTELLO_STACK_MAILDIR || '';
const SERVICE = 'suap.dehors';
const WALK_IN_SERVICE = 'suap.driveway_permit';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Rome's civil time of an instant: weekday 1-7, "HH:MM". */
function rome(date) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Rome', weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(date).map((p) => [p.type, p.value]));
  const weekday = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(parts.weekday) + 1;
  return { weekday, time: `${parts.hour}:${parts.minute}` };
}

/** An API call as the signed-in account of `page` (its CSRF token from the session). */
async function apiAs(page, method, path, body) {
  return page.evaluate(async ({ method, path, body }) => {
    const session = await (await fetch('/api/v1/session')).json();
    const res = await fetch(`/api/v1${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': session.csrf_token },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }, { method, path, body });
}

/** The confirmation mail sent to `to`, from the stack's Maildir: its code and booking. */
async function mailTo(to, timeoutMs = 20_000) {
  assert.ok(MAILDIR, 'SPORTELLO_STACK_MAILDIR: run through deploy/local/stack.sh');
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const dir = join(MAILDIR, 'new');
    for (const name of await readdir(dir).catch(() => [])) {
      const text = await readFile(join(dir, name), 'utf8');
      if (!text.toLowerCase().includes(to.toLowerCase())) continue;
      const m = text.match(/Codice di conferma (\d{6}) - prenotazione ([0-9A-Z]{8})/);
      if (m) return { code: m[1], booking: m[2] };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no confirmation mail to ${to} in ${MAILDIR}`);
}

test('booked online, checked in at the kiosk, called at its time before an earlier walk-in', async (t) => {
  // The first slot starts at the next whole minute at least 90 s from now.
  const start = new Date(Math.ceil((Date.now() + 90_000) / 60_000) * 60_000);
  const { weekday, time } = rome(start);
  const [hh, mm] = time.split(':').map(Number);
  if (hh * 60 + mm + 50 > 23 * 60 + 59) {
    t.skip('no 50-minute slot fits before midnight in Rome: run again after 00:00');
    return;
  }
  const endMinutes = Math.min(hh * 60 + mm + 180, 23 * 60 + 59);
  const ends = `${String(Math.floor(endMinutes / 60)).padStart(2, '0')}:${String(endMinutes % 60).padStart(2, '0')}`;

  const admin = await newPage(browser);
  await login(admin, 'admin', '/admin');
  const hours = await apiAs(admin, 'PUT', `/admin/sites/${SITE}/appointment-hours`, {
    service_group: '',
    hours: [1, 2, 3, 4, 5, 6, 7].map((d) => ({ weekday: d, opens: '00:00', closes: '23:59' })),
  });
  assert.equal(hours.status, 200, JSON.stringify(hours.body));
  const schedule = await apiAs(admin, 'PUT', '/admin/operators/tec.neri/schedule', {
    blocks: [{ weekday, starts: time, ends, site: SITE, counter_number: 6 }],
  });
  assert.equal(schedule.status, 200, JSON.stringify(schedule.body));

  // The technician is at counter 6; a walk-in takes a ticket for a counter service of the
  // same queue before the citizen arrives.
  const desk = await openConsole(browser, 'tec.neri', 6);
  const kiosk = await openKiosk(browser);
  const walkIn = await takeTicket(kiosk, WALK_IN_SERVICE);

  // The citizen books on the public page.
  const citizen = await newPage(browser);
  await citizen.goto('/prenota');
  // Bootstrap Italia draws the radio in its label: a person clicks the label.
  await citizen.click(`label[for="svc-${SERVICE.replace('.', '-')}"]`);
  const first = citizen.locator('input[name="slot"]').first();
  await first.waitFor({ state: 'attached' });
  const today = await citizen.evaluate(() => document.querySelector('input[name="slot"]')?.dataset.start);
  if (!today || new Date(today).getTime() !== start.getTime()) {
    // A holiday or the patron day has no slots: the first free one is another day.
    t.skip(`today has no slot at ${time} (first offered: ${today}); a holiday?`);
    await setOffline(desk);
    return;
  }
  await citizen.click(`label[for="${await first.getAttribute('id')}"]`);
  const email = `cittadino.${Date.now()}@example.org`;
  await citizen.fill('#book-fiscal-code', FISCAL_CODE);
  await citizen.fill('#book-email', email);
  await citizen.click('[data-testid="book-submit"]');
  await citizen.waitForSelector('#confirm-view:not([hidden])');
  const mail = await mailTo(email);
  await citizen.fill('#confirm-code', mail.code);
  await citizen.click('[data-testid="confirm-submit"]');
  await citizen.waitForSelector('[data-testid="booked-view"]:not([hidden])');
  assert.equal((await citizen.textContent('[data-testid="booked-code"]')).trim(), mail.booking);
  assert.match(await citizen.getAttribute('#booked-qr img', 'src'), /^data:image\/svg\+xml/);
  assert.match(await citizen.getAttribute('#booked-ics', 'href'), /^blob:/);
  // The calendar file downloads as a person would get it (a blob: link).
  const [download] = await Promise.all([citizen.waitForEvent('download'), citizen.click('#booked-ics')]);
  assert.equal(download.suggestedFilename(), 'appuntamento.ics');
  const ics = await readFile(await download.path(), 'utf8');
  assert.match(ics, /BEGIN:VCALENDAR[\s\S]*BEGIN:VEVENT[\s\S]*DTSTART:\d{8}T\d{6}Z/);
  assert.ok(!ics.includes(FISCAL_CODE) && !ics.includes(email), 'the calendar file names nobody');
  await axe(citizen, 'booking confirmed');

  // At the kiosk, with the booking code.
  await kiosk.fill('#checkin-code', mail.booking.toLowerCase());
  await kiosk.click('[data-testid="checkin-submit"]');
  const labelEl = await kiosk.waitForSelector('[data-testid="ticket-label"]:not(:empty)', { state: 'visible' });
  const appointment = (await labelEl.textContent()).trim();
  assert.notEqual(appointment, walkIn);
  await axe(kiosk, 'kiosk after check-in');
  await kiosk.click('#new-ticket');

  // At its time the technician calls the appointment first, then the walk-in.
  const wait = start.getTime() - Date.now() + 1_500;
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  assert.equal(await callNext(desk), appointment, 'the appointment is called first');
  await complete(desk, 'informed');
  const next = await callNext(desk);
  assert.ok(next, 'the walk-in is still waiting');
  await complete(desk, 'informed');
  await setOffline(desk);
});

test('an operator books for a citizen in the calendar, moves the booking and cancels it with a reason', async () => {
  const admin = await newPage(browser);
  await login(admin, 'admin', '/admin');
  const hours = await apiAs(admin, 'PUT', `/admin/sites/${SITE}/appointment-hours`, {
    service_group: '',
    hours: [1, 2, 3, 4, 5, 6, 7].map((d) => ({ weekday: d, opens: '00:00', closes: '23:59' })),
  });
  assert.equal(hours.status, 200, JSON.stringify(hours.body));
  const schedule = await apiAs(admin, 'PUT', '/admin/operators/tec.neri/schedule', {
    blocks: [1, 2, 3, 4, 5, 6, 7].map((d) => ({ weekday: d, starts: '08:00', ends: '20:00', site: SITE, counter_number: 6 })),
  });
  assert.equal(schedule.status, 200, JSON.stringify(schedule.body));

  const page = await newPage(browser);
  await login(page, 'poli.bianchi', '/calendario');
  await page.waitForSelector('#behalf-service option', { state: 'attached' });
  await page.selectOption('#behalf-service', SERVICE);
  await page.waitForFunction(() => document.querySelectorAll('#behalf-slot option').length > 2);
  const [first, second] = await page.$$eval('#behalf-slot option', (os) => os.slice(0, 2).map((o) => o.value));
  await page.selectOption('#behalf-slot', first);
  await page.fill('#behalf-fiscal-code', process.env.SPORTELLO_DEMO_MOVER_FISCAL_CODE || FISCAL_CODE);
  await page.click('[data-testid="behalf-submit"]');
  const done = await page.waitForSelector('[data-testid="behalf-done"]:not([hidden])');
  const code = (await done.textContent()).match(/[0-9A-Z]{8}/)[0];

  // The week's calendar lists it, confirmed.
  const day = first.split('|')[1];
  await page.fill('#cal-from', new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Rome' }).format(new Date(day)));
  await page.selectOption('#cal-days', '7');
  await page.click('#cal-form button[type=submit]');
  const row = page.locator(`tr[data-code="${code}"]`);
  await row.waitFor();
  assert.equal(await row.getAttribute('data-status'), 'confirmed');
  await axe(page, 'calendar');

  // Moved to the next free slot: the same booking, another time.
  const before = await row.locator('td').first().textContent();
  await row.locator('[data-action="move"]').click();
  await page.selectOption(`#move-${code}`, second);
  await page.click('[data-testid="confirm-move"]');
  await page.waitForFunction(([c, t]) => {
    const r = document.querySelector(`tr[data-code="${c}"]`);
    return r && r.querySelector('td').textContent !== t;
  }, [code, before]);

  // Cancelled with a reason.
  await page.locator(`tr[data-code="${code}"] [data-action="cancel"]`).click();
  await page.fill(`#reason-${code}`, 'Il cittadino ha chiesto di annullare per telefono.');
  await page.click('[data-testid="confirm-cancel"]');
  await page.waitForSelector(`tr[data-code="${code}"][data-status="cancelled"]`);
});

test('a citizen waits in line on the public page; a cancelled slot is held for them and they take it', async () => {
  const citizen = await newPage(browser);
  await citizen.goto('/prenota');
  await citizen.click(`label[for="svc-${SERVICE.replace('.', '-')}"]`);
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Rome' }).format(new Date());
  const inAWeek = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Rome' }).format(new Date(Date.now() + 7 * 86_400_000));
  await citizen.fill('#wait-from', today);
  await citizen.fill('#wait-to', inAWeek);
  await citizen.fill('#wait-fiscal-code', FISCAL_CODE);
  await citizen.click('[data-testid="wait-submit"]');
  await citizen.waitForSelector('[data-testid="wait-joined"]:not([hidden])');
  await citizen.fill('#wait-check-fiscal-code', FISCAL_CODE);
  await citizen.click('[data-testid="wait-check-submit"]');
  await citizen.waitForSelector('[data-testid="wait-status"][data-status="waiting"]');
  await axe(citizen, 'waiting list');

  // An operator books the first free slot for someone else, who then cancels: the slot
  // is held for the first in line at once.
  const desk = await newPage(browser);
  await login(desk, 'poli.bianchi', '/calendario');
  const free = await desk.evaluate(async (s) => (await (await fetch(`/api/v1/appointments/slots?service=${s}&days=7`)).json()).slots[0], SERVICE);
  assert.ok(free, 'a free slot this week');
  const booked = await apiAs(desk, 'POST', '/appointments/on-behalf', {
    service_code: SERVICE, site: free.site, start_time: free.start_time,
    fiscal_code: process.env.SPORTELLO_DEMO_MOVER_FISCAL_CODE,
  });
  assert.equal(booked.status, 201, JSON.stringify(booked.body));
  const withdrawn = await apiAs(desk, 'POST', `/appointments/${booked.body.booking.code}/withdraw`, { reason: 'Il cittadino non può venire.' });
  assert.equal(withdrawn.status, 200, JSON.stringify(withdrawn.body));

  await citizen.click('[data-testid="wait-check-submit"]');
  await citizen.waitForSelector('[data-testid="wait-status"][data-status="offered"]');
  await citizen.click('[data-testid="wait-accept"]');
  await citizen.waitForSelector('[data-testid="wait-status"][data-status="booked"]');
  assert.match(await citizen.textContent('[data-testid="wait-status"]'), /[0-9A-Z]{8}/);
});
