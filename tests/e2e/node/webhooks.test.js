// webhooks.test.js -- the webhook RPCs from stock Node.js: @grpc/grpc-js + @grpc/proto-loader
// against the real hookd on a temporary socket.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const grpc = require('@grpc/grpc-js');
const { startHookd } = require('./hookd');

let hookd, call;

async function rejectsWith(promise, code, detailsPrefix) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, `status ${err.code}: ${err.details}`);
    if (detailsPrefix) assert.ok(err.details.startsWith(detailsPrefix), err.details);
    return true;
  });
}

before(async () => {
  hookd = await startHookd();
  call = hookd.call;
});

after(async () => {
  if (hookd) await hookd.stop();
});

const newWebhook = {
  name: 'Node receiver',
  application: 'APPLICATION_ENTERPRISE',
  trigger_action: 'BookingCreated',
  url: 'https://receiver.example.com/bookings',
};

test('create, get, list, update, delete', async () => {
  const created = await call('CreateWebhook', newWebhook);
  assert.ok(Number(created.id) > 0);
  assert.equal(created.name, 'Node receiver');
  assert.equal(created.application, 'APPLICATION_ENTERPRISE');
  assert.equal(created.auth_method, 'AUTH_METHOD_OAUTH');
  assert.equal(created.timeout_seconds, 15);
  assert.equal(created.active, true);
  assert.match(created.secret_key, /^whsec_[A-Za-z0-9+/]{43}=$/);

  const got = await call('GetWebhook', { id: created.id });
  assert.equal(got.id, created.id);
  assert.equal(got.url, newWebhook.url);
  assert.equal(got.secret_key, 'whsec_********');
  const revealed = await call('GetWebhook', { name: 'node RECEIVER', reveal_secret: true });
  assert.equal(revealed.secret_key, created.secret_key);

  const listed = await call('ListWebhooks', { trigger_action: 'BookingCreated' });
  assert.deepEqual(listed.webhooks.map((w) => w.id), [created.id]);
  assert.equal(listed.next_page_token, '');
  assert.ok(listed.webhooks.every((w) => !w.secret_key.includes(created.secret_key.slice(6))));

  // Only the fields present change; false is a value, not "unset".
  const updated = await call('UpdateWebhook', {
    id: created.id, new_name: 'Node receiver v2', active: false, timeout_seconds: 45,
  });
  assert.equal(updated.id, created.id);
  assert.equal(updated.name, 'Node receiver v2');
  assert.equal(updated.active, false);
  assert.equal(updated.timeout_seconds, 45);
  assert.equal(updated.url, newWebhook.url);
  assert.equal(updated.secret_key, 'whsec_********');

  const deleted = await call('DeleteWebhook', { name: 'Node receiver v2' });
  assert.equal(deleted.id, created.id);
  await rejectsWith(call('GetWebhook', { id: created.id }), grpc.status.NOT_FOUND);
});

test('a field that breaks a rule is INVALID_ARGUMENT naming it', async () => {
  await rejectsWith(call('CreateWebhook', { ...newWebhook, name: 'bad url', url: 'http://example.com/x' }),
    grpc.status.INVALID_ARGUMENT, 'url:');
  await rejectsWith(call('CreateWebhook', { ...newWebhook, name: 'bad timeout', timeout_seconds: 0 }),
    grpc.status.INVALID_ARGUMENT, 'timeout_seconds:');
});

test('a taken name is ALREADY_EXISTS, in any letter case', async () => {
  await call('CreateWebhook', { ...newWebhook, name: 'Shared name' });
  await rejectsWith(call('CreateWebhook', { ...newWebhook, name: 'SHARED NAME' }),
    grpc.status.ALREADY_EXISTS, 'name:');
});

test('the catalog lists display names', async () => {
  const resp = await call('ListTriggerActions', { application: 'APPLICATION_ELITE' });
  const names = Object.fromEntries(resp.trigger_actions.map((a) => [a.key, a.display_name]));
  assert.equal(names.AccountUpdated, 'Account Update');
  assert.ok('ContractSigned' in names);
});
