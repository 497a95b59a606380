// delivery.test.js -- TriggerEvent from stock Node.js (@grpc/grpc-js) to a Node http receiver,
// the request verified in-process with npm `standardwebhooks` and `jsonwebtoken`.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const { Webhook } = require('standardwebhooks');
const jwt = require('jsonwebtoken');
const grpc = require('@grpc/grpc-js');
const { startHookd } = require('./hookd');

let hookd, call, server, port;
const received = []; // {path, headers, body (Buffer), time}
const waiters = [];

// Resolves with the received requests to urlPath once there are n of them.
function waitFor(urlPath, n, ms = 10000) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const got = received.filter((r) => r.path === urlPath);
      if (got.length >= n) {
        resolve(got);
        return true;
      }
      return false;
    };
    if (check()) return;
    const timer = setTimeout(() => {
      const i = waiters.indexOf(check);
      if (i >= 0) waiters.splice(i, 1);
      reject(new Error(`receiver: fewer than ${n} requests to ${urlPath} within ${ms} ms`));
    }, ms);
    waiters.push(() => {
      if (check()) {
        clearTimeout(timer);
        return true;
      }
      return false;
    });
  });
}

before(async () => {
  server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method, path: req.url, headers: req.headers,
        body: Buffer.concat(chunks), time: Date.now() });
      for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]()) waiters.splice(i, 1);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"received":true}');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = server.address().port;

  hookd = await startHookd('retry_schedule = 0,1,1\n');
  call = hookd.call;
});

after(async () => {
  if (hookd) await hookd.stop();
  if (server) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

function keyBytes(secret) {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64')
    : Buffer.from(secret, 'utf8');
}

// What a Node receiver does: verify the signature and the bearer token.
function verifyRequest(webhook, req) {
  const payload = new Webhook(webhook.secret_key).verify(req.body, req.headers);
  const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  assert.ok(m, 'authorization: ' + req.headers.authorization);
  const claims = jwt.verify(m[1], keyBytes(webhook.secret_key), {
    algorithms: ['HS256'],
    audience: webhook.url,
    issuer: 'hookd',
    subject: webhook.name,
  });
  assert.equal(claims.jti, req.headers['webhook-id']);
  assert.equal(claims.body_sha256, crypto.createHash('sha256').update(req.body).digest('base64url'));
  assert.equal(claims.exp, claims.iat + 300);
  assert.ok(Math.abs(claims.iat - Date.now() / 1000) < 10, 'iat ' + claims.iat);
  return { payload, claims };
}

test('a synchronous webhook receives a signed event', async () => {
  const wh = await call('CreateWebhook', {
    name: 'Node sync receiver',
    application: 'APPLICATION_ENTERPRISE',
    trigger_action: 'BookingCreated',
    url: `http://127.0.0.1:${port}/sync`,
  });
  assert.match(wh.secret_key, /^whsec_/);
  const data = { booking: { id: 7, room: 'Salle Été' } };
  const resp = await call('TriggerEvent', {
    application: 'APPLICATION_ENTERPRISE',
    trigger_action: 'BookingCreated',
    payload: Buffer.from(JSON.stringify(data)),
    origin: 'ORIGIN_USER',
  });
  assert.equal(resp.duplicate, false);
  assert.equal(resp.queued.length, 0);
  assert.equal(resp.results.length, 1);
  const r = resp.results[0];
  assert.equal(r.webhook_id, wh.id);
  assert.equal(r.webhook_name, wh.name);
  assert.equal(r.outcome, 'OUTCOME_SUCCEEDED');
  assert.equal(r.http_status, 200);
  assert.equal(r.error, '');
  assert.equal(Buffer.from(r.response_body).toString(), '{"received":true}');
  assert.ok(Number(r.delivery_id) > 0);

  // A synchronous webhook has answered before TriggerEvent did.
  const got = received.filter((q) => q.path === '/sync');
  assert.equal(got.length, 1);
  const req = got[0];
  assert.equal(req.method, 'POST');
  assert.match(req.headers['content-type'], /^application\/json/);
  assert.match(req.headers['user-agent'], /^hookd\//);
  assert.equal(req.headers['webhook-id'], resp.event_id);
  const { payload, claims } = verifyRequest(wh, req);
  assert.equal(claims.sub, 'Node sync receiver');
  assert.equal(payload.id, resp.event_id);
  assert.equal(payload.type, 'BookingCreated');
  assert.equal(payload.application, 'enterprise');
  assert.equal(payload.origin, 'user');
  assert.ok(Math.abs(Date.parse(payload.timestamp) - Date.now()) < 10000, payload.timestamp);
  assert.deepEqual(payload.data, data);

  // A byte changed in transit fails the stock verifier: the check above is real.
  const forged = Buffer.from(req.body.toString().replace('Salle', 'Hall'));
  assert.throws(() => new Webhook(wh.secret_key).verify(forged, req.headers));
});

test('an asynchronous webhook receives a signed event after TriggerEvent answered', async () => {
  const wh = await call('CreateWebhook', {
    name: 'Node async receiver',
    application: 'APPLICATION_ELITE',
    trigger_action: 'ContractSigned',
    url: `http://127.0.0.1:${port}/async?from=node`,
    asynchronous: true,
    secret_key: 'a plain secret of the receiver, not whsec',
  });
  const resp = await call('TriggerEvent', {
    application: 'APPLICATION_ELITE',
    trigger_action: 'ContractSigned',
    payload: Buffer.from('{"contract":"C-1"}'),
    origin: 'ORIGIN_API',
    event_id: 'node-contract-1',
  });
  assert.equal(resp.event_id, 'node-contract-1');
  assert.equal(resp.results.length, 0);
  assert.equal(resp.queued.length, 1);
  assert.equal(resp.queued[0].webhook_id, wh.id);
  const [req] = await waitFor('/async?from=node', 1);
  // Not whsec_: the key is the secret's own bytes.
  const payload = new Webhook(Buffer.from(wh.secret_key), { format: 'raw' })
    .verify(req.body, req.headers);
  const token = req.headers.authorization.replace(/^Bearer /, '');
  const claims = jwt.verify(token, Buffer.from(wh.secret_key), {
    algorithms: ['HS256'], audience: wh.url, issuer: 'hookd', subject: wh.name });
  assert.equal(claims.jti, 'node-contract-1');
  assert.equal(payload.application, 'elite');
  assert.equal(payload.origin, 'api');
  assert.deepEqual(payload.data, { contract: 'C-1' });

  // The log shows it delivered: the receiver answering is not the result stored (a later
  // commit, whose fdatasync may stall), so poll for it, bounded.
  const id = resp.queued[0].delivery_id;
  let d;
  for (const end = Date.now() + 15000; ;) {
    d = await call('GetDelivery', { id });
    if (d.state === 'DELIVERY_STATE_SUCCEEDED' || Date.now() > end) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(d.state, 'DELIVERY_STATE_SUCCEEDED');
  assert.equal(d.attempts.length, 1);
  assert.equal(d.attempts[0].http_status, 200);
});

test('a bad JSON payload is INVALID_ARGUMENT', async () => {
  await assert.rejects(call('TriggerEvent', {
    application: 'APPLICATION_ENTERPRISE',
    trigger_action: 'BookingCreated',
    payload: Buffer.from('{"unterminated":'),
  }), (err) => {
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT, `status ${err.code}: ${err.details}`);
    return true;
  });
});
