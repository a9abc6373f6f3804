// The front desk hands a counter case to the back office; a specialist receives the
// offer, accepts it and completes it; the citizen's receipt says when they will hear.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { axe, callByNumber, launch, login, newPage, openConsole, openKiosk, serviceOf, setOffline, takeTicket } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a counter case handed to the back office is offered, accepted and completed', async () => {
  // The specialist starts receiving work.
  const specialist = await newPage(browser);
  await login(specialist, 'bo.gialli', '/back-office');
  await specialist.waitForFunction(() => document.getElementById('presence-badge').textContent.trim() !== '—');
  if (await specialist.getAttribute('#presence-toggle', 'aria-pressed') !== 'true') {
    await specialist.click('[data-testid="presence-toggle"]');
    await specialist.waitForSelector('#presence-toggle[aria-pressed="true"]');
  }
  await axe(specialist, 'back office');

  // A citizen at the counter needs what only the back office can decide.
  const kiosk = await openKiosk(browser);
  const label = await takeTicket(kiosk, await serviceOf(kiosk, 'anagrafe'));
  const desk = await openConsole(browser, 'poli.bianchi', 2);
  await callByNumber(desk, label);
  const note = `Chiesta verifica della dimora; visti documento e contratto di locazione (${label}).`;
  await desk.fill('#escalate-note', note);
  await desk.click('[data-testid="escalate"]');
  const receipt = desk.locator('[data-testid="escalation-receipt"]');
  await receipt.waitFor({ state: 'visible' });
  const answerBy = await desk.getAttribute('[data-testid="receipt-answer-by"]', 'data-day');
  assert.match(answerBy ?? '', /^\d{4}-\d{2}-\d{2}$/, 'the receipt says by when the citizen will hear');
  assert.equal(await desk.locator('[data-testid="case-card"]').isHidden(), true, 'the case left the counter');
  await setOffline(desk);

  // The offer reaches the specialist without a reload, with its countdown and the note.
  const offer = specialist.locator('.sp-offer', { hasText: label });
  await offer.waitFor({ timeout: 20_000 });
  assert.match(await offer.textContent(), /\d\d:\d\d/, 'the offer counts down');
  await offer.locator('[data-testid="accept-offer"]').click();
  await specialist.waitForSelector('[data-testid="item-state"][data-state="held"]');
  assert.equal((await specialist.textContent('[data-testid="item-note"]')).trim(), note);
  // A counter's hand-off is of a service that lists no outcomes in the catalogue: the
  // general ones are offered, and only they.
  assert.deepEqual(await specialist.$$eval('#work-outcome option', (os) => os.map((o) => o.value)),
    ['approved', 'rejected', 'informed']);
  await specialist.selectOption('#work-outcome', 'informed');
  await specialist.click('[data-testid="complete-work"]');
  await specialist.waitForSelector('[data-testid="item-state"][data-state="completed"]');

  // Routing closed the case with the specialist's outcome.
  const caseId = await desk.textContent('#receipt-case');
  const stored = await specialist.evaluate(async (id) => (await fetch(`/api/v1/cases/${encodeURIComponent(id)}`)).json(), caseId.trim());
  assert.equal(stored.case.status, 'completed', JSON.stringify(stored.case));
  await specialist.click('[data-testid="presence-toggle"]');
});

test('a counter case continues by appointment with a note, and the card knows its budget', async () => {
  const kiosk = await openKiosk(browser);
  const label = await takeTicket(kiosk, await serviceOf(kiosk, 'anagrafe'));
  const desk = await openConsole(browser, 'poli.bianchi', 2);
  await callByNumber(desk, label);
  // The card carries the counter budget (the catalogue's expected minutes) and how long
  // the case has been at the counter: past the budget, it suggests the hand-offs.
  const card = await desk.evaluate(async () => {
    const res = await fetch('/api/v1/console');
    return (await res.json()).current_case;
  });
  assert.ok(card.budget_seconds > 0, JSON.stringify(card));
  assert.ok(card.serving_seconds < card.budget_seconds, JSON.stringify(card));
  assert.equal(await desk.locator('[data-testid="over-budget"]').isHidden(), true, 'within its budget');

  // Without a note nothing is sent; with one the case leaves the counter.
  await desk.click('[data-testid="to-appointment"]');
  await desk.locator('#case-alert').waitFor({ state: 'visible' });
  assert.equal(await desk.locator('[data-testid="case-card"]').isHidden(), false);
  await desk.fill('#escalate-note', `Serve il sopralluogo del tecnico; visto il contratto (${label}).`);
  await desk.click('[data-testid="to-appointment"]');
  await desk.locator('[data-testid="case-card"]').waitFor({ state: 'hidden' });
  const done = await desk.evaluate(async (id) => (await (await fetch(`/api/v1/cases/${id}`)).json()), card.id);
  assert.equal(done.case.outcome_code, 'appointment_requested', JSON.stringify(done));
  await setOffline(desk);
});
