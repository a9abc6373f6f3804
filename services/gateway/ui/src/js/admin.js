// Administration (/admin): operators (tier, department, skills), sites, local accounts.
import { api, requireSession, showError, withBusy } from './api.js';
import { announce, h, initPage, showUser } from './common.js';
import { onLangChange, t } from './i18n.js';

const ROLES = ['info_desk', 'polivalente', 'tecnico', 'back_office', 'manager', 'admin', 'kiosk', 'protocollo', 'privacy'];
const $ = (id) => document.getElementById(id);
const state = { operators: [], sites: [], accounts: [], editingOperator: null, editingAccount: null };

initPage();
main().catch((err) => showError(null, err, $('page-alert')));

async function main() {
  await requireSession(['admin']);
  showUser();
  renderRoleChecks();
  bindOperatorForm();
  bindSiteForm();
  bindAccountForm();
  onLangChange(() => {
    renderRoleChecks();
    renderAll();
  });
  const groups = await api('GET', '/catalogue/groups').catch(() => ({ groups: [] }));
  $('skill-list').replaceChildren(...(groups.groups ?? []).map((g) => h('option', { value: g.code }, g.name)));
  await reload();
}

async function reload() {
  const [ops, sites, accounts] = await Promise.all([
    api('GET', '/admin/operators'),
    api('GET', '/admin/sites'),
    api('GET', '/admin/accounts'),
  ]);
  state.operators = ops.operators ?? [];
  state.sites = sites.sites ?? [];
  state.accounts = accounts.accounts ?? [];
  renderAll();
}

function renderAll() {
  $('operators-table').tBodies[0].replaceChildren(
    ...state.operators.map((o) =>
      h('tr', {},
        h('th', { scope: 'row' }, o.display_name),
        h('td', {}, o.tier),
        h('td', {}, o.department ?? ''),
        h('td', {}, (o.skills ?? []).map((s) => `${s.skill} (${s.proficiency})`).join(', ')),
        h('td', {}, h('button', { type: 'button', class: 'btn btn-outline-primary btn-sm', 'aria-label': `${t('admin.edit')} ${o.display_name}`, onclick: () => editOperator(o) }, t('admin.edit'))),
      )),
  );
  $('sites-table').tBodies[0].replaceChildren(
    ...state.sites.map((s) =>
      h('tr', {},
        h('th', { scope: 'row', class: 'sp-mono' }, s.code),
        h('td', {}, s.name),
        h('td', {}, [s.street, s.house_number].filter(Boolean).join(' ') + (s.postal_code ? `, ${s.postal_code}` : '')),
        h('td', {}, s.counter_count ?? s.counters?.length ?? ''),
      )),
  );
  $('accounts-table').tBodies[0].replaceChildren(
    ...state.accounts.map((a) =>
      h('tr', {},
        h('th', { scope: 'row', class: 'sp-mono' }, a.id),
        h('td', {}, a.display_name),
        h('td', {}, (a.roles ?? []).map((r) => t(`role.${r}`)).join(', ')),
        h('td', {}, a.department ?? ''),
        h('td', {}, a.active === false ? t('common.no') : t('common.yes')),
        h('td', {}, h('button', { type: 'button', class: 'btn btn-outline-primary btn-sm', 'aria-label': `${t('admin.edit')} ${a.id}`, onclick: () => editAccount(a) }, t('admin.edit'))),
      )),
  );
}

// Operators ------------------------------------------------------------------------------

function skillRow(skill = '', proficiency = 3) {
  const n = $('op-skills').children.length + 1;
  return h('div', { class: 'd-flex gap-2 align-items-end mb-2 sp-skill-row' },
    h('div', { class: 'form-group mb-0' },
      h('label', { for: `skill-${n}`, class: 'active' }, t('admin.skill')),
      h('input', { class: 'form-control', id: `skill-${n}`, name: 'skill', value: skill, list: 'skill-list', required: true })),
    h('div', { class: 'select-wrapper' },
      h('label', { for: `prof-${n}` }, t('admin.proficiency')),
      (() => {
        const sel = h('select', { id: `prof-${n}`, name: 'proficiency' }, ...[1, 2, 3, 4, 5].map((p) => h('option', { value: p }, p)));
        sel.value = String(proficiency);
        return sel;
      })()),
    h('button', { type: 'button', class: 'btn btn-outline-danger btn-sm', onclick: (ev) => ev.currentTarget.parentElement.remove() }, t('admin.remove')),
  );
}

