// Waiting-room board (/tabellone/{site}): snapshot, then server-sent events `call` and
// `queues`. EventSource reconnects by itself; after a reconnect the snapshot is fetched
// again so calls made while disconnected are not lost.
import { api } from './api.js';
import { h, initPage, siteFromPath } from './common.js';
import { getLang, onLangChange, t } from './i18n.js';

const HISTORY = 8;
const $ = (id) => document.getElementById(id);
const site = siteFromPath();
const state = { calls: [], queues: [], name: '' };
let audio = null;
let chimeUnlocked = false;

initPage();
onLangChange(render);
setInterval(() => {
  $('board-clock').textContent = new Intl.DateTimeFormat(getLang() === 'en' ? 'en-GB' : 'it-IT', { hour: '2-digit', minute: '2-digit' }).format(new Date());
}, 1000);
main();

async function main() {
  if (!site) {
    $('current-call-slot').replaceChildren(h('p', { class: 'sp-board-idle', role: 'alert' }, t('board.no_site')));
    return;
  }
  await loadSnapshot();
  connect();
  prepareAudio();
}

async function loadSnapshot() {
  try {
    const res = await api('GET', `/sites/${encodeURIComponent(site)}/board`);
    state.name = res.site?.name ?? site;
    state.calls = (res.calls ?? []).slice(0, HISTORY);
    state.queues = res.queues ?? [];
    render();
  } catch (err) {
    $('current-call-slot').replaceChildren(h('p', { class: 'sp-board-idle', role: 'alert' }, err.message));
  }
}

function connect(hadError = false) {
  const es = new EventSource(`/api/v1/sites/${encodeURIComponent(site)}/board/events`);
  es.addEventListener('open', () => {
    $('board-conn').textContent = '';
    if (hadError) loadSnapshot();
    hadError = false;
  });
  es.addEventListener('error', () => {
    hadError = true;
    $('board-conn').textContent = t('board.reconnecting');
    // A refused stream (503: too many boards open, or the gateway restarting) is not
    // retried by EventSource itself: try again in 5-15 s, spread so screens do not
    // come back all at once.
    if (es.readyState === EventSource.CLOSED) {
      setTimeout(() => connect(true), 5000 + Math.random() * 10000);
    }
  });
  es.addEventListener('call', (ev) => {
    let call;
    try {
      call = JSON.parse(ev.data);
    } catch {
      return;
    }
    state.calls = [call, ...state.calls.filter((c) => !(c.ticket_label === call.ticket_label && c.counter_number === call.counter_number))].slice(0, HISTORY);
    render();
    chime();
    speak(call);
    const live = $('sp-live');
    live.textContent = t('board.announce', { label: call.ticket_label, counter: call.counter_number });
  });
  es.addEventListener('queues', (ev) => {
    try {
      state.queues = JSON.parse(ev.data).queues ?? [];
    } catch {
      return;
    }
    renderQueues();
  });
}

function render() {
  $('board-site').textContent = state.name || site;
  document.title = `${t('board.title_short')} — ${state.name || site}`;
  const [current, ...rest] = state.calls;
  if (current) {
    $('current-call-slot').replaceChildren(
      h('div', { class: 'sp-board-call', 'data-testid': 'current-call', dataset: { label: current.ticket_label, counter: current.counter_number } },
        h('span', { class: 'sp-board-call-label' }, current.ticket_label),
        h('span', { class: 'sp-board-call-arrow', 'aria-hidden': 'true' }, '→'),
        h('span', { class: 'sp-board-call-counter' },
          h('span', { class: 'sp-board-call-counter-word' }, t('board.counter')), ' ',
          h('span', { class: 'sp-board-call-counter-number' }, current.counter_number)),
      ),
    );
    const el = $('current-call-slot').firstElementChild;
    el.classList.add('sp-flash');
  } else {
    $('current-call-slot').replaceChildren(h('p', { class: 'sp-board-idle' }, t('board.idle')));
  }
  $('history-body').replaceChildren(
    ...rest.map((c) => h('tr', {}, h('td', { class: 'sp-board-hist-label' }, c.ticket_label), h('td', {}, c.counter_number))),
  );
  renderQueues();
}

function renderQueues() {
  $('queue-list').replaceChildren(
    ...state.queues.map((q) =>
      h('li', { class: 'sp-board-queue' },
        h('span', { class: 'sp-board-queue-letter', 'aria-hidden': 'true' }, q.letter),
        h('span', { class: 'sp-board-queue-name' }, q.name),
        h('span', { class: 'sp-board-queue-count' }, h('span', { class: 'visually-hidden' }, `${t('board.waiting')}: `), q.waiting ?? 0),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------
// Sound: a two-tone chime from an oscillator, then the label spelt out in Italian.

function prepareAudio() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  audio = new Ctx();
  if (audio.state === 'suspended') {
    // Browsers block sound until a gesture; a TV in kiosk mode usually allows it.
    const btn = $('board-audio');
    btn.hidden = false;
    btn.addEventListener('click', async () => {
      await audio.resume();
      chimeUnlocked = true;
      btn.hidden = true;
      chime();
    });
  } else {
    chimeUnlocked = true;
  }
}

function chime() {
  if (!audio || (!chimeUnlocked && audio.state !== 'running')) return;
  const now = audio.currentTime;
  for (const [i, freq] of [880, 660].entries()) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'sine';
    osc.frequency.value = freq;
    const start = now + i * 0.35;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.3, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.6);
    osc.connect(gain).connect(audio.destination);
    osc.start(start);
    osc.stop(start + 0.65);
  }
}

/** "B017", 3 -> "Numero B 0 1 7, sportello 3" (always Italian: the waiting room's language). */
export function spokenText(call) {
  const spelt = String(call.ticket_label).replace(/[^A-Za-z0-9]/g, '').split('').join(' ');
  return `Numero ${spelt}, sportello ${call.counter_number}`;
}

function speak(call) {
  if (!('speechSynthesis' in window)) return;
  try {
    const u = new SpeechSynthesisUtterance(spokenText(call));
    u.lang = 'it-IT';
    const voice = speechSynthesis.getVoices().find((v) => v.lang?.toLowerCase().startsWith('it'));
    if (voice) u.voice = voice;
    u.rate = 0.9;
    setTimeout(() => speechSynthesis.speak(u), 700); // after the chime
  } catch {
    /* no voice: the chime and the screen are enough */
  }
}
