// Enrolment at the counter (issue 16): the multi-purpose operator opens the enrolment
// page, picks the nursery's window open today, and files an application for a resident
// child of the demo register — the applicant's declarations, the checklist of what the
// counter has seen —; a child outside the nursery's age is refused with the error on the
// child's fiscal code; the receipt shows the application's code (NIDO27-00012), the
// protocol number and the declarations, never the L. 104/1992 one; it prints alone
// (the print stylesheet, and a PDF of it), and prints again later from its address.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FISCAL_CODE, axe, expectConsoleError, launch, login, newPage, screenshot } from './helpers.mjs';

const CHILD = process.env.SPORTELLO_DEMO_CHILD_FISCAL_CODE || '';
const PARENT = process.env.SPORTELLO_DEMO_PARENT_FISCAL_CODE || '';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Ticks a box as the operator does: Bootstrap Italia draws it on its label. */
async function tick(page, id) {
  if (!await page.isChecked(`#${id}`)) await page.click(`label[for="${id}"]`);
  assert.equal(await page.isChecked(`#${id}`), true, id);
}

/** Ticks every box of the counter's checklist. */
async function tickChecklist(page) {
  const ids = await page.$$eval('[data-testid="edu-checklist"] input[type="checkbox"]', (boxes) => boxes.map((b) => b.id));
  for (const id of ids) await tick(page, id);
}

