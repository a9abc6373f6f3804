// The business desk takes a dehors application at the counter (DPR 160/2010; L. 160/2019
// c. 816-836 for the land): the technical operator reads the procedure's guidance, finds
// the business by VAT number (registering it the first time), attaches one file per
// checklist item and draws the place as an outline; errors come back on their fields
// (the SUAP's own refusal of a period included); the filing's receipt shows the protocol
// number, the term, the measured area and the documents' fingerprints, and prints alone;
// the business's dossier lists it, and the SUAP's specialist grants it in the back office.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { axe, expectConsoleError, launch, login, newPage, screenshot } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** A minimal PDF: the SUAP checks that a PDF starts with %PDF-. */
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
/** A VAT number with a valid check digit (office 011, La Spezia). */
const VAT = '01234560116';
/** A 4 m × 6 m rectangle on Via del Prione, as a surveyor's "lat, lon" lines. */
const OUTLINE = (() => {
  const [lat, lon] = [44.10245, 9.8241];
  const dLat = 4 / 111195.08;
  const dLon = 6 / (111195.08 * Math.cos((lat * Math.PI) / 180));
  return [[lat, lon], [lat, lon + dLon], [lat + dLat, lon + dLon], [lat + dLat, lon]]
    .map(([a, b]) => `${a.toFixed(7)}, ${b.toFixed(7)}`).join('\n');
})();

