// browser.test.js -- the admin page's whole story in a real browser (Debian's chromium driven by
// puppeteer-core): log in with `hookctl ui`'s link, create webhooks for both applications, list,
// view details, edit (Application read-only), deactivate, delete, see a failing delivery on the
// details page and redeliver it, see hookd's error next to the field it names, use the row menu
// from the keyboard. With SCREENSHOT_DIR set, each page is saved there as PNG (docs/screenshots).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const puppeteer = require('puppeteer-core');
const { startHookd } = require('./hookd');

const HOOKCTL_BIN = process.env.HOOKCTL_BIN || 'build/client/hookctl';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.SCREENSHOT_DIR;

let hookd, browser, page, receiver, rxPort, loginUrl;
const hits = [];

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function shot(name) {
  if (SHOTS) await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

// The element whose accessible name is `name` (role optional), as a person or screen reader finds it.
const aria = (name, role) => (role ? `::-p-aria([name="${name}"][role="${role}"])` : `::-p-aria(${name})`);

async function fill(label, value) {
  const el = await page.waitForSelector(aria(label));
  await el.click({ count: 3 });
  await page.keyboard.press('Backspace');
  await el.type(value);
}

async function textOf(selector) {
  return page.$eval(selector, (el) => el.textContent);
}

// Nothing the page shows may be a JavaScript value that leaked into the text.
async function noLeaks() {
  const leaked = await page.evaluate(() => {
    const walk = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
    const bad = [];
    for (let n = walk.nextNode(); n; n = walk.nextNode())
      if (/^(null|undefined|NaN)$|\[object /.test(n.nodeValue.trim())) bad.push(n.nodeValue);
    return bad;
  });
  assert.deepEqual(leaked, [], 'page text shows a leaked value');
}

async function rowOf(name) {
  await page.waitForFunction((n) => [...document.querySelectorAll('table.webhooks tbody th')]
    .some((th) => th.textContent === n), {}, name);
  return page.evaluate((n) => {
    const tr = [...document.querySelectorAll('table.webhooks tbody tr')]
      .find((r) => r.querySelector('th')?.textContent === n);
    return [...tr.children].map((c) => c.textContent.trim());
  }, name);
}

async function menu(name, item) {
  await page.click(aria(`Actions for ${name}`, 'button'));
  await page.click(aria(item, 'menuitem'));
}

before(async () => {
  receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits.push(req.url);
      res.writeHead(req.url.startsWith('/fail') ? 500 : 204).end(req.url.startsWith('/fail') ? 'receiver is down' : '');
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  rxPort = receiver.address().port;
  const webPort = await freePort();
  hookd = await startHookd(`http_listen = 127.0.0.1:${webPort}\nretry_schedule = 0,3600\n`);
  loginUrl = execFileSync(HOOKCTL_BIN, ['ui', '--socket', hookd.socket]).toString();
  assert.match(loginUrl, new RegExp(`^http://127\\.0\\.0\\.1:${webPort}/login\\?token=[A-Za-z0-9_-]+\\n$`));
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-sync',
      '--disable-background-networking', '--disable-component-update'] });
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  page.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
});

after(async () => {
  if (browser) await browser.close();
  if (receiver) receiver.close();
  if (hookd) await hookd.stop();
});

