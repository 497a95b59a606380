// page.js -- the admin page's load time in Chromium with 1,000 webhooks configured: from
// navigation to the list table rendered (first page), cold and warm, and the details page.
// usage: node bench/page.js [BUILD_DIR]   (needs tests/e2e/node's npm packages and chromium)
'use strict';

const path = require('node:path');
const { execFileSync } = require('node:child_process');
const net = require('node:net');
const nodeDir = path.join(__dirname, '..', 'tests', 'e2e', 'node');
const puppeteer = require(path.join(nodeDir, 'node_modules', 'puppeteer-core'));
const build = path.resolve(process.argv[2] || 'build');
process.env.HOOKD_BIN = path.join(build, 'hookd');
const { startHookd } = require(path.join(nodeDir, 'hookd'));

const N = 1000;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

(async () => {
  const port = await freePort();
  const hookd = await startHookd(`http_listen = 127.0.0.1:${port}\n`);
  for (let i = 0; i < N; i++) {
    await hookd.call('CreateWebhook', { name: `webhook ${String(i).padStart(4, '0')}`,
      application: i % 2 ? 'APPLICATION_ELITE' : 'APPLICATION_ENTERPRISE',
      trigger_action: 'BookingCreated', url: `https://receiver-${i}.example.com/hooks/${i}` });
  }
  const login = execFileSync(path.join(build, 'client', 'hookctl'), ['ui', '--socket', hookd.socket])
    .toString().trim();
  const browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-sync', '--disable-background-networking', '--disable-component-update'] });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  await page.goto(login);
  await page.waitForSelector('table.webhooks tbody tr[data-id]');
  const list = new URL('/ui/#/', login).href;
  const loads = [];
  for (let i = 0; i < 7; i++) {
    const t0 = Date.now();
    await page.goto('about:blank');
    await page.goto(list);
    await page.waitForSelector('table.webhooks tbody tr[data-id]');
    loads.push(Date.now() - t0);
  }
  const rows = await page.$$eval('table.webhooks tbody tr[data-id]', (r) => r.length);
  const paging = [];
  for (let i = 0; i < 5; i++) {
    const first = await page.$eval('table.webhooks tbody th', (th) => th.textContent);
    const t0 = Date.now();
    await page.click('::-p-aria(Next page)');
    await page.waitForFunction((f) => document.querySelector('table.webhooks tbody th')?.textContent !== f, {}, first);
    paging.push(Date.now() - t0);
  }
  const details = [];
  for (let i = 0; i < 5; i++) {
    const t0 = Date.now();
    await page.goto('about:blank');
    await page.goto(new URL(`/ui/#/webhooks/${500 + i}`, login).href);
    await page.waitForSelector('dl.details');
    await page.waitForFunction(() => /No deliveries yet|Attempts/.test(document.body.textContent));
    details.push(Date.now() - t0);
  }
  const m = await page.metrics();
  console.log(`admin page, ${N} webhooks configured, Chromium ${await browser.version()}`);
  console.log(`list page load (navigation to ${rows} rows rendered): first ${loads[0]} ms, median ${median(loads.slice(1))} ms of ${loads.length - 1} warm loads`);
  console.log(`next page (click to rows replaced): median ${median(paging)} ms of ${paging.length}`);
  console.log(`details page load (with its deliveries): median ${median(details)} ms of ${details.length}`);
  console.log(`page JS heap ${(m.JSHeapUsedSize / 1048576).toFixed(1)} MiB, DOM nodes ${m.Nodes}`);
  await browser.close();
  await hookd.stop();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
