// webhooks.test.js -- the webhook RPCs from stock Node.js: @grpc/grpc-js + @grpc/proto-loader
// against the real hookd on a temporary socket.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const HOOKD_BIN = process.env.HOOKD_BIN || 'build/hookd';
const SOURCE_DIR = process.env.HOOKD_SOURCE_DIR || path.resolve(__dirname, '../../..');

let base, hookd, exited, client, logPath;

function loadService() {
  const def = protoLoader.loadSync('hookd/v1/webhooks.proto', {
    keepCase: true,
    includeDirs: [path.join(SOURCE_DIR, 'proto')],
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(def).hookd.v1.Webhooks;
}

function waitForSocket(socket, ms) {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (hookd.exitCode !== null) {
        reject(new Error('hookd exited: ' + fs.readFileSync(logPath, 'utf8')));
        return;
      }
      const s = net.connect(socket);
      s.on('connect', () => {
        s.destroy();
        resolve();
      });
      s.on('error', () => {
        if (Date.now() > end) reject(new Error('hookd did not start'));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

// Promise wrapper for a unary call: resolves with the response, rejects with
// the grpc error (err.code, err.details).
function call(method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + 10000 }, (err, resp) =>
      err ? reject(err) : resolve(resp));
  });
}

async function rejectsWith(promise, code, detailsPrefix) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, `status ${err.code}: ${err.details}`);
    if (detailsPrefix) assert.ok(err.details.startsWith(detailsPrefix), err.details);
    return true;
  });
}

before(async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'hk-node-'));
  const socket = path.join(base, 'hookd.sock');
  logPath = path.join(base, 'hookd.log');
  const log = fs.openSync(logPath, 'a');
  hookd = spawn(HOOKD_BIN, ['--socket', socket, '--data', path.join(base, 'data')], {
    stdio: ['ignore', log, log],
  });
  exited = new Promise((resolve) => hookd.on('exit', (code, signal) => resolve({ code, signal })));
  await waitForSocket(socket, 15000);
  const Webhooks = loadService();
  client = new Webhooks('unix://' + socket, grpc.credentials.createInsecure());
});

after(async () => {
  if (client) client.close();
  if (hookd && hookd.exitCode === null) {
    hookd.kill('SIGTERM');
    const { code, signal } = await exited;
    assert.equal(signal, null, 'hookd was killed by ' + signal);
    assert.equal(code, 0, 'hookd exit code; log:\n' + fs.readFileSync(logPath, 'utf8'));
  }
  fs.rmSync(base, { recursive: true, force: true });
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
