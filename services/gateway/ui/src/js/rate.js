// The public rating page (/valuta, /valuta/{code}): the citizen rates a case served in
// person by the code printed at the counter — from the QR (?da=qr), on the kiosk
// (?da=totem&sede=…) or typing it on the web. Once per case, within 30 days; the rating
// names the service, the site and the tier, never the operator.
import { api, clearErrors, showError, withBusy } from './api.js';
import { fmtDate, fmtDateTime, h, initPage } from './common.js';
import { onLangChange, t } from './i18n.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const via = { qr: 'qr', totem: 'kiosk' }[params.get('da')] ?? 'web';
let current = null;

initPage();
renderScale();
onLangChange(() => {
  renderScale();
  if (current) render(current);
});
if (via === 'kiosk' && /^[a-z0-9-]{1,32}$/.test(params.get('sede') ?? '')) {
  $('rate-back-link').href = `/totem/${params.get('sede')}`;
  $('rate-back').hidden = false;
}
$('code-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  find();
});
$('rate-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  rate();
});
const fromPath = location.pathname.split('/').filter(Boolean)[1];
if (fromPath) {
  $('rate-code').value = decodeURIComponent(fromPath);
  find();
}

/** " k7qp3 mzxr2 " -> "K7QP3-MZXR2" (null when not 10 characters of the code's alphabet). */
export function normalizeCode(raw) {
  const s = String(raw).toUpperCase().replace(/[\s-]/g, '');
  if (!/^[0-9A-TV-Z]{10}$/.test(s)) return null;
  return `${s.slice(0, 5)}-${s.slice(5)}`;
}

function renderScale() {
  const checked = document.querySelector('input[name="rating"]:checked')?.value;
  $('rate-scale').replaceChildren(...[1, 2, 3, 4, 5].flatMap((n) => [
    h('input', { type: 'radio', class: 'btn-check', name: 'rating', id: `rating-${n}`, value: String(n), checked: String(n) === checked, 'data-testid': `rating-${n}` }),
    h('label', { class: 'btn btn-outline-primary', for: `rating-${n}` }, `${n} — ${t(`rate.score_${n}`)}`),
  ]));
}

async function find() {
  const form = $('code-form');
  clearErrors(form);
  const code = normalizeCode($('rate-code').value);
  if (!code) {
    showError(form, { message: t('rate.bad_code'), fields: [{ field: 'code', description: t('rate.bad_code') }] });
    return;
  }
  $('rate-code').value = code;
  await withBusy(form.querySelector('button[type=submit]'), async () => {
    try {
      current = (await api('GET', `/ratings/${encodeURIComponent(code)}`)).rating;
    } catch (err) {
      $('rate-case').hidden = true;
      if (err.status === 404) throw { message: t('rate.unknown_code'), fields: [{ field: 'code', description: t('rate.unknown_code') }] };
      throw err;
    }
    render(current);
  }, { form });
}

function render(r) {
  $('rate-service').textContent = r.service_name;
  $('rate-site').textContent = r.site_name ?? '—';
  $('rate-when').textContent = fmtDateTime(r.complete_time);
  $('rate-by').textContent = fmtDate(r.rate_by);
  const done = r.rated || (r.rate_by && new Date(r.rate_by) < new Date());
  $('rate-case').hidden = false;
  $('rate-form').hidden = done;
  if (done) {
    $('rate-thanks').textContent = r.rated ? t('rate.already') : t('rate.expired');
    $('rate-thanks').hidden = false;
  }
}

async function rate() {
  const form = $('rate-form');
  clearErrors(form);
  const rating = Number(document.querySelector('input[name="rating"]:checked')?.value);
  if (!rating) {
    showError(form, { message: t('rate.score_required'), fields: [{ field: 'rating', description: t('rate.score_required') }] });
    return;
  }
  await withBusy($('rate-submit'), async () => {
    await api('POST', `/ratings/${encodeURIComponent(current.code)}`, {
      rating,
      comment: $('rate-comment').value,
      rated_via: via,
    });
    form.hidden = true;
    $('rate-thanks').textContent = t('rate.thanks');
    $('rate-thanks').hidden = false;
    $('rate-thanks').focus?.();
  }, { form });
}