test('the counter files a nursery application and prints its receipt', async () => {
  assert.ok(CHILD && PARENT && FISCAL_CODE, 'run under deploy/local/stack.sh: it names a demo child and parent');
  const desk = await newPage(browser);
  await login(desk, 'poli.bianchi', '/iscrizioni');
  await desk.waitForSelector('[data-testid="edu-window"] option', { state: 'attached' });

  // The nursery's window open today, with its days and its published criteria.
  const nursery = await desk.$eval('[data-testid="edu-window"]', (select) =>
    [...select.options].find((o) => /Nido/.test(o.textContent))?.value);
  assert.ok(nursery, 'the demo opens a nursery window');
  await desk.selectOption('[data-testid="edu-window"]', nursery);
  assert.match(await desk.textContent('[data-testid="edu-window-dates"]'), /3 a 36 mesi/);
  assert.match(await desk.textContent('[data-testid="edu-criteria"]'), /residente/);
  assert.ok(await desk.locator('[data-testid="edu-checklist"] input').count() >= 3,
    "the catalogue's documents, the signed declaration and the privacy notice");
  await axe(desk, 'enrolment: intake');

  // Left empty: the fiscal codes and the checklist are named, nothing is sent.
  await desk.click('[data-testid="edu-file"]');
  assert.equal(await desk.getAttribute('[name="child_fiscal_code"]', 'aria-invalid'), 'true');
  assert.equal(await desk.getAttribute('[name="applicant_fiscal_code"]', 'aria-invalid'), 'true');
  assert.equal(await desk.getAttribute('[name="checklist.declaration"]', 'aria-invalid'), 'true');

  // A grown-up's fiscal code as the child's: education reads the age from it and refuses,
  // on the child's field, saying why.
  await desk.fill('[data-testid="edu-child"]', FISCAL_CODE);
  await desk.fill('[data-testid="edu-applicant"]', PARENT);
  await desk.selectOption('[data-testid="edu-working-parents"]', '2');
  await desk.fill('[data-testid="edu-isee"]', '7.500,00');
  await desk.fill('[data-testid="edu-dsu"]', 'INPS-ISEE-2027-00012345A-00');
  await tick(desk, 'disability');
  await tickChecklist(desk);
  expectConsoleError(desk, /status of 400/);
  await desk.click('[data-testid="edu-file"]');
  await desk.waitForSelector('#application-form [data-form-alert]:not([hidden])');
  assert.equal(await desk.getAttribute('[name="child_fiscal_code"]', 'aria-invalid'), 'true',
    await desk.textContent('#application-form [data-form-alert]'));
  assert.match(await desk.textContent('#child_fiscal_code-error, #child-error'), /36 mesi/);
  assert.equal(await desk.isVisible('[data-testid="edu-receipt"]'), false);
  await axe(desk, 'enrolment: a refused child');

  // The child of the nursery's age: filed.
  await desk.fill('[data-testid="edu-child"]', CHILD.toLowerCase());
  await desk.click('[data-testid="edu-file"]');
  const receipt = desk.locator('[data-testid="edu-receipt"]');
  await receipt.waitFor({ state: 'visible' });
  const code = (await desk.textContent('[data-testid="edu-receipt-code"]')).trim();
  assert.match(code, /^NIDO\d{2}-\d{5}$/);
  const protocol = (await desk.textContent('[data-testid="edu-receipt-protocol"]')).trim();
  assert.match(protocol, /\d/);
  assert.match(await desk.textContent('[data-testid="edu-receipt-filed"]'), /\d/);
  assert.match(await desk.textContent('[data-testid="edu-receipt-status"]'), /Presentata/);
  assert.match(await desk.textContent('[data-testid="edu-receipt-service"]'), /Nido d'infanzia \d{4}\/\d{2}/);
  const declared = await desk.textContent('[data-testid="edu-receipt-declared"]');
  assert.match(declared, /Entrambi/);
  assert.match(declared, /7\.?500,00/);
  assert.match(declared, /INPS-ISEE-2027-00012345A-00/);
  // The health declaration scored, and is never shown; nor are the fiscal codes.
  const shown = await receipt.textContent();
  assert.doesNotMatch(shown, /104|disabilit/i);
  assert.doesNotMatch(shown, new RegExp(CHILD, 'i'));
  assert.match(desk.url(), /\/iscrizioni\?domanda=[0-9a-f-]{36}$/);
  await axe(desk, 'enrolment: receipt');

  // Printing: the browser's print is asked for, and on paper only the receipt shows.
  await desk.evaluate(() => {
    window.printed = 0;
    window.print = () => { window.printed += 1; };
  });
  await desk.click('[data-testid="edu-receipt-print"]');
  assert.equal(await desk.evaluate(() => window.printed), 1);
  await desk.emulateMedia({ media: 'print' });
  assert.equal(await desk.isVisible('[data-testid="edu-receipt"]'), true);
  assert.equal(await desk.isVisible('header'), false);
  assert.equal(await desk.isVisible('#intake'), false);
  assert.equal(await desk.isVisible('[data-testid="edu-receipt-print"]'), false);
  const printed = await desk.evaluate(() => document.body.innerText);
  assert.match(printed, new RegExp(code));
  assert.match(printed, new RegExp(protocol.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.match(printed, /Ricevuta della domanda di iscrizione/);
  await screenshot(desk, 'enrolment-receipt-print');
  const pdf = await desk.pdf({ format: 'A4' });
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
  await desk.emulateMedia({ media: 'screen' });

  // The receipt prints again later from its address.
  const again = await newPage(browser);
  await login(again, 'poli.bianchi', new URL(desk.url()).pathname + new URL(desk.url()).search);
  await again.waitForSelector('[data-testid="edu-receipt"]:not([hidden])');
  assert.equal((await again.textContent('[data-testid="edu-receipt-code"]')).trim(), code);
  assert.equal((await again.textContent('[data-testid="edu-receipt-protocol"]')).trim(), protocol);

  // A second application for the same child is refused, naming the first.
  await desk.click('[data-testid="edu-receipt-new"]');
  await desk.waitForSelector('#intake:not(.d-none)');
  await desk.selectOption('[data-testid="edu-window"]', nursery);
  await desk.fill('[data-testid="edu-child"]', CHILD);
  await desk.fill('[data-testid="edu-applicant"]', PARENT);
  await tickChecklist(desk);
  expectConsoleError(desk, /status of 409/);
  await desk.click('[data-testid="edu-file"]');
  await desk.waitForSelector('#application-form [data-form-alert]:not([hidden])');
  assert.match(await desk.textContent('#application-form [data-form-alert]'), new RegExp(code));
});

test('an operator of another department may not take enrolments', async () => {
  const page = await newPage(browser);
  expectConsoleError(page, /status of 403/);
  await login(page, 'bo.viola', '/iscrizioni');
  await page.waitForSelector('#page-alert:not([hidden])');
  assert.equal(await page.isVisible('[data-testid="edu-receipt"]'), false);
  assert.equal(await page.isDisabled('[data-testid="edu-file"]'), true);
});
