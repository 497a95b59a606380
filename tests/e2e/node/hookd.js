// hookd.js -- starts the real hookd on a temporary socket for the Node end-to-end tests,
// and gives a @grpc/grpc-js client for it (the proto loaded from proto/ as any stock client would).
'use strict';

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

function waitForSocket(proc, socket, logPath, ms) {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (proc.exitCode !== null) {
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

// Starts hookd with the given config file text; resolves with
// { client, call(method, request, ms), stop() }. stop() sends SIGTERM and
// asserts hookd exited 0 (sanitizer reports make it non-zero).
async function startHookd(config = '') {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'hk-node-'));
  const socket = path.join(base, 'hookd.sock');
  const logPath = path.join(base, 'hookd.log');
  const configPath = path.join(base, 'hookd.conf');
  fs.writeFileSync(configPath, config);
  const log = fs.openSync(logPath, 'a');
  const proc = spawn(HOOKD_BIN, ['--socket', socket, '--data', path.join(base, 'data'),
    '--config', configPath], { stdio: ['ignore', log, log] });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  await waitForSocket(proc, socket, logPath, 15000);
  const Webhooks = loadService();
  const client = new Webhooks('unix://' + socket, grpc.credentials.createInsecure());

  // A unary call as a promise: the response, or the grpc error (err.code, err.details).
  const call = (method, request, ms = 10000) => new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + ms }, (err, resp) =>
      err ? reject(err) : resolve(resp));
  });

  const stop = async () => {
    client.close();
    if (proc.exitCode === null) {
      proc.kill('SIGTERM');
      const { code, signal } = await exited;
      assert.equal(signal, null, 'hookd was killed by ' + signal);
      assert.equal(code, 0, 'hookd exit code; log:\n' + fs.readFileSync(logPath, 'utf8'));
    }
    fs.rmSync(base, { recursive: true, force: true });
  };
  return { client, call, stop, socket };
}

module.exports = { startHookd };
