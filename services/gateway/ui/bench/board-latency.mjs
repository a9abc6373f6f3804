// Call-to-board latency: with an operator console and a calling board open in Chromium, N
// times: issue a ticket through the API with the kiosk's session, click "Chiama il
// prossimo" once (it must call that ticket), and time from the click (read in the console
// page when the click event fires) to the board's page putting that label in its
// current call (a MutationObserver in the board page); then complete the case. Both pages
// run in the same browser on this machine, so their clocks are one clock.
// Prints the conditions (binaries' profile, PostgreSQL's fsync, residents loaded) and
// p50, p95 and the maximum in ms — with 50 samples a p99 would be the maximum itself.
// Exits non-zero on any failure.
//   SPORTELLO_URL=http://127.0.0.1:18080 node bench/board-latency.mjs [runs]
// `make bench-gateway` runs it on release binaries, PostgreSQL with fsync on, and the
// synthetic La Spezia of `make run` (95,000 residents).
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { BASE, PASSWORD, SITE, callNext, complete, launch, newPage, openConsole, setOffline } from '../tests/helpers.mjs';

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

/** What the stack runs on, as far as this script can see it. */
function conditions() {
  const profile = process.env.PROFILE || 'debug';
  let database = 'PostgreSQL settings unknown (no psql or DATABASE_URL)';
  try {
    const bin = readdirSync('/usr/lib/postgresql').sort().map((v) => `/usr/lib/postgresql/${v}/bin/psql`).at(-1);
    const out = execFileSync(bin, [process.env.DATABASE_URL, '-Atc', `
      select current_setting('fsync') || ' ' || (
        select count(*) from registry.residents r join registry.resident_versions v on v.resident_id = r.id
        where v.valid_to is null and v.superseded_at is null and v.status = 'resident')`], { encoding: 'utf8' }).trim();
    const [fsync, residents] = out.split(' ');
    database = `PostgreSQL fsync=${fsync}, ${Number(residents).toLocaleString('en')} current residents in the register`;
  } catch { /* reported as unknown */ }
  return `${profile} binaries, ${database}, NATS sync_interval always`;
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
  // Record when the board first shows each label (wall clock, same machine as the console).
  await board.evaluate(() => {
    window.__seen = {};
    const slot = document.getElementById('current-call-slot');
    new MutationObserver(() => {
      const el = slot.querySelector('[data-testid="current-call"]');
      if (el && !(el.dataset.label in window.__seen)) window.__seen[el.dataset.label] = Date.now();
    }).observe(slot, { childList: true, subtree: true });
  });
  const op = await openConsole(browser, OPERATOR, COUNTER);
  // The instant of each click, read where it happens.
  await op.evaluate(() => {
    document.getElementById('call-next').addEventListener('click', () => { window.__clickedAt = Date.now(); }, { capture: true });
  });
  // Whatever waits already is served first, so each timed click calls the ticket just issued.
  for (let left = await callNext(op); left; left = await callNext(op)) await complete(op, 'informed');

  const samples = [];
  for (let i = 0; i < RUNS; i++) {
    const label = await issue(session, service);
    const got = await callNext(op);
    if (got !== label) throw new Error(`the click called ${got}, not the ticket just issued (${label})`);
    const clicked = await op.evaluate(() => window.__clickedAt);
    const seen = await board.waitForFunction((l) => window.__seen[l], label, { timeout: 10_000 });
    samples.push((await seen.jsonValue()) - clicked);
    await complete(op, 'informed');
  }
  await setOffline(op);
  samples.sort((a, b) => a - b);
  console.log(`board latency: ${conditions()}; this machine, shared with other work while measured`);
  console.log(`${samples.length} calls, from the click on "Chiama il prossimo" to the board's page showing the label:`);
  console.log(`p50 ${pct(samples, 50)} ms  p95 ${pct(samples, 95)} ms  max ${samples.at(-1)} ms`);
} catch (err) {
  failed = true;
  console.error(`bench failed: ${err.stack || err}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