test('the admin page, as the spec tells it', async () => {
  // Log in with the one-time link: a session cookie, then the webhook list.
  await page.goto(loginUrl.trim());
  await page.waitForSelector(aria('Webhooks', 'heading'));
  const cookies = await page.cookies();
  const session = cookies.find((c) => c.httpOnly);
  assert.ok(session, 'an HttpOnly session cookie');
  assert.equal(session.sameSite, 'Strict');
  assert.match(await textOf('table.webhooks tbody'), /No webhooks match/);
  await shot('list-empty');

  // Create Webhook (Enterprise), the spec's fields and defaults.
  await page.click(aria('Create Webhook'));
  await page.waitForSelector(aria('Create Webhook', 'heading'));
  assert.equal(await page.$eval(aria('Timeout'), (el) => el.value), '15');
  const secret = await page.$eval(aria('Secret Key'), (el) => el.value);
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(await page.$eval(aria('Authentication Method'), (el) => el.value), 'OAuth');
  assert.equal(await page.$eval(aria('Active'), (el) => el.checked), true);
  assert.equal(await page.$eval(aria('Set as Asynchronous'), (el) => el.checked), false);
  await page.select(aria('Application'), 'APPLICATION_ENTERPRISE');
  const options = await page.$$eval(`${aria('Trigger Action')} option`, (os) => os.map((o) => [o.value, o.textContent]));
  const account = options.find(([v]) => v === 'AccountUpdated');
  assert.ok(account && account[1] !== 'AccountUpdated', 'trigger actions by display name');
  await page.select(aria('Trigger Action'), 'AccountUpdated');
  await fill('Webhook Name', 'CRM sync');
  // hookd's error shows next to the field it names.
  await fill('Web Service URL', 'ftp://crm.example.com/hooks');
  await shot('create');
  await page.click(aria('Save', 'button'));
  await page.waitForFunction(() => document.querySelector('#url-error')?.textContent.startsWith('url: '));
  assert.equal(await page.$eval(aria('Web Service URL'), (el) => el.getAttribute('aria-invalid')), 'true');
  await shot('create-error');
  await fill('Web Service URL', `http://127.0.0.1:${rxPort}/crm`);
  await page.click(aria('Set as Asynchronous'));
  await page.click(aria('Save', 'button'));
  await page.waitForSelector(aria('CRM sync', 'heading'));
  assert.match(await textOf('dl.details'), /Enterprise/);
  await noLeaks();
  assert.match(await textOf('dl.details'), /15 seconds/);

  // Create for Elite: the application comes from the product the admin came from.
  await page.goto(new URL('/ui/?application=elite#/create', loginUrl).href);
  await page.waitForSelector(aria('Create Webhook', 'heading'));
  assert.equal(await page.$eval(aria('Application'), (el) => el.value), 'APPLICATION_ELITE');
  const eliteAction = await page.$$eval(`${aria('Trigger Action')} option`, (os) => os[1].value);
  await page.select(aria('Trigger Action'), eliteAction);
  await fill('Webhook Name', 'Elite bookings');
  await fill('Web Service URL', `http://127.0.0.1:${rxPort}/elite`);
  await page.click(aria('Save', 'button'));
  await page.waitForSelector(aria('Elite bookings', 'heading'));

  // A third, failing, receiver for the delivery story.
  await page.goto(new URL('/ui/#/create', loginUrl).href);
  await page.waitForSelector(aria('Create Webhook', 'heading'));
  await page.select(aria('Trigger Action'), 'AccountUpdated');
  await fill('Webhook Name', 'Broken receiver');
  await fill('Web Service URL', `http://127.0.0.1:${rxPort}/fail`);
  await page.click(aria('Set as Asynchronous'));
  await page.click(aria('Save', 'button'));
  await page.waitForSelector(aria('Broken receiver', 'heading'));

  // The list: Name, Trigger Action (display name), Endpoint, Status, Application.
  await page.goto(new URL('/ui/#/', loginUrl).href);
  const crm = await rowOf('CRM sync');
  assert.deepEqual(crm.slice(0, 5), ['CRM sync', account[1], `http://127.0.0.1:${rxPort}/crm`, 'Active', 'Enterprise']);
  assert.equal((await rowOf('Elite bookings'))[4], 'Elite');
  await noLeaks();
  await shot('list');

  // Filter by application.
  await page.select(aria('Application'), 'APPLICATION_ELITE');
  await page.click(aria('Filter', 'button'));
  await page.waitForFunction(() => document.querySelectorAll('table.webhooks tbody tr').length === 1);
  assert.equal((await rowOf('Elite bookings'))[0], 'Elite bookings');
  await page.goto(new URL('/ui/#/', loginUrl).href);

  // View Details Page from the row's menu, with the keyboard: Enter opens, arrows move, Enter picks.
  await rowOf('CRM sync');
  await page.focus(aria('Actions for CRM sync', 'button'));
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'View Details Page');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Edit Webhook');
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('Enter');
  await page.waitForSelector(aria('CRM sync', 'heading'));
  await page.click(aria('Reveal', 'button'));
  await page.waitForFunction(() => document.querySelector('#secret-value').textContent.length > 20);
  assert.equal(await textOf('#secret-value'), secret, 'the secret the form generated');

  // Edit Webhook: Application and Authentication Method read-only; uncheck Active = deactivate.
  await page.goto(new URL('/ui/#/', loginUrl).href);
  await rowOf('CRM sync');
  await menu('CRM sync', 'Edit Webhook');
  await page.waitForSelector(aria('Edit Webhook', 'heading'));
  assert.equal(await page.$eval(aria('Application'), (el) => el.readOnly), true);
  assert.equal(await page.$eval(aria('Authentication Method'), (el) => el.readOnly), true);
  await shot('edit');
  await fill('Timeout', '30');
  await page.click(aria('Active'));
  await page.click(aria('Save', 'button'));
  await page.waitForSelector(aria('CRM sync', 'heading'));
  assert.match(await textOf('dl.details'), /30 seconds/);
  await page.goto(new URL('/ui/#/', loginUrl).href);
  assert.equal((await rowOf('CRM sync'))[3], 'Inactive');

  // A failing delivery shows on the details page, with the receiver's answer, and is redelivered.
  await hookd.call('TriggerEvent', { application: 'APPLICATION_ENTERPRISE', trigger_action: 'AccountUpdated',
    payload: Buffer.from('{"account":42}'), event_id: 'browser-1' });
  // The receiver answering is not the attempt recorded: wait for hookd to have stored its result.
  const attempted = async () => {
    const { deliveries } = await hookd.call('ListDeliveries', { webhook_name: 'Broken receiver' });
    return deliveries.some((d) => d.attempt_count > 0);
  };
  for (let i = 0; i < 200 && !(await attempted()); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(hits.includes('/fail'), 'the failing receiver was called');
  await rowOf('Broken receiver');
  await menu('Broken receiver', 'View Details Page');
  await page.waitForSelector(aria('Broken receiver', 'heading'));
  await page.waitForSelector('table.deliveries tbody tr[data-delivery]');
  const row = await page.$eval('table.deliveries tbody tr[data-delivery]', (tr) => [...tr.children].map((c) => c.textContent));
  assert.equal(row[1], 'browser-1');
  assert.equal(row[4], '500');
  await page.click('table.deliveries summary');
  assert.match(await textOf('table.attempts'), /receiver is down/);
  assert.match(await textOf('table.attempts'), /HTTP error/);
  await noLeaks();
  await shot('details');
  const before = hits.filter((h) => h === '/fail').length;
  await page.click(aria('Redeliver', 'button'));
  await page.waitForFunction(() => /Queued delivery \d+/.test(document.querySelector('.redeliver-status')?.textContent || ''));
  for (let i = 0; i < 200 && hits.filter((h) => h === '/fail').length === before; i++) {
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(hits.filter((h) => h === '/fail').length > before, 'the redelivery reached the receiver');

  // Delete Webhook: no confirmation step.
  await page.goto(new URL('/ui/#/', loginUrl).href);
  await rowOf('Elite bookings');
  await menu('Elite bookings', 'Delete Webhook');
  await page.waitForFunction(() => /Deleted webhook Elite bookings/.test(document.querySelector('.notice')?.textContent || ''));
  const names = await page.$$eval('table.webhooks tbody th', (ths) => ths.map((t) => t.textContent));
  assert.deepEqual(names.sort(), ['Broken receiver', 'CRM sync']);

  // At phone width the list still reads.
  await page.setViewport({ width: 390, height: 844 });
  await shot('list-phone');
});

test('without a session the page says how to log in', async () => {
  const fresh = await browser.createBrowserContext();
  const p = await fresh.newPage();
  const res = await p.goto(new URL('/ui/', loginUrl).href);
  assert.equal(res.status(), 401);
  assert.match(await p.evaluate(() => document.body.textContent), /hookctl ui/);
  // The used login link does not work twice.
  const again = await p.goto(loginUrl.trim());
  assert.equal(again.status(), 401);
  await fresh.close();
});
