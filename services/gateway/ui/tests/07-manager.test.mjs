// The manager's page: a department's open back-office work by procedure and by
// assignee, and the year's breaches. A counter case handed to the back office while no
// specialist receives shows as open and unassigned in its procedure's line.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { axe, callByNumber, expectConsoleError, launch, login, newPage, openConsole, openKiosk, serviceOf, setOffline, takeTicket } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** The numbers of the line `key` of table `testid`, as shown. */
async function line(page, testid, key) {
  return page.evaluate(
    ([id, k]) => {
      const row = [...document.querySelectorAll(`[data-testid="${id}"] tbody tr`)].find((r) => r.dataset.key === k);
      return row ? [...row.querySelectorAll('td.text-end')].map((td) => Number(td.textContent)) : null;
    },
    [testid, key],
  );
}

test("the manager sees the office's open work by procedure and by assignee", async () => {
  const manager = await newPage(browser);
  await login(manager, 'resp.blu', '/ufficio');
  await manager.waitForSelector('[data-testid="by-procedure"] tfoot tr');
  await axe(manager, 'manager page');
  await manager.selectOption('[data-testid="department"]', 'anagrafe');
  await manager.click('#summary-form button[type=submit]');
  const before = await manager.evaluate(async () => (await fetch('/api/v1/back-office/summary?department=anagrafe')).json());

  // A counter case goes to the back office while nobody receives it.
  const kiosk = await openKiosk(browser);
  const label = await takeTicket(kiosk, await serviceOf(kiosk, 'anagrafe'));
  const desk = await openConsole(browser, 'poli.bianchi', 2);
  await callByNumber(desk, label);
  await desk.fill('#escalate-note', `Verifica richiesta allo sportello (${label}).`);
  await desk.click('[data-testid="escalate"]');
  await desk.locator('[data-testid="escalation-receipt"]').waitFor({ state: 'visible' });
  await setOffline(desk);

  // The manager's page counts it: one more open, unassigned item of anagrafe.
  const after = await manager.evaluate(async () => (await fetch('/api/v1/back-office/summary?department=anagrafe')).json());
  assert.equal(after.total.open, before.total.open + 1, JSON.stringify(after));
  const unassigned = after.by_assignee.find((r) => r.key === '');
  assert.ok(unassigned && unassigned.open >= 1, JSON.stringify(after.by_assignee));
  await manager.click('#summary-form button[type=submit]');
  await manager.waitForFunction(
    (n) => Number(document.querySelector('[data-testid="by-procedure"] tfoot td.text-end')?.textContent) === n,
    after.total.open,
  );
  const procedure = after.by_procedure.find((r) => r.open > 0);
  assert.ok(procedure, JSON.stringify(after.by_procedure));
  const shown = await line(manager, 'by-procedure', procedure.key);
  assert.deepEqual(
    shown,
    [procedure.open, procedure.waiting, procedure.offered, procedure.held, procedure.suspended, procedure.due_soon, procedure.breached],
    'the page shows what the API counts',
  );
  assert.equal(
    (await manager.textContent('[data-testid="by-assignee"] tbody tr[data-key=""] td')).trim(),
    'non assegnate',
  );

  // The counter queues of every site, each with its wait estimate and, never blank, what
  // the estimate rests on (or why there is none).
  const queues = await manager.evaluate(async () => (await fetch('/api/v1/back-office/queues')).json());
  const expected = queues.sites.flatMap((s) => s.queues.map((q) => [s.code, q.service_group]));
  assert.ok(expected.length > 0, JSON.stringify(queues));
  const rows = await manager.$$eval('[data-testid="counter-queues"] tbody tr', (rs) =>
    rs.map((r) => [r.dataset.site, r.dataset.queue, r.querySelector('[data-testid="wait-basis"]')?.textContent.trim() ?? '']),
  );
  assert.deepEqual(rows.map((r) => r.slice(0, 2)), expected, 'one line per queue of each site');
  for (const [, queue, basis] of rows) assert.ok(basis.length > 0, `the estimate of ${queue} says what it rests on`);

  // The year's breaches report answers for this year, and a bad year names the field.
  const year = new Date().getFullYear();
  const breaches = await manager.evaluate(async (y) => (await fetch(`/api/v1/back-office/breaches?year=${y}`)).json(), year);
  assert.ok(Array.isArray(breaches.procedures), JSON.stringify(breaches));
  expectConsoleError(manager, /status of 400 .*due_soon_days=99\)$/);
  const bad = await manager.evaluate(async () => {
    const r = await fetch('/api/v1/back-office/summary?due_soon_days=99');
    return { status: r.status, body: await r.json() };
  });
  assert.equal(bad.status, 400, JSON.stringify(bad));
  assert.match(JSON.stringify(bad.body), /due_soon_days/);

  // A specialist may not see the manager's figures.
  const specialist = await newPage(browser);
  await login(specialist, 'bo.gialli', '/back-office');
  expectConsoleError(specialist, /status of 403 .*\/back-office\/summary\)$/);
  expectConsoleError(specialist, /status of 403 .*\/back-office\/queues\)$/);
  const refused = await specialist.evaluate(async () => [
    (await fetch('/api/v1/back-office/summary')).status,
    (await fetch('/api/v1/back-office/queues')).status,
  ]);
  assert.deepEqual(refused, [403, 403]);
});

test("the manager sees the enrolment windows' surge: the designated polivalente reinforces education", async () => {
  const manager = await newPage(browser);
  await login(manager, 'resp.blu', '/ufficio');
  // The demo opened the nursery's and the pre-school's windows after designating
  // poli.verdi: routing hears of them and starts their surges at once (their first day
  // has passed).
  let surges = [];
  for (let i = 0; i < 60; i += 1) {
    surges = (await manager.evaluate(async () => (await fetch('/api/v1/back-office/surges')).json())).surges;
    if (surges.length === 2 && surges.every((s) => s.status === 'active')) break;
    await manager.waitForTimeout(500);
  }
  assert.equal(surges.length, 2, JSON.stringify(surges));
  for (const surge of surges) {
    assert.equal(surge.status, 'active', JSON.stringify(surge));
    assert.deepEqual(surge.operators.map((o) => o.operator_id), ['poli.verdi'], JSON.stringify(surge));
    // Weekends and holidays: the counters are closed.
    assert.ok(surge.days.some((d) => d.capacity > 0) && surge.days.some((d) => d.capacity === 0));
  }
  await manager.reload();
  const rows = manager.locator('#surge-rows tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 2);
  assert.match(await rows.first().textContent(), /poli\.verdi/);
  assert.equal((await manager.locator('[data-testid="surge-status"]').first().textContent()).trim(), 'in corso');
  await axe(manager, 'manager page with surges');
});
