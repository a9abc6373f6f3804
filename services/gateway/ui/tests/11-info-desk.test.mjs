// The info desk (issue 18): a citizen takes an information ticket at the kiosk; the
// info-desk operator, serving it, finds the answer in the knowledge base (a typo and no
// accents forgiven), prints it for the citizen, and closes the quick case with its
// outcome; URP learns of the completion from routing's events and gives the rating code;
// the citizen rates the service from the printed QR's page, once; the manager sees the
// rating next to the service's handling time and outcome, never next to a person.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { axe, callUntil, launch, login, newPage, openConsole, openKiosk, screenshot, setOffline, takeTicket } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('the info desk answers from the knowledge base, closes the quick case and the citizen rates it', async () => {
  const kiosk = await openKiosk(browser);
  const label = await takeTicket(kiosk, 'urp.information');
  assert.match(label, /^E/, `ticket ${label} is in the information queue (E)`);

  const op = await openConsole(browser, 'info.rossi', 5);
  await callUntil(op, label);
  assert.equal((await op.textContent('#case-service')).trim(), 'Informazioni generali e modulistica');

  // The knowledge base beside the ticket: a typo and no accents still find the answer.
  await op.fill('[data-testid="kb-query"]', 'certifcato residenza');
  await op.click('[data-testid="kb-search"]');
  const answer = op.locator('[data-testid="kb-answer"]', { hasText: 'Certificato di residenza' });
  await answer.waitFor();
  const text = await answer.textContent();
  assert.match(text, /Cosa portare/);
  assert.match(text, /Documento d'identità/);
  assert.match(text, /Quanto costa/);
  assert.match(text, /€ 16,00/);
  assert.match(text, /Quanto tempo serve/);

  await op.fill('[data-testid="kb-query"]', 'dove trovo i moduli');
  await op.click('[data-testid="kb-search"]');
  const forms = op.locator('[data-testid="kb-answer"]', { hasText: 'Moduli del Comune' });
  await forms.waitFor();
  await screenshot(op, 'info-desk-knowledge-base');
  await axe(op, 'console with the knowledge base');

  // Printed for the citizen: on paper only the answer shows.
  await op.evaluate(() => {
    window.printed = 0;
    window.print = () => { window.printed += 1; };
  });
  await forms.locator('[data-testid="kb-print"]').click();
  assert.equal(await op.evaluate(() => window.printed), 1);
  await op.emulateMedia({ media: 'print' });
  assert.equal(await op.isVisible('#print-area'), true);
  assert.match(await op.textContent('#print-area'), /Moduli del Comune/);
  assert.equal(await op.isVisible('[data-testid="case-card"]'), false);
  assert.equal(await op.isVisible('[data-testid="kb-panel"]'), false);
  assert.equal(await op.isVisible('header'), false);
  await screenshot(op, 'info-desk-answer-print');
  await op.emulateMedia({ media: 'screen' });
  await op.evaluate(() => { delete document.body.dataset.print; });

  // The quick case closes with the info desk's own outcome.
  const outcomes = await op.$$eval('#complete-outcome option', (os) => os.map((o) => o.value));
  for (const o of ['answered', 'form_given', 'redirected']) assert.ok(outcomes.includes(o), `outcome ${o} offered: ${outcomes}`);
  await op.selectOption('#complete-outcome', 'form_given');
  await op.click('[data-testid="complete"]');
  await op.waitForSelector('[data-testid="case-status"][data-status="completed"]');

  // URP learns of it from routing's events: the slip shows the code and what was recorded.
  await op.waitForSelector('[data-testid="rating-code"]:not(:empty)', { timeout: 20_000 });
  const code = (await op.textContent('[data-testid="rating-code"]')).trim();
  assert.match(code, /^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/);
  assert.match(await op.textContent('[data-testid="rating-recorded"]'), /Modulo consegnato/);
  assert.match(await op.textContent('[data-testid="rating-recorded"]'), /\d\d:\d\d/);
  await op.click('[data-testid="rating-print"]');
  assert.equal(await op.evaluate(() => window.printed), 2);
  await op.emulateMedia({ media: 'print' });
  assert.equal(await op.isVisible('#print-area img'), true, 'the QR is printed');
  assert.match(await op.textContent('#print-area'), new RegExp(code));
  await screenshot(op, 'info-desk-rating-slip-print');
  await op.emulateMedia({ media: 'screen' });
  await setOffline(op);

  // The citizen rates it from the QR's page, with no account.
  const citizen = await newPage(browser);
  await citizen.goto(`/valuta/${code}?da=qr`);
  await citizen.waitForSelector('[data-testid="rate-case"]');
  await citizen.locator('#rate-case:not([hidden])').waitFor();
  assert.equal((await citizen.textContent('#rate-service')).trim(), 'Informazioni generali e modulistica');
  assert.equal((await citizen.textContent('#rate-site')).trim(), 'Palazzo Civico');
  await citizen.click('label[for="rating-5"]');
  await citizen.fill('#rate-comment', 'Mi hanno dato subito il modulo giusto.');
  await citizen.click('[data-testid="rate-submit"]');
  await citizen.locator('[data-testid="rate-thanks"]:not([hidden])').waitFor();
  await screenshot(citizen, 'info-desk-rated');
  await axe(citizen, 'rating page');

  // Once only: the page says so when opened again.
  await citizen.goto(`/valuta/${code.toLowerCase().replace('-', '')}`);
  await citizen.locator('[data-testid="rate-thanks"]:not([hidden])').waitFor();
  assert.match(await citizen.textContent('[data-testid="rate-thanks"]'), /già stato valutato/);
  assert.equal(await citizen.isVisible('#rate-form'), false);

  // The manager sees it per service, next to the handling time and the outcome.
  const manager = await newPage(browser);
  await login(manager, 'resp.blu', '/ufficio');
  const row = manager.locator('[data-testid="satisfaction"] tr[data-service="urp.information"]');
  await row.waitFor();
  assert.match(await row.locator('[data-testid="sat-outcomes"]').textContent(), /Modulo consegnato: \d+/);
  assert.match(await row.locator('[data-testid="sat-handling"]').textContent(), /^\d\d:\d\d$/);
  assert.ok(Number(await row.locator('[data-testid="sat-ratings"]').textContent()) >= 1);
  assert.notEqual((await row.locator('[data-testid="sat-average"]').textContent()).trim(), '—');
  const header = await manager.textContent('[data-testid="satisfaction"] thead');
  assert.doesNotMatch(header, /Operatore|Assegnatario/, 'never per operator');
  await screenshot(manager, 'info-desk-manager-satisfaction');

  for (const p of [kiosk, op, citizen, manager]) await p.context().close();
});
