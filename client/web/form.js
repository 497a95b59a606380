// form.js -- the Create Webhook and Edit Webhook pages: one form, the spec's fields and words.
import { call, ApiError } from './api.js';
import { h, show, notice, copy } from './dom.js';
import { APPLICATIONS, applicationLabel, applicationFromKey } from './names.js';

// A fresh secret in hookd's own form: "whsec_" + base64 of 32 random bytes.
export function newSecret() {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return 'whsec_' + btoa(String.fromCharCode(...bytes));
}

// Which input shows the error a message names (hookd names the request's proto field).
const FIELD_INPUT = {
  name: 'name', new_name: 'name', application: 'application', trigger_action: 'trigger',
  url: 'url', auth_method: 'auth', timeout_seconds: 'timeout', secret_key: 'secret',
  description: 'description',
};

export async function createPage(ctx, params) {
  const application = applicationFromKey(params.get('application')) || ctx.defaultApplication() ||
    APPLICATIONS[0].value;
  render(ctx, null, { application, triggerAction: '', name: '', url: '', timeoutSeconds: 15,
    secretKey: newSecret(), asynchronous: false, ignoreForApi: false, active: true, description: '' });
}

export async function editPage(ctx, id) {
  const w = await call('GetWebhook', { id, revealSecret: true });
  if (w instanceof ApiError) {
    show(h('h1', {}, 'Edit Webhook'), notice(`${w.code}: ${w.message}`, 'error'));
    return;
  }
  render(ctx, w, { ...w, timeoutSeconds: w.timeoutSeconds || 15 });
}

