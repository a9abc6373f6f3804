// A transferred case keeps its original arrival; no-show needs the site's minimum calls.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { callByNumber, callNext, complete, expectConsoleError, launch, openConsole, openKiosk, serviceOf, setOffline, takeTicket } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a transferred case is served before later arrivals of the target queue', async () => {
  const kiosk = await openKiosk(browser);
  const x = await takeTicket(kiosk, await serviceOf(kiosk, 'anagrafe'));
  const y = await takeTicket(kiosk, await serviceOf(kiosk, 'informazioni'));

  const a = await openConsole(browser, 'poli.bianchi', 2);
  await callByNumber(a, x);
  await a.selectOption('#transfer-group', 'informazioni');
  await a.fill('#transfer-reason', 'Serve solo un\'informazione');
  await a.click('#transfer-form button[type=submit]');
  await a.waitForFunction(() => document.getElementById('case-status').dataset.status !== 'called');
  assert.equal(await a.locator('#case-alert').isHidden(), true, await a.textContent('#case-alert'));
  await setOffline(a);

  const b = await openConsole(browser, 'poli.verdi', 4);
  const seen = [];
  let calledX = false;
  for (let i = 0; i < 30 && !calledX; i++) {
    const got = await callNext(b);
    assert.ok(got, `nobody left to call before ${x} (seen ${seen.join(', ')})`);
    assert.notEqual(got, y, `${y} was called before the transferred ${x} (seen ${seen.join(', ')})`);
    await complete(b, 'informed');
    calledX = got === x;
    if (!calledX) seen.push(got);
  }
  assert.ok(calledX, `${x} was never called in 30 calls (seen ${seen.join(', ')})`);
  // Drain Y so later tests and runs start clean.
  await b.fill('#call-ticket-input', y);
  await b.click('#call-ticket-form button[type=submit]');
  await b.locator('[data-testid="called-label"]', { hasText: y }).waitFor();
  await complete(b, 'informed');
  await setOffline(b);
});

test('no-show is refused before the second call and accepted after it', async () => {
  const kiosk = await openKiosk(browser);
  const z = await takeTicket(kiosk, await serviceOf(kiosk, 'mobilita'));
  const op = await openConsole(browser, 'poli.bianchi', 2);
  await callByNumber(op, z);
  assert.equal((await op.textContent('[data-testid="case-call-count"]')).trim(), '1');

  // Refused on purpose: the browser logs the API's conflict answer as a failed resource.
  expectConsoleError(op, /status of 409 .*\/no-show\)$/);
  const [refusal] = await Promise.all([
    op.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/no-show')),
    op.click('[data-testid="no-show"]'),
  ]);
  assert.equal(refusal.status(), 409, 'refused by the server (FAILED_PRECONDITION)');
  assert.equal((await refusal.json()).error.code, 'FAILED_PRECONDITION');
  const alert = op.locator('[data-testid="case-alert"]');
  await alert.waitFor({ state: 'visible' });
  assert.notEqual((await alert.textContent()).trim(), '', 'the server\'s refusal is shown');
  assert.equal(await alert.getAttribute('role'), 'alert');
  // Nothing changed: on screen, and on the server.
  assert.equal(await op.getAttribute('[data-testid="case-status"]', 'data-status'), 'called');
  assert.equal((await op.textContent('[data-testid="case-call-count"]')).trim(), '1');
  const caseId = decodeURIComponent(new URL(refusal.url()).pathname.split('/').at(-2));
  const stored = await op.evaluate(async (id) => (await fetch(`/api/v1/cases/${encodeURIComponent(id)}`)).json(), caseId);
  assert.equal(stored.case.status, 'called', JSON.stringify(stored.case));
  assert.equal(stored.case.call_count, 1, JSON.stringify(stored.case));
  assert.equal(stored.case.ticket_label, z);

  await op.click('[data-testid="recall"]');
  await op.locator('[data-testid="case-call-count"]', { hasText: '2' }).waitFor();
  await op.click('[data-testid="no-show"]');
  await op.waitForSelector('[data-testid="case-status"][data-status="no_show"]');
  await setOffline(op);
});
