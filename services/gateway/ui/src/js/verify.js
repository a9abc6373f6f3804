// Public certificate verification (/verifica, /verifica/{code}).
import { api, clearErrors, showError, withBusy } from './api.js';
import { fmtDateTime, h, initPage, label } from './common.js';
import { onLangChange, t } from './i18n.js';
import { sha256Hex } from './sha256.js';

const $ = (id) => document.getElementById(id);
let last = null;

initPage();
onLangChange(() => last && render(last));
$('verify-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  verify();
});
const fromPath = location.pathname.split('/').filter(Boolean)[1] || new URLSearchParams(location.search).get('code');
if (fromPath && !fromPath.endsWith('.html')) {
  $('verify-code').value = decodeURIComponent(fromPath);
  verify();
}

/** " abcd efgh-ijkl mnop " -> "ABCD-EFGH-IJKL-MNOP" (null when not 16 characters). */
export function normalizeCode(raw) {
  const s = String(raw).toUpperCase().replace(/[^A-Z0-9]/g, '');
  if (s.length !== 16) return null;
  return s.match(/.{4}/g).join('-');
}

async function verify() {
  const form = $('verify-form');
  clearErrors(form);
  const code = normalizeCode($('verify-code').value);
  if (!code) {
    showError(form, { message: t('verify.bad_code'), fields: [{ field: 'code', description: t('verify.bad_code') }] });
    return;
  }
  $('verify-code').value = code;
  await withBusy(form.querySelector('button[type=submit]'), async () => {
    let query = '';
    const file = $('verify-file').files?.[0];
    if (file) query = `?sha256=${await sha256Hex(await file.arrayBuffer())}`;
    last = await api('GET', `/verify/${encodeURIComponent(code)}${query}`);
    last.code = code;
    last.file = !!file;
    render(last);
  }, { form });
}

function render(r) {
  const ok = !!r.authentic;
  const rows = [
    ['verify.type', label('cert', r.type)],
    ['verify.issue_time', fmtDateTime(r.issue_time)],
    ['verify.valid_until', fmtDateTime(r.valid_until)],
    ['verify.expired', r.expired ? t('common.yes') : t('common.no')],
    ['verify.content_hash', r.content_sha256 ?? '—'],
  ];
  $('verify-result').replaceChildren(
    h('div', { class: `callout ${ok ? 'success' : 'danger'} sp-verify-callout` },
      h('div', { class: 'callout-title' }, h('h2', { class: 'h4 mb-0', 'data-testid': 'verify-verdict', dataset: { authentic: String(ok) } }, ok ? t('verify.authentic') : t('verify.not_authentic'))),
      r.reason ? h('p', {}, h('strong', {}, `${t('verify.reason')}: `), label('verify_reason', r.reason)) : null,
      h('p', { class: 'sp-mono' }, r.code),
      h('dl', { class: 'row mb-0' }, ...rows.flatMap(([k, v]) => [h('dt', { class: 'col-sm-4' }, t(k)), h('dd', { class: `col-sm-8 ${k === 'verify.content_hash' ? 'sp-mono sp-break' : ''}` }, v)])),
    ),
  );
}
