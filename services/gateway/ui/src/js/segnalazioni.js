// The public page of reports and complaints (/segnalazioni, /segnalazioni/{code}): a
// citizen files one — a category, what happened, where, optionally who — and gets its
// code (and, for a complaint, the token it is followed by); anyone follows one by code
// or token: status, the reply's last day, the office's reply once closed.
import './urp-i18n.js';
import { api, clearErrors, showError, withBusy } from './api.js';
import { initPage } from './common.js';
import { onLangChange, t } from './i18n.js';
import { fileReport, filedMessage, loadCategories, reportDetails, reportRef, wirePosition } from './reports.js';

const $ = (id) => document.getElementById(id);
let shown = null;
let filed = null;

initPage();
const form = $('report-form');
wirePosition(form, $('rep-here'));
loadCategories($('rep-category')).catch((err) => showError(form, err));
onLangChange(() => {
  loadCategories($('rep-category')).catch(() => {});
  if (shown) show(shown);
  if (filed) $('report-filed').textContent = filedMessage(filed);
});

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const report = await fileReport(form, '/reports');
  if (!report) return;
  filed = report;
  form.reset();
  $('report-filed').textContent = filedMessage(report);
  $('report-filed').hidden = false;
  $('report-filed').focus();
  $('follow-ref').value = report.kind === 'complaint' ? report.id : report.code;
  show(report);
});

$('follow-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  follow();
});

const fromPath = location.pathname.split('/').filter(Boolean)[1];
const fromQuery = new URLSearchParams(location.search).get('codice');
if (fromPath || fromQuery) {
  $('follow-ref').value = decodeURIComponent(fromPath || fromQuery);
  follow();
}

async function follow() {
  const f = $('follow-form');
  clearErrors(f);
  const ref = reportRef($('follow-ref').value);
  if (!ref) {
    showError(f, { message: t('rep.bad_ref'), fields: [{ field: 'ref', description: t('rep.bad_ref') }] });
    return;
  }
  await withBusy(f.querySelector('button[type=submit]'), async () => {
    try {
      const { report } = await api('GET', `/reports/${encodeURIComponent(ref)}`);
      show(report);
    } catch (err) {
      $('follow-result').replaceChildren();
      shown = null;
      if (err.status === 404) throw { message: t('rep.unknown'), fields: [{ field: 'ref', description: t('rep.unknown') }] };
      throw err;
    }
  }, { form: f });
}

function show(report) {
  shown = report;
  $('follow-result').replaceChildren(reportDetails(report));
}
