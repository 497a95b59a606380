#!/usr/bin/env node
// verify.js -- checks a request hookd delivered the way a receiver would, with stock libraries:
// the Standard Webhooks signature with npm `standardwebhooks` and the bearer token with
// npm `jsonwebtoken`.
//
//   node verify.js < request.json
//
// stdin: {"secret": "whsec_...", "headers": {name: value}, "body": "<text>" or
//         "body_b64": "<base64>", "url": "<webhook url>", "name": "<webhook name>"}
// stdout: {"ok": true, "claims": {...}, "payload": <parsed body>} and exit 0, or
//         {"ok": false, "error": "..."} and exit 1.
'use strict';

const crypto = require('node:crypto');
const { Webhook } = require('standardwebhooks');
const jwt = require('jsonwebtoken');

// The HMAC key of a secret, as DESIGN.md says: the base64-decoded part of a
// whsec_ secret, else the secret's bytes.
function keyBytes(secret) {
  if (secret.startsWith('whsec_')) return Buffer.from(secret.slice(6), 'base64');
  return Buffer.from(secret, 'utf8');
}

// Checks one request; returns the JWT claims and the parsed body, throws on any failure.
function verify({ secret, headers, body, body_b64, url, name }) {
  const raw = body_b64 !== undefined ? Buffer.from(body_b64, 'base64') : Buffer.from(body, 'utf8');
  const h = {};
  for (const k of Object.keys(headers)) h[k.toLowerCase()] = headers[k];

  // Standard Webhooks: webhook-id, webhook-timestamp (within 5 min), webhook-signature.
  const wh = secret.startsWith('whsec_')
    ? new Webhook(secret)
    : new Webhook(keyBytes(secret), { format: 'raw' });
  const payload = wh.verify(raw, h);

  // The "OAuth" bearer token.
  const auth = h['authorization'] || '';
  const m = /^Bearer ([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)$/.exec(auth);
  if (!m) throw new Error('authorization is not "Bearer <JWT>": ' + JSON.stringify(auth));
  const claims = jwt.verify(m[1], keyBytes(secret), {
    algorithms: ['HS256'],
    audience: url,
    issuer: 'hookd',
    subject: name,
  });
  const header = JSON.parse(Buffer.from(m[1].split('.')[0], 'base64url').toString());
  if (header.alg !== 'HS256') throw new Error('JWT alg ' + header.alg);
  const sha = crypto.createHash('sha256').update(raw).digest('base64url');
  if (claims.body_sha256 !== sha) {
    throw new Error(`body_sha256 ${claims.body_sha256} is not base64url(sha256(body)) ${sha}`);
  }
  if (claims.jti !== h['webhook-id']) {
    throw new Error(`jti ${claims.jti} is not webhook-id ${h['webhook-id']}`);
  }
  if (!Number.isInteger(claims.iat) || claims.exp !== claims.iat + 300) {
    throw new Error(`exp ${claims.exp} is not iat ${claims.iat} + 300`);
  }
  return { claims, payload };
}

module.exports = { verify, keyBytes };

if (require.main === module) {
  const chunks = [];
  process.stdin.on('data', (c) => chunks.push(c));
  process.stdin.on('end', () => {
    try {
      const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const { claims, payload } = verify(input);
      process.stdout.write(JSON.stringify({ ok: true, claims, payload }) + '\n');
    } catch (e) {
      process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.message || e) }) + '\n');
      process.exitCode = 1;
    }
  });
}
