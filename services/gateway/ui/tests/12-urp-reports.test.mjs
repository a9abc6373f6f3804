// URP's reports and access requests (issue 18, item 7): a citizen files a report on the
// public page and gets its code; the URP office (bo.azzurri) finds it among the open
// reports, reads the unmasked text under audit and replies; the citizen's follow-up by
// code shows it closed with the reply. Then an access request: filed at the counter
// (info.rossi), refused by the office on a ground of art. 5-bis with its reasons, and
// listed in the public register's CSV without anyone's name.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FISCAL_CODE, axe, launch, login, newPage, screenshot } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const stamp = Date.now().toString(36);

/** The URP page signed in as `user`, once its areas have loaded. */
async function openUrp(user, query = '') {
  const page = await newPage(browser);
  await login(page, user, `/urp${query}`);
  await page.waitForSelector('#cr-category option[value="strade.buca"], #office-area:not([hidden])', { state: 'attached' });
  return page;
}

test('a citizen files a report, the URP office replies and the citizen reads the reply by code', async () => {
  const citizen = await newPage(browser);
  await citizen.goto('/segnalazioni');
  await citizen.waitForSelector('#rep-category option[value="strade.buca"]', { state: 'attached' });
  await citizen.selectOption('#rep-category', 'strade.buca');
  const description = `Buca profonda davanti al civico 12 (${stamp}); per notizie scrivete a mario.rossi@example.it`;
  await citizen.fill('[data-testid="report-description"]', description);
  await citizen.fill('[data-testid="report-address"]', 'Via del Prione 12, La Spezia');
  await citizen.fill('#rep-first', 'Mario');
  await citizen.fill('#rep-last', 'Rossi');
  await citizen.click('[data-testid="report-submit"]');
  const filed = citizen.locator('[data-testid="report-filed"]');
  await filed.waitFor();
  const code = (await citizen.textContent('[data-testid="report-code"]')).trim();
  assert.match(code, /^\d{4}-\d{6}$/);
  assert.match(await filed.textContent(), new RegExp(`codice ${code}`));
  assert.equal(await citizen.getAttribute('[data-testid="report-status"]', 'data-status'), 'received');
  // The public view masks the e-mail address the citizen wrote.
  const shown = await citizen.textContent('[data-testid="report-details"]');
  assert.match(shown, /\[e-mail\]/);
  assert.doesNotMatch(shown, /mario\.rossi@example\.it/);
  await screenshot(citizen, 'urp-report-filed');
  await axe(citizen, 'public report page, filed');

  // The URP office: the report is open, the full text is read under audit, the reply sent.
  const office = await openUrp('bo.azzurri');
  const item = office.locator(`[data-testid="open-report"][data-code="${code}"]`);
  for (let i = 0; i < 20 && !(await item.count()); i++) {
    await office.waitForTimeout(500);
    await office.click('[data-testid="reports-refresh"]');
  }
  await item.click();
  await office.locator('[data-testid="report-panel"] [data-testid="report-code"]', { hasText: code }).waitFor();
  assert.match(await office.textContent('[data-testid="report-panel"]'), /\[e-mail\]/);
  await office.click('[data-testid="reveal-requester"]');
  await office.locator('[data-testid="revealed-description"]', { hasText: 'mario.rossi@example.it' }).waitFor();
  assert.match(await office.textContent('[data-testid="revealed"]'), /Mario Rossi/);
  await office.selectOption('[data-testid="reply-outcome"]', 'resolved');
  const reply = `La buca è stata chiusa dalla squadra manutenzione strade (${stamp}).`;
  await office.fill('[data-testid="reply-text"]', reply);
  await office.click('[data-testid="reply-submit"]');
  await office.locator('[data-testid="replied"]', { hasText: code }).waitFor();
  assert.equal(await office.getAttribute('[data-testid="report-panel"] [data-testid="report-status"]', 'data-status'), 'closed');
  await screenshot(office, 'urp-office-replied');
  await axe(office, 'URP office, reply sent');

  // The citizen follows it by code: closed, with the reply.
  const later = await newPage(browser);
  await later.goto(`/segnalazioni/${code}`);
  const status = later.locator('[data-testid="report-status"][data-status="closed"]');
  await status.waitFor();
  assert.equal((await status.textContent()).trim(), 'chiusa');
  // The reply is the registered letter: its heading names the report, then the text.
  const letter = await later.textContent('[data-testid="report-reply"]');
  assert.match(letter, new RegExp(`n\\. ${code}`));
  assert.ok(letter.includes(reply), letter);
  await screenshot(later, 'urp-report-followed');
  for (const p of [citizen, office, later]) await p.context().close();
});

