// Kiosk ticket -> operator calls next -> the board shows it -> operator completes it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SITE, callUntil, complete, launch, newPage, openConsole, openKiosk, screenshot, serviceOf, setOffline, takeTicket } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a kiosk ticket is called, shown on the board and completed', async () => {
  const kiosk = await openKiosk(browser);
  const board = await newPage(browser);
  await board.goto(`/tabellone/${SITE}`);
  await board.waitForSelector('#queue-list li');

  const service = await serviceOf(kiosk, 'servizi_educativi');
  const label = await takeTicket(kiosk, service);
  assert.match(label, /^B/, `ticket label ${label} should use letter B`);

  const op = await openConsole(browser, 'poli.bianchi', 2);
  await callUntil(op, label);
  assert.equal((await op.textContent('#called-counter')).trim(), '2');
  assert.notEqual((await op.textContent('[data-testid="decision-explanation"]')).trim(), '', 'the decision is explained');

  const current = board.locator('[data-testid="current-call"]');
  await current.filter({ hasText: label }).waitFor({ timeout: 10_000 });
  // The label and the counter number, each in its own place (not "a 2 somewhere").
  assert.equal(await current.getAttribute('data-label'), label);
  assert.equal(await current.getAttribute('data-counter'), '2');
  assert.equal((await current.locator('.sp-board-call-counter-number').textContent()).trim(), '2', `board shows ${label} at counter 2`);
  await screenshot(board, 'flow-board-current-call');

  await complete(op, 'informed');
  assert.equal(await op.getAttribute('[data-testid="case-status"]', 'data-status'), 'completed');
  await screenshot(op, 'flow-console-completed');
  await setOffline(op);
});