function render(ctx, existing, v) {
  const editing = !!existing;
  const field = (id, label, control, hint) => h('div', { class: 'field', id: `field-${id}` },
    h('label', { for: id }, label), control,
    hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
    h('p', { class: 'field-error', id: `${id}-error`, 'aria-live': 'polite' }));
  const check = (id, label, checked, hint) => h('div', { class: 'field check', id: `field-${id}` },
    h('input', { type: 'checkbox', id, name: id, checked, 'aria-describedby': hint ? `${id}-hint` : null }),
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null);

  const appControl = editing
    ? h('input', { id: 'application', name: 'application', readonly: true, value: applicationLabel(v.application) })
    : h('select', { id: 'application', name: 'application' },
      APPLICATIONS.map((a) => h('option', { value: a.value, selected: a.value === v.application }, a.label)));
  const trigger = h('select', { id: 'trigger', name: 'trigger', required: true });
  const fillTriggers = (application) => {
    const acts = ctx.catalog.of(application);
    trigger.replaceChildren(h('option', { value: '' }, 'Choose a trigger action'),
      ...acts.map((a) => h('option', { value: a.key, selected: a.key === v.triggerAction }, a.displayName || a.key)));
  };
  fillTriggers(v.application);
  if (!editing) appControl.addEventListener('change', () => fillTriggers(appControl.value));

  const secret = h('input', { id: 'secret', name: 'secret', value: v.secretKey || '', autocomplete: 'off',
    spellcheck: 'false', 'aria-describedby': 'secret-hint' });
  const copied = h('span', { class: 'copied', role: 'status' });
  const secretControl = h('div', { class: 'inline' }, secret,
    h('button', { type: 'button', class: 'button', onclick: () => { secret.value = newSecret(); } }, 'Generate'),
    h('button', { type: 'button', class: 'button', onclick: async () => {
      copied.textContent = (await copy(secret.value, secret)) ? 'Copied' : 'Copy failed';
    } }, 'Copy'), copied);

  const form = h('form', { class: 'webhook-form', novalidate: true },
    h('fieldset', {}, h('legend', {}, 'Application information'),
      field('application', 'Application', appControl, editing ? 'The Application cannot be edited.' : null),
      field('trigger', 'Trigger Action', trigger),
      field('name', 'Webhook Name', h('input', { id: 'name', name: 'name', value: v.name, required: true, maxlength: 100 })),
      field('url', 'Web Service URL', h('input', { id: 'url', name: 'url', type: 'url', value: v.url, required: true,
        placeholder: 'https://', 'aria-describedby': 'url-hint' }), 'Use secure URLs (https) for production environments.')),
    h('fieldset', {}, h('legend', {}, 'Authentication information'),
      field('auth', 'Authentication Method', h('input', { id: 'auth', name: 'auth', readonly: true, value: 'OAuth' }),
        editing ? 'The Authentication Method cannot be edited.' : 'Currently, only OAuth is supported.'),
      field('timeout', 'Timeout', h('div', { class: 'inline' },
        h('input', { id: 'timeout', name: 'timeout', type: 'number', min: 1, max: 600, value: v.timeoutSeconds,
          'aria-describedby': 'timeout-hint' }), h('span', {}, 'seconds')),
        'How long to wait for the receiver’s response. The default is 15 seconds.'),
      field('secret', 'Secret Key', secretControl, 'Auto-generated with random values; you can replace it with your own.')),
    h('fieldset', {}, h('legend', {}, 'Behaviour'),
      check('asynchronous', 'Set as Asynchronous', !!v.asynchronous,
        'Selected: does not block business processing. Not selected: blocks it until the receiver answers.'),
      check('ignore', 'Ignore for API', !!v.ignoreForApi, 'Selected: not initiated by API calls (avoids endless loops).'),
      check('active', 'Active', !!v.active, 'Only active webhooks are triggered.'),
      field('description', 'Description', h('textarea', { id: 'description', name: 'description', maxlength: 500, rows: 3 },
        v.description || ''))),
    h('div', { class: 'form-error', id: 'form-error', role: 'alert' }),
    h('div', { class: 'buttons' },
      h('button', { type: 'submit', class: 'button primary' }, 'Save'),
      h('a', { class: 'button', href: editing ? `#/webhooks/${existing.id}` : '#/' }, 'Cancel')));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    form.querySelector('#form-error').textContent = '';
    const el = form.elements;
    const now = {
      triggerAction: el.trigger.value, name: el.name.value, url: el.url.value,
      timeoutSeconds: Number(el.timeout.value), secretKey: el.secret.value,
      asynchronous: el.asynchronous.checked, ignoreForApi: el.ignore.checked, active: el.active.checked,
      description: el.description.value,
    };
    let res;
    if (editing) {
      const req = { id: existing.id };
      const changed = (k) => now[k] !== (k === 'timeoutSeconds' ? v.timeoutSeconds : (existing[k] ?? (typeof now[k] === 'boolean' ? false : '')));
      if (changed('name')) req.newName = now.name;
      for (const k of ['triggerAction', 'url', 'timeoutSeconds', 'secretKey', 'asynchronous', 'ignoreForApi', 'active', 'description']) {
        if (changed(k)) req[k] = now[k];
      }
      res = await call('UpdateWebhook', req);
    } else {
      res = await call('CreateWebhook', { ...now, application: appControl.value, authMethod: 'AUTH_METHOD_OAUTH' });
    }
    if (res instanceof ApiError) {
      const input = FIELD_INPUT[res.field];
      const slot = input && form.querySelector(`#${input}-error`);
      if (slot) {
        slot.textContent = res.message;
        const control = form.querySelector(`#${input}`);
        control.setAttribute('aria-invalid', 'true');
        control.setAttribute('aria-errormessage', `${input}-error`);
        control.focus();
      } else {
        form.querySelector('#form-error').textContent = `${res.code}: ${res.message}`;
      }
      return;
    }
    ctx.setFlash(notice(editing ? `Saved webhook ${res.name}.` : `Created webhook ${res.name}.`));
    ctx.go(`#/webhooks/${res.id}`);
  });

  show(h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Webhooks')),
    h('h1', {}, editing ? 'Edit Webhook' : 'Create Webhook'), form);
}
