// The console's URP helpers beside the ticket being served: quick answers from the
// info-desk's knowledge base (type a question, read what to bring, where, how much, how
// long, print one for the citizen) and, once a case served in person is completed, its
// rating code with a QR to print. URP learns of the completion from routing's events a
// moment after the click, so the slip asks a few times before giving up.
import { api, clearErrors, showError, withBusy } from './api.js';
import { fmtDate, h, label, mmss } from './common.js';
import { onLangChange, t } from './i18n.js';

const $ = (id) => document.getElementById(id);
const RATING_TRIES = 20;
const RATING_EVERY_MS = 500;
let answers = [];
let slip = null;
let slipAttempt = 0;

export function initQuickAnswers() {
  $('kb-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    clearErrors(form);
    const q = $('kb-q').value.trim();
    if (q.length < 2) {
      showError(form, { message: t('kb.too_short'), fields: [{ field: 'q', description: t('kb.too_short') }] });
      return;
    }
    await withBusy($('kb-search'), async () => {
      const res = await api('GET', `/urp/answers?${new URLSearchParams({ q, limit: '5' })}`);
      answers = res.answers ?? [];
      renderAnswers();
    }, { form });
  });
  $('rating-print').addEventListener('click', printSlip);
  onLangChange(() => {
    renderAnswers();
    renderSlip();
  });
}

function facts(a) {
  return [
    ['kb.what_to_bring', a.what_to_bring],
    ['kb.where_to_go', a.where_to_go],
    ['kb.cost', a.cost],
    ['kb.duration', a.duration],
  ].filter(([, v]) => v);
}

function answerBlock(a, { print = false } = {}) {
  return h('article', { class: print ? '' : 'sp-kb-answer', 'data-testid': print ? undefined : 'kb-answer' },
    h(print ? 'h1' : 'h3', { class: print ? 'h3' : 'h6 mb-1' }, a.title),
    h('p', { class: 'sp-kb-body mb-2' }, a.body),
    h('dl', { class: 'mb-2' }, ...facts(a).flatMap(([k, v]) => [h('dt', {}, t(k)), h('dd', {}, v)])),
  );
}

function renderAnswers() {
  const q = $('kb-q').value.trim();
  $('kb-status').textContent = q && answers.length === 0 ? t('kb.none') : (answers.length ? t('kb.found', { n: answers.length }) : '');
  $('kb-results').replaceChildren(...answers.map((a) => {
    const block = answerBlock(a);
    block.append(h('button', {
      type: 'button',
      class: 'btn btn-outline-primary btn-sm',
      'data-testid': 'kb-print',
      onclick: () => printAnswer(a),
    }, t('kb.print')));
    return block;
  }));
}

/** Prints the console's print area alone, filled with `content`. */
function printOnly(...content) {
  $('print-area').replaceChildren(
    h('p', { class: 'small' }, t('common.municipality')),
    ...content,
  );
  document.body.dataset.print = 'console';
  window.addEventListener('afterprint', () => { delete document.body.dataset.print; }, { once: true });
  window.print();
}

function printAnswer(a) {
  printOnly(answerBlock(a, { print: true }), h('p', { class: 'small' }, t('kb.printed_on', { day: fmtDate(new Date().toISOString()) })));
}

// ---------------------------------------------------------------------------------------
// The rating slip

/** After `kase` was completed: shows what was recorded, then its rating code. */
export function showRatingSlip(kase) {
  slip = { kase, rating: null };
  slipAttempt += 1;
  const attempt = slipAttempt;
  $('rating-slip').hidden = false;
  $('rating-ready').hidden = true;
  $('rating-waiting').hidden = false;
  $('rating-waiting').textContent = t('rate.slip_waiting');
  renderSlip();
  (async () => {
    for (let i = 0; i < RATING_TRIES && attempt === slipAttempt; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, RATING_EVERY_MS));
      if (attempt !== slipAttempt) return;
      let res;
      try {
        res = await api('GET', `/cases/${encodeURIComponent(kase.id)}/rating`);
      } catch {
        break;
      }
      if (attempt !== slipAttempt) return;
      if (res.rating) {
        slip.rating = res.rating;
        renderSlip();
        return;
      }
    }
    if (attempt === slipAttempt) $('rating-waiting').textContent = t('rate.slip_unavailable');
  })();
}

/** A new case in front of the operator: the last one's slip goes. */
export function hideRatingSlip() {
  slipAttempt += 1;
  slip = null;
  $('rating-slip').hidden = true;
}

function renderSlip() {
  if (!slip) return;
  const r = slip.rating;
  const outcome = label('outcome', r?.outcome_code ?? slip.kase.outcome_code);
  $('rating-recorded').textContent = r
    ? t('rate.recorded', { outcome, handling: mmss(r.handling_seconds) })
    : t('rate.recorded_outcome', { outcome });
  if (!r) return;
  $('rating-waiting').hidden = true;
  $('rating-ready').hidden = false;
  $('rating-code').textContent = r.code;
  $('rating-link').href = `${r.path}?da=qr`;
}

function printSlip() {
  const r = slip?.rating;
  if (!r) return;
  printOnly(
    h('h1', { class: 'h3' }, t('rate.print_heading')),
    h('p', {}, t('rate.print_intro', { day: fmtDate(r.rate_by) })),
    h('div', { class: 'sp-print-qr' }, h('img', {
      src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(r.qr_svg)}`,
      alt: t('rate.qr_alt', { code: r.code }),
    })),
    h('p', {}, `${t('rate.code')}: `, h('strong', { class: 'sp-mono' }, r.code)),
    h('p', { class: 'small' }, t('rate.print_where', { url: `${location.origin}${r.path}` })),
    h('p', { class: 'small' }, t('rate.print_privacy')),
  );
}
