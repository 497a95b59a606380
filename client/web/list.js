// list.js -- the webhook management page: the table of webhooks, its filters and paging.
import { call, ApiError } from './api.js';
import { h, show, notice } from './dom.js';
import { APPLICATIONS, applicationLabel } from './names.js';
import { actionsMenu } from './menu.js';

const PAGE_SIZE = 50;

// params: URLSearchParams of the hash route (application, trigger, status, page token stack).
export async function listPage(ctx, params) {
  const filters = {
    application: params.get('application') || '',
    triggerAction: params.get('trigger') || '',
    status: params.get('status') || '',
  };
  const tokens = (params.get('pages') || '').split(',').filter(Boolean); // tokens of the pages before
  const request = { pageSize: PAGE_SIZE };
  if (filters.application) request.application = filters.application;
  if (filters.triggerAction) request.triggerAction = filters.triggerAction;
  if (filters.status) request.active = filters.status === 'active';
  if (tokens.length) request.pageToken = tokens[tokens.length - 1];

  const res = await call('ListWebhooks', request);
  const route = (f, pages) => {
    const q = new URLSearchParams();
    if (f.application) q.set('application', f.application);
    if (f.triggerAction) q.set('trigger', f.triggerAction);
    if (f.status) q.set('status', f.status);
    if (pages.length) q.set('pages', pages.join(','));
    return `#/?${q}`;
  };

  const form = filterForm(ctx, filters, (f) => ctx.go(route(f, [])));
  const head = h('div', { class: 'page-head' },
    h('h1', {}, 'Webhooks'),
    h('a', { class: 'button primary', href: `#/create${ctx.appQuery()}` }, 'Create Webhook'));
  if (res instanceof ApiError) {
    show(head, form, notice(`${res.code}: ${res.message}`, 'error'));
    return;
  }
  const rows = (res.webhooks || []).map((w) => row(ctx, w));
  const table = h('table', { class: 'webhooks' },
    h('caption', { class: 'visually-hidden' }, 'Configured webhooks'),
    h('thead', {}, h('tr', {},
      ['Name', 'Trigger Action', 'Endpoint', 'Status', 'Application'].map((t) => h('th', { scope: 'col' }, t)),
      h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No webhooks match.'))));
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' },
    tokens.length ? h('a', { class: 'button', href: route(filters, tokens.slice(0, -1)) }, 'Previous page') : null,
    res.nextPageToken ? h('a', { class: 'button', href: route(filters, [...tokens, res.nextPageToken]) }, 'Next page') : null);
  show(head, form, ctx.flash(), h('div', { class: 'table-wrap' }, table), pager);
}

function row(ctx, w) {
  const name = w.name || '';
  const menu = actionsMenu(`Actions for ${name}`, [
    { label: 'View Details Page', run: () => ctx.go(`#/webhooks/${w.id}`) },
    { label: 'Edit Webhook', run: () => ctx.go(`#/edit/${w.id}`) },
    {
      label: 'Delete Webhook',
      run: async () => {
        // The spec: no confirmation step.
        const res = await call('DeleteWebhook', { id: w.id });
        ctx.setFlash(res instanceof ApiError ? notice(`${res.code}: ${res.message}`, 'error')
                                             : notice(`Deleted webhook ${name}.`));
        ctx.reload();
      },
    },
  ]);
  return h('tr', { 'data-id': w.id },
    h('th', { scope: 'row' }, h('a', { href: `#/webhooks/${w.id}` }, name)),
    h('td', {}, ctx.catalog.label(w.application, w.triggerAction)),
    h('td', { class: 'url' }, w.url || ''),
    h('td', {}, h('span', { class: w.active ? 'status active' : 'status inactive' }, w.active ? 'Active' : 'Inactive')),
    h('td', {}, applicationLabel(w.application)),
    h('td', { class: 'cell-actions' }, menu));
}

function filterForm(ctx, f, apply) {
  const sel = (id, label, options, value) => [
    h('label', { for: id }, label),
    h('select', { id, name: id },
      options.map(([v, t]) => h('option', { value: v, selected: v === value }, t))),
  ];
  const actions = ctx.catalog.actions
    .filter((a) => !f.application || a.application === f.application)
    .map((a) => [a.key, ctx.catalog.label(a.application, a.key)]);
  const uniq = [...new Map(actions).entries()];
  const form = h('form', { class: 'filters', role: 'search' },
    h('div', { class: 'field' }, sel('filter-application', 'Application',
      [['', 'All applications'], ...APPLICATIONS.map((a) => [a.value, a.label])], f.application)),
    h('div', { class: 'field' }, sel('filter-trigger', 'Trigger Action',
      [['', 'All trigger actions'], ...uniq], f.triggerAction)),
    h('div', { class: 'field' }, sel('filter-status', 'Status',
      [['', 'Active and inactive'], ['active', 'Active'], ['inactive', 'Inactive']], f.status)),
    h('button', { type: 'submit', class: 'button' }, 'Filter'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    apply({
      application: form.elements['filter-application'].value,
      triggerAction: form.elements['filter-trigger'].value,
      status: form.elements['filter-status'].value,
    });
  });
  return form;
}
