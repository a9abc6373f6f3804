// The counter takes a declaration of change of residence (a move from another
// municipality, DL 5/2012 art. 5) in the console: members as rows, errors tied to their
// fields, and the printed receipt with the protocol number and the day by which the
// citizen will hear (45 days, DPR 223/1989 art. 18-bis c. 1). The registry's specialist
// then works the address check in the back office and, once it failed, the 10-bis steps
// (L. 241/1990 art. 10-bis) to the rejection.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { axe, expectConsoleError, launch, login, newPage } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Anna Verdi, born in Pisa (G702) on 21 April 1975: not in the synthetic register. */
const ANNA = 'VRDNNA75D61G702A';
/** A head of family of the synthetic register who lives alone (deploy/local/stack.sh). */
const MOVER = process.env.SPORTELLO_DEMO_MOVER_FISCAL_CODE || '';
/** A minimal PDF: the registry checks that a PDF starts with %PDF-. */
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
/** The synthetic gazetteer's first street. */
const STREET = '00001';

const days = (from, to) => Math.round((Date.parse(to) - Date.parse(from)) / 86_400_000);

test('the counter declares a move from another municipality and prints the receipt', async () => {
  // The specialist of the registry office is there to take the address check.
  const specialist = await newPage(browser);
  await login(specialist, 'bo.gialli', '/back-office');
  await specialist.waitForFunction(() => document.getElementById('presence-badge').textContent.trim() !== '—');
  if (await specialist.getAttribute('#presence-toggle', 'aria-pressed') !== 'true') {
    await specialist.click('[data-testid="presence-toggle"]');
    await specialist.waitForSelector('#presence-toggle[aria-pressed="true"]');
  }

  const desk = await newPage(browser);
  await login(desk, 'poli.bianchi', '/console');
  await desk.waitForSelector('#residence-block:not([hidden])');
  await desk.click('[data-testid="residence-open"]');
  assert.equal(await desk.getAttribute('#residence-open', 'aria-expanded'), 'true');
  // Bootstrap Italia draws the radio under its label: the operator clicks the label.
  await desk.click('label[for="res-origin-municipality"]');
  await desk.waitForSelector('#res-incoming:not([hidden])');
  await axe(desk, 'console: change of residence');

  // A required field left empty: the error is tied to it (aria-invalid, described by).
  await desk.fill('[name="members[0].fiscal_code"]', ANNA);
  await desk.click('[data-testid="declare-residence"]');
  const street = desk.locator('[name="address.street_code"]');
  assert.equal(await street.getAttribute('aria-invalid'), 'true');
  const described = await street.getAttribute('aria-describedby');
  assert.match(await desk.textContent(`#${described.split(' ').pop()}`), /obbligatorio/);

  // The person's data, the origin, the title to occupy the dwelling.
  await desk.selectOption('[name="members[0].relationship"]', 'head');
  await desk.fill('[name="members[0].surname"]', 'Verdi');
  await desk.fill('[name="members[0].given_names"]', 'Anna');
  await desk.selectOption('[name="members[0].sex"]', 'female');
  await desk.fill('[name="members[0].birth_date"]', '1975-04-21');
  await desk.fill('[name="members[0].birthplace_code"]', 'g702');
  await desk.fill('[name="members[0].citizenship"]', 'it');
  await desk.fill('#res-origin-istat', '010025');
  await desk.selectOption('#res-dwelling-title', 'tenant');
  await desk.fill('#res-dwelling-reference', 'contratto registrato 1234/3T/2026');
  await desk.fill('#res-street', STREET);
  await desk.fill('#res-house-number', '5');

  // A second member added as a row, then removed again: the rows renumber.
  await desk.click('[data-testid="residence-add-member"]');
  assert.equal(await desk.locator('[data-testid="residence-member"]').count(), 2);
  await desk.locator('[data-testid="residence-member"]').nth(1).locator('button').click();
  assert.equal(await desk.locator('[data-testid="residence-member"]').count(), 1);

  // The registry's refusal of a member's data comes back on that member's field.
  expectConsoleError(desk, /status of 400/);
  await desk.fill('[name="members[0].birth_date"]', '2199-01-01');
  await desk.click('[data-testid="declare-residence"]');
  await desk.waitForSelector('#residence-form [data-form-alert]:not([hidden])');
  assert.equal(await desk.getAttribute('[name="members[0].birth_date"]', 'aria-invalid'), 'true',
    await desk.textContent('#residence-form [data-form-alert]'));
  await desk.fill('[name="members[0].birth_date"]', '1975-04-21');

  await desk.click('[data-testid="declare-residence"]');
  const receipt = desk.locator('[data-testid="residence-receipt"]');
  await receipt.waitFor({ state: 'visible' });
  assert.match((await desk.textContent('[data-testid="res-receipt-protocol"]')).trim(), /\S/);
  const declared = await desk.getAttribute('[data-testid="res-receipt-declared"]', 'data-day');
  const answerBy = await desk.getAttribute('[data-testid="res-receipt-answer-by"]', 'data-day');
  assert.match(answerBy ?? '', /^\d{4}-\d{2}-\d{2}$/);
  const term = days(declared, answerBy);
  assert.ok(term >= 45 && term <= 48, `45 days, moved past a holiday: ${declared} → ${answerBy}`);
  assert.equal(await desk.isHidden('#residence-form'), true, 'the form closed for the next citizen');
  await axe(desk, 'console: residence receipt');

  // The address check reaches the registry's specialist as an offer; they accept it and
  // record that it failed; the item then offers the notice of reasons against.
  const offer = specialist.locator('.sp-offer', { hasText: 'registry.residence_address_check' });
  await offer.first().waitFor({ timeout: 20_000 });
  await offer.first().locator('[data-testid="accept-offer"]').click();
  await specialist.waitForSelector('[data-testid="item-state"][data-state="held"]');
  await specialist.waitForSelector('[data-testid="residence-steps"]:not([hidden])');
  // The outcomes offered are the address check's in the catalogue, with its names.
  assert.deepEqual(
    await specialist.$$eval('#work-outcome option', (os) => os.map((o) => [o.value, o.textContent.trim()])),
    [['check_passed', 'Dimora abituale accertata'], ['check_failed', 'Dimora abituale non accertata']]);
  await specialist.selectOption('#work-outcome', 'check_failed');
  await specialist.click('[data-testid="complete-work"]');
  await specialist.waitForSelector('[data-testid="item-state"][data-state="completed"]');
  await specialist.waitForSelector('#rs-notice-form:not([hidden])', { timeout: 20_000 });
  await specialist.fill('#rs-reasons', "Al sopralluogo l'abitazione risultava disabitata.");
  await specialist.click('[data-testid="rs-send-notice"]');
  await specialist.waitForSelector('#rs-receipt-form:not([hidden])');
  assert.match(await specialist.textContent('[data-testid="rs-notice"]'), /\d/);
  await axe(specialist, 'back office: the 10-bis steps');

  // Handed over at the counter today: the 10-day window opens; the citizen's observations
  // arrive the same day; the answer rejects them with reasons, and the change is rejected.
  await specialist.selectOption('#rs-delivery', 'counter');
  await specialist.click('[data-testid="rs-record-receipt"]');
  await specialist.waitForSelector('#rs-observations-form:not([hidden])');
  assert.match(await specialist.textContent('#rs-window'), /\d/, 'the window has its last day');
  await specialist.fill('#rs-observations-text', 'Abito qui da novembre; allego il contratto.');
  await specialist.click('[data-testid="rs-record-observations"]');
  await specialist.waitForSelector('#rs-answer-form:not([hidden])');
  await specialist.selectOption('#rs-outcome', 'rejected');
  await specialist.fill('#rs-answer-reasons', 'Le osservazioni non superano l\'esito del sopralluogo.');
  await specialist.click('[data-testid="rs-answer"]');
  await specialist.waitForSelector('[data-testid="rs-status"][data-status="rejected"]');
  for (const form of ['#rs-notice-form', '#rs-receipt-form', '#rs-observations-form', '#rs-answer-form']) {
    assert.equal(await specialist.isHidden(form), true, `${form}: nothing left to do`);
  }
  await specialist.click('[data-testid="presence-toggle"]');
});

