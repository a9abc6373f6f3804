// A transferred case keeps its original arrival; no-show needs the site's minimum calls.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { callNext, complete, expectConsoleError, launch, openConsole, openKiosk, serviceOf, setOffline, takeTicket } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function callByNumber(page, label) {
  await page.fill('#call-ticket-input', label);
  await page.click('#call-ticket-form button[type=submit]');
  try {
    await page.locator('[data-testid="called-label"]', { hasText: label }).waitFor();
  } catch (err) {
    const alerts = await page.locator('[role=alert]').allTextContents();
    throw new Error(`${label} was not called; the page says: ${alerts.map((a) => a.trim()).filter(Boolean).join(' | ')}`, { cause: err });
  }
  await page.waitForFunction((l) => document.getElementById('case-label').textContent === l, label);
}

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
  for (let i = 0; i < 30; i++) {
    const got = await callNext(b);
    assert.ok(got, `nobody left to call before ${x} (seen ${seen.join(', ')})`);
    assert.notEqual(got, y, `${y} was called before the transferred ${x} (seen ${seen.join(', ')})`);
    await complete(b, 'informed');
    if (got === x) break;
    seen.push(got);
  }
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
  expectConsoleError(op, /status of 4(09|22) .*\/no-show\)$/);
  await op.click('[data-testid="no-show"]');
  const alert = op.locator('[data-testid="case-alert"]');
  await alert.waitFor({ state: 'visible' });
  assert.notEqual((await alert.textContent()).trim(), '', 'the server\'s refusal is shown');
  assert.equal(await alert.getAttribute('role'), 'alert');

  await op.click('[data-testid="recall"]');
  await op.locator('[data-testid="case-call-count"]', { hasText: '2' }).waitFor();
  await op.click('[data-testid="no-show"]');
  await op.waitForSelector('[data-testid="case-status"][data-status="no_show"]');
  await setOffline(op);
});
