// Home (/): links to the pages, one board and one kiosk link per site.
import { api } from './api.js';
import { h, initPage } from './common.js';
import { onLangChange, t } from './i18n.js';

let sites = [];
initPage();
onLangChange(render);
api('GET', '/sites')
  .then((res) => {
    sites = res.sites ?? [];
  })
  .catch(() => {})
  .finally(render);

function render() {
  const links = (prefix, key) =>
    sites.length
      ? sites.map((s) => h('li', {}, h('a', { href: `/${prefix}/${encodeURIComponent(s.code)}` }, s.name)))
      : [h('li', { class: 'text-muted' }, t(key))];
  document.getElementById('board-links').replaceChildren(...links('tabellone', 'home.no_sites'));
  document.getElementById('kiosk-links').replaceChildren(...links('totem', 'home.no_sites'));
}