test('the counter files a dehors application, prints its receipt, and the back office grants it', async () => {
  const desk = await newPage(browser);
  await login(desk, 'tec.neri', '/imprese');
  await desk.waitForSelector('#filing-block:not([hidden])');

  // The guidance of the procedure: its clock and its checklist, printable for the business.
  await desk.selectOption('[data-testid="suap-procedure"]', 'suolo.dehors');
  await desk.waitForSelector('#place:not([hidden])');
  assert.match(await desk.textContent('[data-testid="suap-checklist"]'), /\S/);
  const required = desk.locator('#filing-documents input[aria-required="true"]');
  assert.ok(await required.count() >= 2, 'a dehors asks for its form and its plan at least');
  await axe(desk, 'business desk: intake');

  // The business: not known yet on a fresh stack, so the desk registers it (a second run
  // on the same stack finds it).
  await desk.fill('[data-testid="suap-vat"]', VAT);
  expectConsoleError(desk, /status of 404/);
  await desk.click('[data-testid="suap-lookup"]');
  await desk.waitForFunction(() => !document.getElementById('register-form').hidden
    || !document.getElementById('business-found').hidden);
  if (await desk.isVisible('#register-form')) {
    await desk.fill('#reg-legal-name', 'Caffè del Prione S.n.c.');
    await desk.fill('#reg-ateco', '56.30');
    await desk.fill('#reg-street', 'Via del Prione');
    await desk.fill('#reg-number', '42');
    await desk.fill('#reg-postal', '19121');
    await desk.click('[data-testid="suap-register"]');
  }
  await desk.waitForSelector('[data-testid="suap-business"]:not([hidden])');
  assert.match(await desk.textContent('[data-testid="suap-business"]'), new RegExp(VAT));
  assert.equal(await desk.isDisabled('[data-testid="suap-file"]'), false);

  // Left empty: the subject, the required documents and the outline are named.
  await desk.click('[data-testid="suap-file"]');
  assert.equal(await desk.getAttribute('[name="subject"]', 'aria-invalid'), 'true');
  assert.equal(await desk.getAttribute('[name="mandate_reference"]', 'aria-invalid'), 'true');
  assert.equal(await required.first().getAttribute('aria-invalid'), 'true');
  assert.equal(await desk.getAttribute('[name="occupation.vertices"]', 'aria-invalid'), 'true');

  await desk.fill('[data-testid="suap-subject"]', 'Dehors estivo davanti al locale, quattro tavoli');
  await desk.fill('[data-testid="suap-mandate-reference"]', 'Modulo firmato digitalmente il 2026-12-04');
  for (let i = 0; i < await required.count(); i += 1) {
    await required.nth(i).setInputFiles({ name: `allegato-${i}.pdf`, mimeType: 'application/pdf', buffer: PDF });
  }
  await desk.fill('[data-testid="suap-place-street"]', 'Via del Prione');
  await desk.fill('[data-testid="suap-place-vertices"]', OUTLINE);
  await desk.waitForSelector('#place-preview polygon');
  assert.match(await desk.textContent('#place-area'), /24[.,]\d m²/);

  // The SUAP refuses a period that ends before it starts: the error is on the end date.
  expectConsoleError(desk, /status of 400/);
  await desk.fill('[data-testid="suap-place-start"]', '2027-08-31');
  await desk.fill('[data-testid="suap-place-end"]', '2027-05-01');
  await desk.click('[data-testid="suap-file"]');
  await desk.waitForSelector('#filing-form [data-form-alert]:not([hidden])');
  assert.equal(await desk.getAttribute('[name="occupation.end_date"]', 'aria-invalid'), 'true',
    await desk.textContent('#filing-form [data-form-alert]'));

  // Filed: the receipt.
  await desk.fill('[data-testid="suap-place-start"]', '2027-05-01');
  await desk.fill('[data-testid="suap-place-end"]', '2027-08-31');
  await desk.click('[data-testid="suap-file"]');
  const receipt = desk.locator('[data-testid="suap-receipt"]');
  await receipt.waitFor({ state: 'visible' });
  const protocol = (await desk.textContent('[data-testid="suap-receipt-protocol"]')).trim();
  assert.match(protocol, /\d/);
  assert.match(await desk.textContent('[data-testid="suap-receipt-business"]'), new RegExp(VAT));
  assert.match(await desk.textContent('[data-testid="suap-receipt-procedure"]'), /dehors/i);
  assert.match(await desk.textContent('[data-testid="suap-receipt-place"]'), /Via del Prione: 2[34][.,]\d\d m²/);
  assert.match(await desk.getAttribute('[data-testid="suap-receipt-due"]', 'data-day'), /^\d{4}-\d{2}-\d{2}$/);
  const documents = desk.locator('[data-testid="suap-receipt-documents"] li');
  assert.equal(await documents.count(), await required.count());
  assert.match(await documents.first().textContent(), /SHA-256 [0-9a-f]{64}/);
  assert.match((await desk.textContent('[data-testid="suap-receipt-outgoing"]')).trim(), /\d/);
  assert.match(desk.url(), /\/imprese\?domanda=[0-9a-f-]{36}$/);
  await axe(desk, 'business desk: receipt');

  // Printing: the browser's print is asked for, and on paper only the receipt shows.
  await desk.evaluate(() => {
    window.printed = 0;
    window.print = () => { window.printed += 1; };
  });
  await desk.click('[data-testid="suap-receipt-print"]');
  assert.equal(await desk.evaluate(() => window.printed), 1);
  assert.equal(await desk.evaluate(() => document.body.dataset.print), 'receipt');
  await desk.emulateMedia({ media: 'print' });
  assert.equal(await desk.isVisible('[data-testid="suap-receipt"]'), true);
  assert.equal(await desk.isVisible('[data-testid="suap-guide"]'), false);
  assert.equal(await desk.isVisible('header'), false);
  assert.equal(await desk.isVisible('[data-testid="suap-receipt-print"]'), false);
  await screenshot(desk, 'suap-receipt-print');
  await desk.emulateMedia({ media: 'screen' });

  // The receipt prints again later from its address.
  const again = await newPage(browser);
  await login(again, 'tec.neri', new URL(desk.url()).pathname + new URL(desk.url()).search);
  await again.waitForSelector('[data-testid="suap-receipt"]:not([hidden])');
  assert.equal((await again.textContent('[data-testid="suap-receipt-protocol"]')).trim(), protocol);

  // The business's dossier lists the application, in review, with its receipt.
  await desk.click('#receipt-new');
  await desk.waitForSelector(`[data-testid="suap-dossier"] tr:has-text("${protocol}")`);
  const row = desk.locator(`[data-testid="suap-dossier"] tr:has-text("${protocol}")`);
  assert.match(await row.textContent(), /In istruttoria/);
  assert.match(await row.locator('a').getAttribute('href'), /^\/imprese\?domanda=/);

  // The SUAP's specialist decides it in the back office, with the procedure's outcomes.
  const specialist = await newPage(browser);
  await login(specialist, 'bo.viola', '/back-office');
  await specialist.waitForFunction(() => document.getElementById('presence-badge').textContent.trim() !== '—');
  if (await specialist.getAttribute('#presence-toggle', 'aria-pressed') !== 'true') {
    await specialist.click('[data-testid="presence-toggle"]');
    await specialist.waitForSelector('#presence-toggle[aria-pressed="true"]');
  }
  const offer = specialist.locator('.sp-offer', { hasText: 'suap.ordinary_review' });
  await offer.first().waitFor({ timeout: 20_000 });
  await offer.first().locator('[data-testid="accept-offer"]').click();
  await specialist.waitForSelector('[data-testid="item-state"][data-state="held"]');
  assert.match(await specialist.textContent('[data-testid="item-note"]'), new RegExp(protocol));
  assert.deepEqual(await specialist.$$eval('#work-outcome option', (os) => os.map((o) => o.value)),
    ['granted', 'reasons_against', 'refused']);
  await axe(specialist, 'back office: a SUAP review');
  await specialist.selectOption('#work-outcome', 'granted');
  await specialist.click('[data-testid="complete-work"]');
  await specialist.waitForSelector('[data-testid="item-state"][data-state="completed"]');

  // The SUAP hears of it through routing's event: the dossier shows it granted.
  let status = '';
  for (let i = 0; i < 40 && !/Accolta/.test(status); i += 1) {
    await desk.click('[data-testid="suap-lookup"]');
    await desk.waitForTimeout(250);
    status = await row.textContent();
  }
  assert.match(status, /Accolta/);
});
