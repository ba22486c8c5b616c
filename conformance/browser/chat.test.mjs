// A real browser against the chat example, served on the runtime SOCKIO_RUNTIME names: headless
// Debian Chromium driven by playwright-core opens the page twice; the two pages join a room and
// talk through the UI; the DOM of both is checked, and screenshots go to conformance/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { root, runtime, within } from '../node/helpers.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.join(root, 'conformance', 'artifacts');
const chatBin = process.env.CHAT_BIN || path.join(root, 'target/debug/examples/chat');

let chat;
let url;
let context;
let profile;

before(async () => {
  chat = spawn(chatBin, ['--runtime', runtime], { cwd: root, env: { ...process.env, CHAT_ADDR: '127.0.0.1:0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  url = await within(new Promise((resolve, reject) => {
    chat.once('exit', (code) => reject(new Error(`chat exited with ${code}: ${out}`)));
    chat.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/chat on (http:\/\/127\.0\.0\.1:\d+)\/ \(runtime: (\S+),/);
      if (m && m[2] !== runtime) reject(new Error(`the chat example runs on ${m[2]}, not ${runtime}`));
      if (m) resolve(m[1]);
    });
  }), 20000, 'the chat example to listen');
  chat.removeAllListeners('exit');
  profile = mkdtempSync(path.join(tmpdir(), 'sockio-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
      // Two pages side by side: the one in the background must not be throttled.
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
    ],
    timeout: 30000,
  });
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await context?.close();
  if (chat && chat.exitCode === null) {
    const exited = new Promise((r) => chat.once('exit', r));
    process.kill(chat.pid, 'SIGINT');
    await exited;
  }
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function openChat(name) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(url + '/');
  await page.waitForFunction(() => /connected as \S+ \(websocket\)/.test(document.getElementById('status').textContent), null, { timeout: 10000 });
  return { page, errors, name };
}

const logOf = (page) => page.$$eval('#log li', (items) => items.map((li) => li.textContent));

async function waitForLine(page, text) {
  await page.waitForFunction(
    (t) => [...document.querySelectorAll('#log li')].some((li) => li.textContent === t),
    text,
    { timeout: 10000 },
  ).catch(async (e) => { throw new Error(`no log line ${JSON.stringify(text)} in ${JSON.stringify(await logOf(page))}: ${e.message}`); });
}

async function join({ page, name }, room) {
  await page.bringToFront();
  await page.fill('#name', name);
  await page.fill('#room', room);
  await page.click('#join button');
}

async function say({ page }, text) {
  await page.bringToFront();
  await page.fill('#text', text);
  await page.click('#send button');
}

test("two browser pages chat through the chat example's UI", async () => {
  const alice = await openChat('alice');
  const bob = await openChat('bob');
  for (const p of [alice, bob]) {
    await waitForLine(p.page, 'welcome! pick a name and a room');
    assert.match(await p.page.textContent('#status'), /^connected as [A-Za-z0-9_-]{20} \(websocket\)$/);
  }

  await join(alice, 'garden');
  await waitForLine(alice.page, 'alice joined garden');
  await waitForLine(alice.page, 'joined garden (1 here)');
  await join(bob, 'garden');
  await waitForLine(bob.page, 'joined garden (2 here)');
  await waitForLine(alice.page, 'bob joined garden');

  await say(alice, 'hello from alice');
  await say(bob, 'hi alice, ünïcødé ✓');
  for (const p of [alice, bob]) {
    await waitForLine(p.page, 'alice: hello from alice');
    await waitForLine(p.page, 'bob: hi alice, ünïcødé ✓');
  }
  assert.equal(await alice.page.inputValue('#text'), '', 'the input is cleared after sending');

  // Order is the same on both pages.
  const chatLines = async (p) => (await logOf(p.page)).filter((l) => /^(alice|bob): /.test(l));
  assert.deepEqual(await chatLines(alice), ['alice: hello from alice', 'bob: hi alice, ünïcødé ✓']);
  assert.deepEqual(await chatLines(bob), await chatLines(alice));

  await alice.page.screenshot({ path: path.join(ARTIFACTS, `chat-${runtime}-alice.png`), fullPage: true });
  await bob.page.screenshot({ path: path.join(ARTIFACTS, `chat-${runtime}-bob.png`), fullPage: true });

  // Bob closes his tab: alice is told.
  await bob.page.close();
  await alice.page.waitForFunction(
    () => [...document.querySelectorAll('#log li')].some((li) => /^bob left \(.+\)$/.test(li.textContent)),
    null,
    { timeout: 10000 },
  );
  assert.deepEqual(alice.errors, [], 'no script errors on the page');
  assert.deepEqual(bob.errors, []);
});
