// info.rossi serves a family-status certificate ticket, issues it, and it verifies.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FISCAL_CODE, callUntil, complete, launch, newPage, openConsole, openKiosk, screenshot, setOffline, takeTicket } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a registry certificate is issued at the counter and verifies as authentic', async (t) => {
  if (!FISCAL_CODE) t.diagnostic('SPORTELLO_DEMO_FISCAL_CODE is not set: the certificate request will likely fail');
  const kiosk = await openKiosk(browser);
  const label = await takeTicket(kiosk, 'registry.family_status_certificate');

  const op = await openConsole(browser, 'info.rossi', 1);
  await callUntil(op, label);
  await op.waitForSelector('#certificate-block', { state: 'visible' });
  assert.equal(await op.inputValue('#cert-type'), 'family_status', 'type preselected from the service');
  await op.fill('#cert-fiscal-code', FISCAL_CODE);
  await op.fill('#cert-use', 'Uso amministrativo');
  await op.click('[data-testid="issue-certificate"]');
  const codeEl = op.locator('[data-testid="verification-code"]');
  await codeEl.filter({ hasText: /\S/ }).waitFor();
  const code = (await codeEl.textContent()).trim();
  assert.match(code.replace(/-/g, ''), /^[A-Z0-9]{16}$/, `verification code ${code}`);
  assert.ok(await op.getAttribute('#certificate-pdf', 'href'), 'a PDF link is offered');
  await screenshot(op, 'flow-console-certificate');
  await complete(op, 'issued');
  await setOffline(op);

  const citizen = await newPage(browser);
  await citizen.goto(`/verifica/${encodeURIComponent(code)}`);
  const verdict = citizen.locator('[data-testid="verify-verdict"]');
  await verdict.waitFor();
  assert.equal(await verdict.getAttribute('data-authentic'), 'true');
  assert.equal((await verdict.textContent()).trim(), 'Autentico');
  await screenshot(citizen, 'flow-verify-authentic');
});