function editOperator(o) {
  state.editingOperator = o;
  const form = $('operator-form');
  form.hidden = false;
  $('operator-form-id').textContent = o.display_name;
  $('op-display-name').value = o.display_name ?? '';
  $('op-tier').value = String(o.tier ?? 2);
  $('op-department').value = o.department ?? '';
  $('op-skills').replaceChildren();
  for (const s of o.skills ?? []) $('op-skills').append(skillRow(s.skill, s.proficiency));
  $('op-display-name').focus();
}

function bindOperatorForm() {
  const form = $('operator-form');
  $('op-add-skill').addEventListener('click', () => {
    const row = skillRow();
    $('op-skills').append(row);
    row.querySelector('input').focus();
  });
  form.querySelector('[data-cancel]').addEventListener('click', () => {
    form.hidden = true;
    state.editingOperator = null;
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const o = state.editingOperator;
    if (!o) return;
    const skills = [...$('op-skills').querySelectorAll('.sp-skill-row')]
      .map((row) => ({ skill: row.querySelector('[name=skill]').value.trim(), proficiency: Number(row.querySelector('[name=proficiency]').value) }))
      .filter((s) => s.skill);
    await withBusy(form.querySelector('button[type=submit]'), async () => {
      await api('PUT', `/admin/operators/${encodeURIComponent(o.id)}`, {
        display_name: $('op-display-name').value.trim(),
        tier: Number($('op-tier').value),
        department: $('op-department').value.trim(),
        skills,
      });
      form.hidden = true;
      announce(t('admin.saved'));
      await reload();
    }, { form });
  });
}

// Sites ----------------------------------------------------------------------------------

function bindSiteForm() {
  const form = $('site-form');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = Object.fromEntries(new FormData(form));
    body.counter_count = Number(body.counter_count);
    await withBusy(form.querySelector('button[type=submit]'), async () => {
      await api('POST', '/admin/sites', body);
      form.reset();
      announce(t('admin.saved'));
      await reload();
    }, { form });
  });
}

// Accounts -------------------------------------------------------------------------------

function renderRoleChecks() {
  const checked = new Set([...document.querySelectorAll('#acc-roles input:checked')].map((i) => i.value));
  $('acc-roles').replaceChildren(
    ...ROLES.map((r) =>
      h('div', { class: 'form-check form-check-inline' },
        h('input', { type: 'checkbox', id: `role-${r}`, name: 'roles', value: r, checked: checked.has(r) }),
        h('label', { for: `role-${r}` }, t(`role.${r}`)))),
  );
}

function editAccount(a) {
  state.editingAccount = a;
  const form = $('account-form');
  $('account-form-heading').textContent = `${t('admin.edit_account')} ${a.id}`;
  $('acc-id').value = a.id;
  $('acc-id').readOnly = true;
  $('acc-display-name').value = a.display_name ?? '';
  $('acc-department').value = a.department ?? '';
  $('acc-password').value = '';
  $('acc-active').checked = a.active !== false;
  for (const i of form.querySelectorAll('#acc-roles input')) i.checked = (a.roles ?? []).includes(i.value);
  $('acc-display-name').focus();
}

function newAccount() {
  state.editingAccount = null;
  const form = $('account-form');
  form.reset();
  $('acc-id').readOnly = false;
  $('account-form-heading').textContent = t('admin.new_account');
}

function bindAccountForm() {
  const form = $('account-form');
  form.querySelector('[data-cancel]').addEventListener('click', newAccount);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = {
      id: $('acc-id').value.trim(),
      display_name: $('acc-display-name').value.trim(),
      department: $('acc-department').value.trim() || null,
      roles: [...form.querySelectorAll('#acc-roles input:checked')].map((i) => i.value),
      active: $('acc-active').checked,
    };
    const password = $('acc-password').value;
    if (password) body.password = password;
    const editing = state.editingAccount;
    await withBusy(form.querySelector('button[type=submit]'), async () => {
      if (editing) {
        delete body.id;
        await api('PATCH', `/admin/accounts/${encodeURIComponent(editing.id)}`, body);
      } else {
        await api('POST', '/admin/accounts', body);
      }
      newAccount();
      announce(t('admin.saved'));
      await reload();
    }, { form });
  });
}
