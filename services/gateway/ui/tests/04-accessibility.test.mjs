// axe (WCAG 2.1 A/AA: no serious or critical violation) and screenshots of every page
// at desktop (1366x768) and kiosk (1080x1920) sizes.
import { after, before, test } from 'node:test';
import { DESKTOP, KIOSK, SITE, axe, launch, login, newPage, screenshot } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const PAGES = [
  { name: 'home', path: '/', ready: '#board-links li' },
  { name: 'login', path: '/accesso', ready: '#login-form' },
  { name: 'verify', path: '/verifica', ready: '#verify-form' },
  { name: 'verify-result', path: '/verifica/AAAA-BBBB-CCCC-DDDD', ready: '[data-testid="verify-verdict"]' },
  { name: 'rate', path: '/valuta', ready: '#code-form' },
  { name: 'reports', path: '/segnalazioni', ready: '#rep-category option[value="strade.buca"]' },
  { name: 'board', path: `/tabellone/${SITE}`, ready: '#queue-list li' },
  { name: 'kiosk', path: `/totem/${SITE}`, user: 'totem.civico', ready: 'input[name="service_codes"]' },
  { name: 'console', path: '/console', user: 'poli.bianchi', ready: '#seat-site option' },
  { name: 'urp', path: '/urp', user: 'bo.azzurri', ready: '#open-access li, #open-access-empty:not([hidden])' },
  { name: 'admin', path: '/admin', user: 'admin', ready: '#accounts-table tbody tr' },
  { name: 'status', path: '/stato', ready: '#summary' },
  { name: 'status-details', path: '/stato', user: 'admin', ready: '#services tbody tr' },
];

for (const [size, viewport] of [['desktop', DESKTOP], ['kiosk', KIOSK]]) {
  for (const p of PAGES) {
    test(`${p.name} at ${size} size is accessible`, async () => {
      const page = await newPage(browser, viewport);
      if (p.user) await login(page, p.user, p.path);
      else await page.goto(p.path);
      await page.waitForSelector(p.ready, { state: 'attached' });
      await page.evaluate(() => document.fonts.ready);
      await screenshot(page, `${p.name}-${size}`);
      await axe(page, `${p.name} (${size})`);
      if (p.name === 'home') {
        // The English version too.
        await page.click('[data-lang-toggle]');
        await page.waitForFunction(() => document.documentElement.lang === 'en');
        await screenshot(page, `${p.name}-${size}-en`);
        await axe(page, `${p.name} (${size}, en)`);
        await page.click('[data-lang-toggle]');
      }
      await page.context().close();
    });
  }
}
