// Call-to-board latency: with a console and a board open, N times: issue a ticket through
// the API with the kiosk's session, click "Chiama il prossimo", time until the board's
// current-call shows that label, then complete the case. Prints p50/p95/p99/max in ms;
// exits non-zero on any failure.
//   SPORTELLO_URL=http://127.0.0.1:18080 node bench/board-latency.mjs [runs]
import { BASE, PASSWORD, SITE, callUntil, complete, launch, newPage, openConsole, setOffline } from '../tests/helpers.mjs';

const RUNS = Number(process.argv[2] || process.env.BENCH_RUNS || 50);
const OPERATOR = process.env.BENCH_OPERATOR || 'poli.bianchi';
const COUNTER = Number(process.env.BENCH_COUNTER || 5);
const GROUP = process.env.BENCH_GROUP || 'servizi_educativi';

async function kioskSession() {
  const res = await fetch(`${BASE}/api/v1/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'totem.civico', password: PASSWORD }),
  });
  if (!res.ok) throw new Error(`kiosk login: HTTP ${res.status}`);
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const { csrf_token: csrf } = await res.json();
  return { cookie, csrf };
}

async function issue(session, serviceCode) {
  const res = await fetch(`${BASE}/api/v1/sites/${SITE}/tickets`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Cookie: session.cookie, 'X-CSRF-Token': session.csrf },
    body: JSON.stringify({ service_codes: [serviceCode], priority_category: 'none', idempotency_key: crypto.randomUUID() }),
  });
  if (res.status !== 201) throw new Error(`ticket: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()).ticket.label;
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const browser = await launch();
let failed = false;
try {
  const session = await kioskSession();
  const svc = await (await fetch(`${BASE}/api/v1/sites/${SITE}/services`)).json();
  const service = svc.services.find((s) => s.service_group === GROUP)?.code;
  if (!service) throw new Error(`no service in group ${GROUP}`);

  const board = await newPage(browser);
  await board.goto(`/tabellone/${SITE}`);
  await board.waitForSelector('#queue-list li', { state: 'attached' });
  // Record when the board first shows each label (wall clock, same machine as this script).
  await board.evaluate(() => {
    window.__seen = {};
    const slot = document.getElementById('current-call-slot');
    new MutationObserver(() => {
      const el = slot.querySelector('[data-testid="current-call"]');
      if (el && !(el.dataset.label in window.__seen)) window.__seen[el.dataset.label] = Date.now();
    }).observe(slot, { childList: true, subtree: true });
  });
  const op = await openConsole(browser, OPERATOR, COUNTER);

  const samples = [];
  for (let i = 0; i < RUNS; i++) {
    const label = await issue(session, service);
    const t0 = Date.now();
    await callUntil(op, label, 5);
    const seen = await board.waitForFunction((l) => window.__seen[l], label, { timeout: 10_000 });
    samples.push((await seen.jsonValue()) - t0);
    await complete(op, 'informed');
  }
  await setOffline(op);
  samples.sort((a, b) => a - b);
  console.log(`board latency over ${samples.length} calls (click -> board shows label):`);
  console.log(`p50 ${pct(samples, 50)} ms  p95 ${pct(samples, 95)} ms  p99 ${pct(samples, 99)} ms  max ${samples.at(-1)} ms`);
} catch (err) {
  failed = true;
  console.error(`bench failed: ${err.stack || err}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
