// REST/JSON client for /api/v1 and the error display shared by every form.
//
// - JSON in, JSON out; the session cookie rides along (same origin).
// - Non-GET requests carry X-CSRF-Token, taken from GET /api/v1/session (cached).
// - Error bodies {"error":{"code","message","fields":[{"field","description"}]}} become an
//   ApiError; showError() puts each field error next to the input whose name equals
//   `field` and everything else in the form's role="alert" region.
import { t } from './i18n.js';

export const API = '/api/v1';

export class ApiError extends Error {
  constructor(status, code, message, fields = [], retryAfter = null) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    this.fields = Array.isArray(fields) ? fields : [];
    this.retryAfter = retryAfter;
  }
}

let session = null; // {account, csrf_token} once loaded

export function currentSession() {
  return session;
}

/** GET /api/v1/session; resolves to the session or null when not logged in (401). */
export async function loadSession() {
  try {
    session = await api('GET', '/session');
  } catch (err) {
    if (err.status === 401) {
      session = null;
      return null;
    }
    throw err;
  }
  return session;
}

/** Signs in; `next` (optional) comes back as `session.next` only if it is a path of this site. */
export async function login(username, password, next) {
  session = await api('POST', '/session', next ? { username, password, next } : { username, password });
  return session;
}

/**
 * POST /auth/logout: ends the session; resolves to where the browser goes next (the
 * identity provider's logout for a session it opened, else /accesso).
 */
export async function logout() {
  try {
    const res = await fetch('/auth/logout', {
      method: 'POST',
      headers: { Accept: 'application/json', 'X-CSRF-Token': session?.csrf_token ?? '' },
      credentials: 'same-origin',
      cache: 'no-store',
    });
    const body = res.ok ? await res.json() : null;
    return typeof body?.redirect === 'string' ? body.redirect : '/accesso';
  } finally {
    session = null;
  }
}

/** Redirects to /accesso?next=<this page> unless logged in with one of `roles`. */
export async function requireSession(roles) {
  const s = await loadSession();
  if (!s) {
    const next = location.pathname + location.search;
    location.assign(`/accesso?next=${encodeURIComponent(next)}`);
    return new Promise(() => {}); // never resolves: the page is going away
  }
  if (roles && !s.account.roles.some((r) => roles.includes(r))) {
    throw new ApiError(403, 'forbidden', t('error.role'));
  }
  return s;
}

export function hasRole(s, ...roles) {
  return !!s && s.account.roles.some((r) => roles.includes(r));
}

/**
 * One API call. `path` is relative to /api/v1. Resolves to the parsed body (null on 204),
 * rejects with ApiError (status 0 for network failures).
 */
export async function api(method, path, body, { signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && session?.csrf_token) {
    headers['X-CSRF-Token'] = session.csrf_token;
  }
  let res;
  try {
    res = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal,
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', t('error.network'));
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const e = data?.error ?? {};
    const retry = res.headers.get('Retry-After');
    throw new ApiError(res.status, e.code, e.message || defaultMessage(res.status), e.fields, retry);
  }
  return data;
}

function defaultMessage(status) {
  if (status === 401) return t('error.unauthenticated');
  if (status === 403) return t('error.forbidden');
  if (status === 404) return t('error.not_found');
  if (status === 429) return t('error.too_many');
  if (status >= 500) return t('error.server');
  return t('error.generic', { status });
}

// ---------------------------------------------------------------------------------------
// Error display

/** Removes field errors and the alert text inside `form` (and `alertEl` if given). */
export function clearErrors(form, alertEl) {
  if (form) {
    for (const el of form.querySelectorAll('.sp-field-error')) el.remove();
    for (const el of form.querySelectorAll('[aria-invalid="true"]')) {
      el.removeAttribute('aria-invalid');
      el.classList.remove('is-invalid');
      const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter((id) => !id.endsWith('-error'));
      if (ids.length) el.setAttribute('aria-describedby', ids.join(' '));
      else el.removeAttribute('aria-describedby');
    }
  }
  const alert = alertEl || form?.querySelector('[data-form-alert]');
  if (alert) {
    alert.textContent = '';
    alert.hidden = true;
  }
}

/**
 * Shows `err` on `form`: each {field, description} next to the control named `field`,
 * everything that has no control (and the message) in the alert region, which is the
 * form's [data-form-alert] element unless `alertEl` is given.
 */
export function showError(form, err, alertEl) {
  clearErrors(form, alertEl);
  const alert = alertEl || form?.querySelector('[data-form-alert]') || document.querySelector('[data-page-alert]');
  const leftovers = [];
  let first = null;
  for (const f of err?.fields ?? []) {
    const control = form?.querySelector(`[name="${cssEscape(f.field)}"]`);
    if (!control) {
      leftovers.push(`${f.field}: ${f.description}`);
      continue;
    }
    const id = `${control.id || control.name}-error`;
    const msg = document.createElement('div');
    msg.className = 'sp-field-error invalid-feedback d-block';
    msg.id = id;
    msg.textContent = f.description;
    const anchor = control.closest('.form-group, .select-wrapper, .form-check') || control;
    anchor.after(msg);
    control.setAttribute('aria-invalid', 'true');
    control.classList.add('is-invalid');
    control.setAttribute('aria-describedby', `${control.getAttribute('aria-describedby') || ''} ${id}`.trim());
    first ??= control;
  }
  const text = [err?.message || String(err), ...leftovers].filter(Boolean).join(' — ');
  if (alert) {
    alert.hidden = false;
    alert.textContent = text;
  }
  first?.focus();
}

function cssEscape(s) {
  return window.CSS?.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, '\\$&');
}

/** Runs `fn` with `button` disabled (aria-busy) and reports a failure on `form`. */
export async function withBusy(button, fn, { form, alertEl } = {}) {
  if (button) {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
  }
  try {
    if (form || alertEl) clearErrors(form, alertEl);
    return await fn();
  } catch (err) {
    if (err.status === 401) {
      location.assign(`/accesso?next=${encodeURIComponent(location.pathname + location.search)}`);
      return undefined;
    }
    showError(form, err, alertEl);
    return undefined;
  } finally {
    if (button) {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }
}
