// app.js -- the admin page's shell: loads the catalog, routes #/ hashes to pages.
import { call, ApiError } from './api.js';
import { notice } from './dom.js';
import { Catalog, applicationFromKey } from './names.js';
import { listPage } from './list.js';
import { createPage, editPage } from './form.js';
import { detailsPage } from './details.js';

// The product the admin came from (?application=enterprise|elite on the page's own URL).
const cameFrom = applicationFromKey(new URLSearchParams(location.search).get('application'));

const ctx = {
  catalog: new Catalog(),
  pendingFlash: null,
  go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  reload: () => route(),
  setFlash(el) {
    this.pendingFlash = el;
  },
  flash() {
    const el = this.pendingFlash;
    this.pendingFlash = null;
    return el;
  },
  defaultApplication: () => cameFrom,
  appQuery: () => (cameFrom ? `?application=${cameFrom === 'APPLICATION_ELITE' ? 'elite' : 'enterprise'}` : ''),
};

async function route() {
  const [path, query] = (location.hash.slice(1) || '/').split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter(Boolean);
  document.body.setAttribute('aria-busy', 'true');
  try {
    if (parts[0] === 'create') await createPage(ctx, params);
    else if (parts[0] === 'edit' && parts[1]) await editPage(ctx, parts[1]);
    else if (parts[0] === 'webhooks' && parts[1]) await detailsPage(ctx, parts[1]);
    else await listPage(ctx, params);
  } finally {
    document.body.removeAttribute('aria-busy');
  }
}

async function start() {
  const res = await call('ListTriggerActions', {});
  if (res instanceof ApiError) {
    document.getElementById('main').replaceChildren(notice(`${res.code}: ${res.message}`, 'error'));
    return;
  }
  ctx.catalog = new Catalog(res.triggerActions || []);
  window.addEventListener('hashchange', route);
  await route();
}

start();
