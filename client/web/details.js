// details.js -- a webhook's View Details Page: every field, its secret, and its recent deliveries.
import { call, ApiError } from './api.js';
import { h, show, notice, copy } from './dom.js';
import { applicationLabel, stateLabel, outcomeLabel, timeLabel } from './names.js';

const RECENT = 20;

export async function detailsPage(ctx, id) {
  const w = await call('GetWebhook', { id });
  if (w instanceof ApiError) {
    show(h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Webhooks')), h('h1', {}, 'Webhook'),
      notice(`${w.code}: ${w.message}`, 'error'));
    return;
  }
  const secretValue = h('code', { id: 'secret-value' }, w.secretKey || 'whsec_********');
  const copied = h('span', { class: 'copied', role: 'status' });
  let revealed = '';
  const reveal = h('button', { type: 'button', class: 'button', 'aria-controls': 'secret-value', onclick: async () => {
    if (revealed) {
      revealed = '';
      secretValue.textContent = w.secretKey || 'whsec_********';
      reveal.textContent = 'Reveal';
      return;
    }
    const full = await call('GetWebhook', { id, revealSecret: true });
    if (full instanceof ApiError) {
      copied.textContent = `${full.code}: ${full.message}`;
      return;
    }
    revealed = full.secretKey;
    secretValue.textContent = revealed;
    reveal.textContent = 'Hide';
  } }, 'Reveal');
  const copyButton = h('button', { type: 'button', class: 'button', onclick: async () => {
    const full = revealed ? { secretKey: revealed } : await call('GetWebhook', { id, revealSecret: true });
    if (full instanceof ApiError) {
      copied.textContent = `${full.code}: ${full.message}`;
      return;
    }
    copied.textContent = (await copy(full.secretKey)) ? 'Copied' : 'Copy failed';
  } }, 'Copy');

  const rows = [
    ['Name', w.name],
    ['Application', applicationLabel(w.application)],
    ['Trigger Action', ctx.catalog.label(w.application, w.triggerAction)],
    ['Web Service URL', w.url],
    ['Authentication Method', 'OAuth'],
    ['Timeout', `${w.timeoutSeconds || 15} seconds`],
    ['Secret Key', h('span', { class: 'inline' }, secretValue, reveal, copyButton, copied)],
    ['Asynchronous', w.asynchronous ? 'Yes' : 'No'],
    ['Ignore for API', w.ignoreForApi ? 'Yes' : 'No'],
    ['Status', w.active ? 'Active'
      : `Inactive${w.deactivateTime ? ` since ${timeLabel(w.deactivateTime)}` : ''}${w.deactivatedReason ? `: ${w.deactivatedReason}` : ''}`],
    ['Description', w.description || '-'],
    ['ID', w.id],
    ['Created', timeLabel(w.createTime)],
    ['Updated', timeLabel(w.updateTime)],
  ];
  const dl = h('dl', { class: 'details' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  const deliveries = h('section', { 'aria-labelledby': 'deliveries-title' },
    h('h2', { id: 'deliveries-title' }, 'Recent deliveries'), h('p', {}, 'Loading…'));
  show(h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Webhooks')),
    h('div', { class: 'page-head' }, h('h1', {}, w.name),
      h('a', { class: 'button', href: `#/edit/${w.id}` }, 'Edit Webhook')),
    ctx.flash(), dl, deliveries);
  await renderDeliveries(ctx, w, deliveries);
}

async function renderDeliveries(ctx, w, section, message = '') {
  const title = section.querySelector('h2');
  const list = await call('ListDeliveries', { webhookId: w.id, pageSize: RECENT });
  if (list instanceof ApiError) {
    section.replaceChildren(title, notice(`${list.code}: ${list.message}`, 'error'));
    return;
  }
  const items = list.deliveries || [];
  if (!items.length) {
    section.replaceChildren(title, h('p', {}, 'No deliveries yet.'));
    return;
  }
  const full = await Promise.all(items.map((d) => call('GetDelivery', { id: d.id })));
  const status = h('p', { role: 'status', class: 'redeliver-status' }, message);
  const table = h('table', { class: 'deliveries' },
    h('thead', {}, h('tr', {}, ['Delivery', 'Event', 'State', 'Attempts', 'Last HTTP status', 'Next attempt', '']
      .map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, items.map((d, i) => {
      const g = full[i] instanceof ApiError ? d : full[i];
      const attempts = g.attempts || [];
      const last = attempts[attempts.length - 1];
      return [
        h('tr', { 'data-delivery': d.id },
          h('th', { scope: 'row' }, d.id),
          h('td', { class: 'mono' }, d.eventId || ''),
          h('td', {}, h('span', { class: `state ${String(d.state || '').toLowerCase()}` }, stateLabel(d.state))),
          h('td', {}, d.attemptCount || 0),
          h('td', {}, last?.httpStatus ? String(last.httpStatus) : '-'),
          h('td', {}, d.state === 'DELIVERY_STATE_PENDING' ? timeLabel(d.nextAttemptTime) : '-'),
          h('td', {}, h('button', { type: 'button', class: 'button', onclick: async () => {
            const r = await call('RedeliverDelivery', { id: d.id });
            if (r instanceof ApiError) status.textContent = `${r.code}: ${r.message}`;
            else await renderDeliveries(ctx, w, section, `Queued delivery ${r.id}.`);
          } }, 'Redeliver'))),
        h('tr', { class: 'attempts-row' }, h('td', { colspan: 7 }, attemptsTable(attempts))),
      ];
    })));
  section.replaceChildren(title, status, h('div', { class: 'table-wrap' }, table));
}

function decodeBody(b64) {
  if (!b64) return '';
  try {
    const bin = atob(b64.replace(/-/g, '+').replace(/_/g, '/'));
    return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  } catch {
    return b64;
  }
}

function attemptsTable(attempts) {
  if (!attempts.length) return h('p', { class: 'hint' }, 'No attempts yet.');
  return h('details', {}, h('summary', {}, `Attempts (${attempts.length})`),
    h('table', { class: 'attempts' },
      h('thead', {}, h('tr', {}, ['Time', 'Outcome', 'HTTP status', 'Duration', 'Error', 'Response body']
        .map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, attempts.map((a) => h('tr', {},
        h('td', {}, timeLabel(a.time)),
        h('td', {}, outcomeLabel(a.outcome)),
        h('td', {}, a.httpStatus ? String(a.httpStatus) : '-'),
        h('td', {}, `${a.durationMs || 0} ms`),
        h('td', {}, a.error || '-'),
        h('td', {}, h('pre', { class: 'body' }, decodeBody(a.responseBody) || '-')))))));
}