test('a move within the municipality carries its declaration form to the back office', async (t) => {
  if (!MOVER) {
    t.skip('SPORTELLO_DEMO_MOVER_FISCAL_CODE is not set: run under deploy/local/stack.sh');
    return;
  }
  const specialist = await newPage(browser);
  await login(specialist, 'bo.gialli', '/back-office');
  await specialist.waitForFunction(() => document.getElementById('presence-badge').textContent.trim() !== '—');
  if (await specialist.getAttribute('#presence-toggle', 'aria-pressed') !== 'true') {
    await specialist.click('[data-testid="presence-toggle"]');
    await specialist.waitForSelector('#presence-toggle[aria-pressed="true"]');
  }

  const desk = await newPage(browser);
  await login(desk, 'poli.bianchi', '/console');
  await desk.waitForSelector('#residence-block:not([hidden])');
  await desk.click('[data-testid="residence-open"]');
  await desk.waitForSelector('#res-documents-group:not([hidden])');
  await desk.fill('[name="members[0].fiscal_code"]', MOVER);
  await desk.selectOption('[name="members[0].relationship"]', 'head');
  await desk.fill('#res-street', STREET);
  await desk.fill('#res-house-number', '7');

  // The signed form, chosen as a file; its title is picked from a list, never typed.
  await desk.setInputFiles('[data-testid="residence-documents-input"]',
    { name: 'dichiarazione.pdf', mimeType: 'application/pdf', buffer: PDF });
  const rows = desk.locator('[data-testid="residence-document"]');
  assert.equal(await rows.count(), 1);
  assert.equal(await desk.inputValue('[name="documents[0].title"]'), 'Modulo di dichiarazione');
  await axe(desk, 'console: a declaration with its documents');

  await desk.click('[data-testid="declare-residence"]');
  await desk.locator('[data-testid="residence-receipt"]').waitFor({ state: 'visible' });
  assert.deepEqual(await desk.locator('[data-testid="res-receipt-documents"] li').allTextContents(),
    ['Modulo di dichiarazione']);
  assert.equal(await rows.count(), 0, 'the next citizen starts without documents');

  // The specialist's item lists the document and links to it; the link serves the PDF.
  const offer = specialist.locator('.sp-offer', { hasText: 'registry.residence_address_check' });
  await offer.first().waitFor({ timeout: 20_000 });
  await offer.first().locator('[data-testid="accept-offer"]').click();
  await specialist.waitForSelector('[data-testid="item-state"][data-state="held"]');
  const link = specialist.locator('[data-testid="item-document-link"]');
  await link.waitFor();
  assert.equal((await link.textContent()).trim(), 'Modulo di dichiarazione');
  const href = await link.getAttribute('href');
  assert.match(href, /^\/api\/v1\/residence-changes\/[0-9a-f-]{36}\/documents\/[0-9a-f]{64}$/);
  const read = await specialist.request.get(href);
  assert.equal(read.status(), 200);
  assert.equal(read.headers()['content-type'], 'application/pdf');
  assert.equal(read.headers()['x-content-type-options'], 'nosniff');
  assert.equal(read.headers()['cache-control'], 'no-store');
  assert.deepEqual(Buffer.from(await read.body()), PDF);
  await axe(specialist, 'back office: an item with its documents');
  await specialist.click('[data-testid="presence-toggle"]');
});
