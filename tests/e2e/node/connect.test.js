// connect.test.js -- every RPC through the stock Connect client (@connectrpc/connect-node), in JSON
// and binary, over HTTP/1.1 and HTTP/2 on hookd's Unix socket; error codes and messages as the
// Connect spec maps them. The service comes from proto/ through protoc's descriptor set, as a
// client without generated code would load it.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { createFileRegistry, fromBinary } = require('@bufbuild/protobuf');
const { FileDescriptorSetSchema } = require('@bufbuild/protobuf/wkt');
const { createClient, ConnectError, Code } = require('@connectrpc/connect');
const { createConnectTransport } = require('@connectrpc/connect-node');
const { startHookd } = require('./hookd');

const SOURCE_DIR = process.env.HOOKD_SOURCE_DIR || path.resolve(__dirname, '../../..');

function loadService() {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hk-desc-')), 'webhooks.pb');
  execFileSync('protoc', ['--include_imports', `--descriptor_set_out=${out}`,
    '-I', path.join(SOURCE_DIR, 'proto'), 'hookd/v1/webhooks.proto']);
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, fs.readFileSync(out)));
  return registry.getService('hookd.v1.Webhooks');
}

let hookd, Webhooks, receiver, receiverUrl;
const received = [];

before(async () => {
  hookd = await startHookd('retry_schedule = 0,1\n');
  Webhooks = loadService();
  receiver = require('node:http').createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push(req.url);
      res.writeHead(req.url === '/fail' ? 500 : 200).end('ok');
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = (p) => `http://127.0.0.1:${receiver.address().port}${p}`;
});

after(async () => {
  if (receiver) receiver.close();
  if (hookd) await hookd.stop();
});

const transports = {
  'HTTP/1.1 JSON': () => createConnectTransport({ baseUrl: 'http://localhost', httpVersion: '1.1',
    nodeOptions: { socketPath: hookd.socket } }),
  'HTTP/1.1 binary': () => createConnectTransport({ baseUrl: 'http://localhost', httpVersion: '1.1',
    useBinaryFormat: true, nodeOptions: { socketPath: hookd.socket } }),
  'HTTP/2 JSON': () => createConnectTransport({ baseUrl: 'http://localhost', httpVersion: '2',
    nodeOptions: { createConnection: () => net.connect(hookd.socket) } }),
};

async function rejectsWith(promise, code, messagePrefix) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(err.code, code, `code ${Code[err.code]}: ${err.rawMessage}`);
    if (messagePrefix) assert.ok(err.rawMessage.startsWith(messagePrefix), err.rawMessage);
    return true;
  });
}