test('an access request filed at the counter, refused on a ground, is in the public register', async () => {
  const counter = await openUrp('info.rossi');
  // Bootstrap Italia draws the radio under its label: the label is what a person clicks.
  await counter.click('label[for="acc-kind-civic-generalised"]');
  assert.ok(await counter.isChecked('[data-testid="access-kind-civic_generalised"]'));
  const subject = `Verbali della commissione mensa scolastica del 2025 (${stamp})`;
  await counter.fill('[data-testid="access-subject"]', subject);
  await counter.fill('[data-testid="access-fiscal-code"]', FISCAL_CODE || 'RSSMRA85T10A562S');
  await counter.fill('[data-testid="access-first-name"]', 'Giulia');
  await counter.fill('[data-testid="access-last-name"]', 'Bianchi');
  await counter.click('[data-testid="access-submit"]');
  const filed = counter.locator('[data-testid="access-filed"]');
  await filed.waitFor();
  const id = await filed.getAttribute('data-access-id');
  assert.match(id, /^[0-9a-f-]{36}$/);
  await screenshot(counter, 'urp-access-filed');
  await axe(counter, 'URP counter, access request filed');

  const office = await openUrp('bo.azzurri', `?accesso=${id}`);
  const panel = office.locator('[data-testid="access-panel"]');
  await panel.waitFor();
  assert.notEqual((await office.textContent('[data-testid="access-due"]')).trim(), '—', 'the decision\'s due date is shown');
  const protocol = (await office.textContent('#access-panel-heading')).split(' — ')[0].trim();
  await office.selectOption('[data-testid="access-decision-select"]', 'refused');
  await office.click('label[for="ground-5bis.2.a"]');
  assert.ok(await office.isChecked('[data-testid="ground-5bis.2.a"]'));
  await office.fill('[data-testid="access-reasons"]', 'I verbali contengono dati personali degli alunni e delle famiglie.');
  await office.click('[data-testid="access-decide"]');
  await office.locator('[data-testid="access-decision"]', { hasText: 'respinta' }).waitFor();
  assert.notEqual((await office.textContent('[data-testid="access-review-deadline"]')).trim(), '—', 'the review deadline is shown');
  await screenshot(office, 'urp-access-decided');
  await axe(office, 'URP office, access request decided');

  const csv = await office.request.get('/api/v1/open-data/registro-accessi.csv');
  assert.equal(csv.status(), 200);
  assert.match(csv.headers()['content-type'], /^text\/csv; charset=utf-8/);
  const text = await csv.text();
  assert.match(text.split('\r\n')[0], /^Numero di protocollo,Tipo di accesso,Data di presentazione,Oggetto della richiesta,/);
  const line = text.split('\r\n').find((l) => l.startsWith(`${protocol},`));
  assert.ok(line, `register line of ${protocol}`);
  assert.match(line, /Accesso civico generalizzato/);
  assert.match(line, /Respinta/);
  assert.match(line, /5bis\.2\.a/);
  assert.doesNotMatch(text, /Giulia|Bianchi/);
  for (const p of [counter, office]) await p.context().close();
});
