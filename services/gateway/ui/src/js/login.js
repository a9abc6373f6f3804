// Login (/accesso): username + password, then `next` or a page by role.
import { api, login, showError, withBusy } from './api.js';
import { initPage } from './common.js';
import { t } from './i18n.js';

const form = document.getElementById('login-form');
initPage();
// The municipality's identity provider, when the gateway has one (GET /auth/oidc).
fetch('/auth/oidc', { credentials: 'same-origin', cache: 'no-store' })
  .then((res) => (res.ok ? res.json() : null))
  .then((oidc) => {
    if (oidc?.enabled) document.getElementById('login-oidc').hidden = false;
  })
  .catch(() => {});
form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const username = form.username.value.trim();
  const password = form.password.value;
  const missing = [];
  if (!username) missing.push({ field: 'username', description: t('form.required') });
  if (!password) missing.push({ field: 'password', description: t('form.required') });
  if (missing.length) return showError(form, { message: t('form.invalid'), fields: missing });
  await withBusy(document.getElementById('login-submit'), async () => {
    let s;
    try {
      s = await login(username, password, new URLSearchParams(location.search).get('next') || undefined);
    } catch (err) {
      if (err.status === 401) err.message = t('login.invalid');
      if (err.status === 429) err.message = err.retryAfter ? t('login.too_many_wait', { s: err.retryAfter }) : t('login.too_many');
      throw err;
    }
    location.assign(await destination(s));
  }, { form });
});

/** The ?next= the server accepted as a path of this site (login.rs), else a page chosen by role. */
async function destination(s) {
  if (s.next) return s.next;
  const roles = s.account.roles ?? [];
  if (roles.includes('kiosk')) {
    const sites = await api('GET', '/sites').catch(() => ({ sites: [] }));
    const code = sites.sites?.[0]?.code;
    return code ? `/totem/${encodeURIComponent(code)}` : '/';
  }
  if (roles.includes('admin')) return '/admin';
  return '/console';
}
