// Helpers shared by the pages: header (language, user, logout), formatting, DOM building.
import { currentSession, logout } from './api.js';
import { getLang, initI18n, t } from './i18n.js';

/** Sets up the language toggle and the header's user area; call once per page. */
export function initPage() {
  initI18n();
  for (const btn of document.querySelectorAll('[data-logout]')) {
    btn.addEventListener('click', async () => {
      let next = '/accesso';
      try {
        next = await logout();
      } finally {
        location.assign(next);
      }
    });
  }
}

/** Shows the logged-in user's name and the logout button in the header. */
export function showUser() {
  const s = currentSession();
  if (!s) return;
  for (const el of document.querySelectorAll('[data-user-name]')) {
    el.textContent = s.account.display_name;
    el.hidden = false;
  }
  for (const el of document.querySelectorAll('[data-logout]')) el.hidden = false;
}

/** Announces `msg` to screen readers through the page's polite live region. */
export function announce(msg) {
  const live = document.getElementById('sp-live');
  if (!live) return;
  live.textContent = '';
  // A fresh text node after a tick makes repeated identical messages audible.
  setTimeout(() => {
    live.textContent = msg;
  }, 30);
}

/** 75 -> "01:15"; minutes are not wrapped at 60 (3725 -> "62:05"). */
export function mmss(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

export function fmtDateTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(getLang() === 'en' ? 'en-GB' : 'it-IT', { dateStyle: 'short', timeStyle: 'short' }).format(d);
}

export function fmtTime(iso) {
  const d = iso ? new Date(iso) : new Date();
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(getLang() === 'en' ? 'en-GB' : 'it-IT', { hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(d);
}

export function fmtDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(getLang() === 'en' ? 'en-GB' : 'it-IT', { dateStyle: 'medium' }).format(d);
}

/** t(`${prefix}.${value}`) when translated, the raw value otherwise. */
export function label(prefix, value) {
  if (value === null || value === undefined || value === '') return '—';
  const key = `${prefix}.${value}`;
  const s = t(key);
  return s === key ? String(value) : s;
}

/**
 * Tiny element builder: h('td', {class: 'x', dataset: {id: 1}}, 'text', child).
 * Attributes starting with "on" are listeners; text is always set as text, never HTML.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** "/tabellone/palazzo-civico" -> "palazzo-civico"; falls back to ?site=. */
export function siteFromPath() {
  const parts = location.pathname.split('/').filter(Boolean);
  if (parts.length >= 2 && !parts[1].endsWith('.html')) return decodeURIComponent(parts[1]);
  return new URLSearchParams(location.search).get('site') || '';
}

/** RFC 4122 v4; crypto.randomUUID only exists in secure contexts (kiosks may be on http). */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((n) => n.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** Fills a <select> with [{value, text}] keeping the current value when still present. */
export function fillSelect(select, options, { keep = true } = {}) {
  const prev = select.value;
  select.replaceChildren(...options.map((o) => h('option', { value: o.value }, o.text)));
  if (keep && options.some((o) => String(o.value) === prev)) select.value = prev;
}
