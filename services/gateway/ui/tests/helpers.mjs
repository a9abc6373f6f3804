// Shared helpers for the browser tests (node:test + playwright-core + Debian chromium).
// They run against a live stack: SPORTELLO_URL (default http://127.0.0.1:18080).
import { mkdir } from 'node:fs/promises';
import { afterEach } from 'node:test';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

const here = dirname(fileURLToPath(import.meta.url));
export const BASE = (process.env.SPORTELLO_URL || 'http://127.0.0.1:18080').replace(/\/$/, '');
export const PASSWORD = process.env.SPORTELLO_DEMO_PASSWORD || 'demo-sportello';
export const FISCAL_CODE = process.env.SPORTELLO_DEMO_FISCAL_CODE || '';
export const SITE = process.env.SPORTELLO_DEMO_SITE || 'palazzo-civico';
export const SCREENSHOTS = process.env.SPORTELLO_SCREENSHOTS ? resolve(process.env.SPORTELLO_SCREENSHOTS) : resolve(here, '../../../../target/ui-screenshots');
export const DESKTOP = { width: 1366, height: 768 };
export const KIOSK = { width: 1080, height: 1920 };

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
  });
}

// Every console error and uncaught exception of every page a test opens fails that test
// (checked after each test): a refused font, a missing file or a script error is a
// defect even when the page still looks right. A test that provokes an error answer on
// purpose (a refused action answers 409, which Chromium logs as a failed resource)
// declares it first with expectConsoleError.
const consoleErrors = [];
const expected = new WeakMap();

function watchConsole(page) {
  const record = (text) => {
    const allowed = expected.get(page) || [];
    if (!allowed.some((pattern) => pattern.test(text))) consoleErrors.push(`${page.url()}: ${text}`);
  };
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const where = message.location()?.url;
    record(where ? `${message.text()} (${where})` : message.text());
  });
  page.on('pageerror', (error) => record(`uncaught ${error.name}: ${error.message}`));
}

/** Lets `page` log console errors matching `pattern` (the test provokes them on purpose). */
export function expectConsoleError(page, pattern) {
  expected.set(page, [...(expected.get(page) || []), pattern]);
}

afterEach(() => {
  const errors = consoleErrors.splice(0);
  if (errors.length) throw new Error(`console errors in the browser:\n  ${errors.join('\n  ')}`);
});

/** A fresh context (own cookies) and page, at `viewport`; its console errors fail the test. */
export async function newPage(browser, viewport = DESKTOP) {
  const context = await browser.newContext({ baseURL: BASE, viewport, locale: 'it-IT' });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  watchConsole(page);
  return page;
}

/** Logs in through the form at /accesso and waits until the app has left it. */
export async function login(page, user, next) {
  await page.goto(next ? `/accesso?next=${encodeURIComponent(next)}` : '/accesso');
  await page.fill('#login-username', user);
  await page.fill('#login-password', PASSWORD);
  await Promise.all([
    page.waitForURL((u) => !u.pathname.startsWith('/accesso')),
    page.click('#login-submit'),
  ]);
}

export async function screenshot(page, name) {
  await mkdir(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Runs axe (WCAG 2.0/2.1 A and AA); throws on serious or critical violations. */
export async function axe(page, name = page.url()) {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) {
    const text = bad.map((v) => `${v.impact} ${v.id}: ${v.help}\n  ${v.nodes.slice(0, 5).map((n) => n.target.join(' ')).join('\n  ')}`).join('\n');
    throw new Error(`axe on ${name}: ${bad.length} serious/critical violation(s)\n${text}`);
  }
  return result;
}

/** Logged-in operator console, seated at `counter` and available. */
export async function openConsole(browser, user, counter) {
  const page = await newPage(browser);
  await login(page, user, '/console');
  await page.waitForSelector('#seat-site option', { state: 'attached' });
  await page.selectOption('#seat-site', SITE);
  await page.selectOption('#seat-counter', String(counter));
  await page.click('#seat-submit');
  await page.waitForFunction(() => document.getElementById('operator-name').textContent.trim() !== '—');
  await page.click('button[data-presence="available"]');
  await page.waitForSelector('button[data-presence="available"][aria-pressed="true"]');
  return page;
}

/** Kiosk page logged in as the kiosk device. */
export async function openKiosk(browser, viewport = KIOSK) {
  const page = await newPage(browser, viewport);
  await login(page, 'totem.civico', `/totem/${SITE}`);
  await page.waitForSelector('input[name="service_codes"]');
  return page;
}

/** Takes a ticket for `serviceCode` on the kiosk page; returns its label. */
export async function takeTicket(kiosk, serviceCode) {
  await kiosk.check(`input[name="service_codes"][value="${serviceCode}"]`);
  await kiosk.click('[data-testid="take-ticket"]');
  const el = await kiosk.waitForSelector('[data-testid="ticket-label"]:not(:empty)', { state: 'visible' });
  const label = (await el.textContent()).trim();
  await kiosk.click('#new-ticket');
  await kiosk.waitForSelector('#kiosk-form', { state: 'visible' });
  return label;
}

/** First service code of `group` as the kiosk lists it. */
export async function serviceOf(kiosk, group) {
  const code = await kiosk.getAttribute(`fieldset[data-group="${group}"] input[name="service_codes"]`, 'value');
  if (!code) throw new Error(`no service in group ${group}`);
  return code;
}

export async function calledLabel(consolePage) {
  return (await consolePage.textContent('[data-testid="called-label"]')).trim();
}

/** Clicks "Chiama il prossimo" and waits for a new call; returns its label (or null when nobody waits). */
export async function callNext(consolePage) {
  await consolePage.evaluate(() => {
    document.getElementById('called-label').textContent = '';
  });
  await consolePage.click('[data-testid="call-next"]');
  // The button is disabled while the request runs (set synchronously on click).
  await consolePage.waitForFunction(() => !document.getElementById('call-next').disabled);
  const alert = await consolePage.$('#call-alert:not([hidden])');
  if (alert) throw new Error(`call next failed: ${await alert.textContent()}`);
  const label = (await consolePage.textContent('[data-testid="called-label"]')).trim();
  return label || null;
}

/** Completes the case on screen with `outcome` and waits for the completed status. */
export async function complete(consolePage, outcome = 'informed') {
  await consolePage.selectOption('#complete-outcome', outcome);
  await consolePage.click('[data-testid="complete"]');
  await consolePage.waitForSelector('[data-testid="case-status"][data-status="completed"]');
}

/**
 * Calls next until `label` comes up, completing whatever else is called first (left-overs
 * of earlier runs); returns the labels completed on the way.
 */
export async function callUntil(consolePage, label, max = 30) {
  const others = [];
  for (let i = 0; i < max; i++) {
    const got = await callNext(consolePage);
    if (got === label) return others;
    if (!got) throw new Error(`nobody waiting before ${label} was called (completed on the way: ${others.join(', ')})`);
    others.push(got);
    await complete(consolePage, 'informed');
  }
  throw new Error(`${label} not called after ${max} calls`);
}

export async function setOffline(consolePage) {
  await consolePage.click('button[data-presence="offline"]').catch(() => {});
}

/** The console calls ticket `label` by its number and waits for its case card. */
export async function callByNumber(page, label) {
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