let n = 0;
for (const [name, make] of Object.entries(transports)) {
  test(`every RPC, ${name}`, async () => {
    const client = createClient(Webhooks, make());
    const tag = `${++n}`;
    const actions = await client.listTriggerActions({ application: 1 });
    assert.ok(actions.triggerActions.some((a) => a.key === 'AccountUpdated' && a.displayName));

    const created = await client.createWebhook({ name: `connect ${tag}`, application: 1,
      triggerAction: 'AccountUpdated', url: receiverUrl(`/ok${tag}`), asynchronous: true,
      active: false });
    assert.equal(typeof created.id, 'bigint');
    assert.equal(created.active, false, 'optional active=false kept');
    assert.equal(created.timeoutSeconds, 15);
    assert.match(created.secretKey, /^whsec_/);

    const got = await client.getWebhook({ key: { case: 'id', value: created.id }, revealSecret: true });
    assert.equal(got.secretKey, created.secretKey);
    const byName = await client.getWebhook({ key: { case: 'name', value: `CONNECT ${tag}` } });
    assert.equal(byName.id, created.id);
    assert.equal(byName.secretKey, 'whsec_********');

    const list = await client.listWebhooks({ application: 1, active: false });
    assert.ok(list.webhooks.some((w) => w.id === created.id));

    const updated = await client.updateWebhook({ key: { case: 'id', value: created.id }, active: true,
      description: 'from connect' });
    assert.equal(updated.active, true);
    assert.equal(updated.description, 'from connect');

    const fired = await client.triggerEvent({ application: 1, triggerAction: 'AccountUpdated',
      payload: new TextEncoder().encode('{"n":1}'), eventId: `connect-evt-${tag}` });
    assert.equal(fired.eventId, `connect-evt-${tag}`);
    assert.equal(fired.queued.length, 1);
    const deliveryId = fired.queued[0].deliveryId;
    let delivery;
    // Delivered, then its result stored by a later commit: a bounded poll, not a fixed 5 s.
    for (const end = Date.now() + 15000; ;) {
      delivery = await client.getDelivery({ id: deliveryId });
      if (delivery.state === 2 || Date.now() > end) break; // SUCCEEDED
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(delivery.state, 2);
    assert.equal(delivery.attempts[0].httpStatus, 200);
    assert.deepEqual(new TextDecoder().decode(delivery.payload), '{"n":1}');
    const deliveries = await client.listDeliveries({ webhookId: created.id });
    assert.equal(deliveries.deliveries[0].id, deliveryId);
    const again = await client.redeliverDelivery({ id: deliveryId });
    assert.notEqual(again.id, deliveryId);
    assert.equal(again.eventId, `connect-evt-${tag}`);

    const gone = await client.deleteWebhook({ key: { case: 'id', value: created.id } });
    assert.equal(gone.id, created.id);
    await rejectsWith(client.getWebhook({ key: { case: 'id', value: created.id } }), Code.NotFound);
  });

  test(`errors map to Connect codes, ${name}`, async () => {
    const client = createClient(Webhooks, make());
    await rejectsWith(client.createWebhook({ name: 'bad url', application: 1,
      triggerAction: 'AccountUpdated', url: 'ftp://x.example.com/' }), Code.InvalidArgument, 'url: ');
    await rejectsWith(client.createWebhook({ name: 'no app', triggerAction: 'AccountUpdated',
      url: 'https://x.example.com/' }), Code.InvalidArgument, 'application: ');
    const w = await client.createWebhook({ name: `dup ${++n}`, application: 2,
      triggerAction: 'BookingCreated', url: 'https://x.example.com/' }).catch((e) => e);
    if (w instanceof ConnectError) {
      // Elite's catalog may name other actions: take the first one it has.
      const acts = await client.listTriggerActions({ application: 2 });
      const again = await client.createWebhook({ name: `dup ${n}`, application: 2,
        triggerAction: acts.triggerActions[0].key, url: 'https://x.example.com/' });
      await rejectsWith(client.createWebhook({ name: `DUP ${n}`, application: 2,
        triggerAction: acts.triggerActions[0].key, url: 'https://x.example.com/' }), Code.AlreadyExists);
      await rejectsWith(client.updateWebhook({ key: { case: 'id', value: again.id }, application: 1 }),
        Code.FailedPrecondition, 'application');
    } else {
      await rejectsWith(client.createWebhook({ name: `DUP ${n}`, application: 2,
        triggerAction: 'BookingCreated', url: 'https://x.example.com/' }), Code.AlreadyExists);
      await rejectsWith(client.updateWebhook({ key: { case: 'id', value: w.id }, application: 1 }),
        Code.FailedPrecondition, 'application');
    }
    await rejectsWith(client.getDelivery({ id: 987654321n }), Code.NotFound);
  });
}

// Below the client's types: raw requests as a newcomer's curl would send them.
// A body the server refuses at its headers is sent only on "100 Continue", as a client that
// expects a refusal should (RFC 9110 10.1.1).
function raw(method, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = require('node:http').request({ socketPath: hookd.socket, method: 'POST',
      path: `/hookd.v1.Webhooks/${method}`, headers: { 'content-type': 'application/json', ...headers } },
    (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'],
        body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (headers.expect) req.on('continue', () => req.end(body));
    else req.end(body);
  });
}

test('bad JSON, unknown fields and methods, oversized bodies', async () => {
  let r = await raw('ListWebhooks', '{"pageSize": ');
  assert.equal(r.status, 400);
  assert.equal(JSON.parse(r.body).code, 'invalid_argument');
  assert.match(JSON.parse(r.body).message, /invalid JSON/);
  r = await raw('ListWebhooks', '{"bogus": 1}');
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.body).message, /bogus: unknown field/);
  r = await raw('ListWebhooks', '{"pageSize": "many"}');
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.body).message, /page_size/);
  r = await raw('NoSuchMethod', '{}');
  assert.equal(r.status, 404);
  assert.equal(JSON.parse(r.body).code, 'unimplemented');
  r = await raw('ListWebhooks', '{}', { 'content-type': 'text/plain' });
  assert.equal(r.status, 415);
  r = await raw('TriggerEvent', JSON.stringify({ application: 'APPLICATION_ENTERPRISE',
    triggerAction: 'AccountUpdated', payload: Buffer.alloc(5 << 20).toString('base64') }),
  { expect: '100-continue' });
  assert.equal(r.status, 413);
  assert.equal(JSON.parse(r.body).code, 'resource_exhausted');
  // Without 100-continue the whole body is on its way when the 413 comes: hookd
  // lingers, reading it, so node's client gets the answer, not EPIPE.
  r = await raw('TriggerEvent', JSON.stringify({ application: 'APPLICATION_ENTERPRISE',
    triggerAction: 'AccountUpdated', payload: Buffer.alloc(5 << 20).toString('base64') }));
  assert.equal(r.status, 413);
  assert.equal(JSON.parse(r.body).code, 'resource_exhausted');
  r = await raw('ListWebhooks', '{}');
  assert.equal(r.status, 200, 'hookd still serves after the refusals');
  assert.equal(r.type, 'application/json');
});
