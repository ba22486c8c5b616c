// The official socket.io-client against the chat example, over real sockets on 127.0.0.1.
// Run by .ci/run: `node --test examples/chat/` after `npm ci --prefix examples/chat` and
// `cargo build --example chat`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { io } from 'socket.io-client';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = process.env.CHAT_BIN || path.join(root, 'target/debug/examples/chat');
let server;
let url;

before(async () => {
  server = spawn(bin, [], { cwd: root, env: { ...process.env, CHAT_ADDR: '127.0.0.1:0' } });
  let out = '';
  const deadline = setTimeout(() => server.kill(), 20000);
  for await (const chunk of server.stdout) {
    out += chunk;
    const m = out.match(/chat on (http:\/\/[0-9.:]+)\//);
    if (m) { url = m[1]; break; }
  }
  clearTimeout(deadline);
  assert.ok(url, 'the chat server printed its address: ' + out);
});

after(async () => {
  server.kill('SIGINT');
  await once(server, 'exit');
});

const connect = (opts) => {
  const s = io(url, { reconnection: false, timeout: 5000, ...opts });
  return s;
};

const withTimeout = (p, ms = 5000, what = 'event') =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error('timed out waiting for ' + what)), ms))]);

test('the page and the client library are served', async () => {
  const page = await fetch(url + '/');
  assert.equal(page.status, 200);
  assert.match(await page.text(), /sockio chat/);
  const js = await fetch(url + '/socket.io.min.js');
  assert.equal(js.status, 200);
});

test('polling, then upgrade to websocket', async () => {
  const s = connect({ transports: ['polling', 'websocket'] });
  // the handshake is done by polling; on loopback the upgrade may complete before 'connect'
  let first;
  const upgraded = new Promise((resolve) => {
    s.io.once('open', () => {
      first = s.io.engine.transport.name;
      s.io.engine.once('upgrade', resolve);
    });
  });
  // the welcome is emitted by the connect handler: it may arrive with the CONNECT itself
  const welcome = withTimeout(once(s, 'status'), 5000, 'welcome');
  await withTimeout(once(s, 'connect'), 5000, 'connect');
  const status = await welcome;
  assert.match(status[0], /welcome/);
  await withTimeout(upgraded, 5000, 'upgrade');
  assert.equal(first, 'polling');
  assert.equal(s.io.engine.transport.name, 'websocket');
  const members = await withTimeout(s.emitWithAck('join', { name: 'ada', room: 'up' }), 5000, 'ack');
  assert.equal(members, 1);
  s.disconnect();
});

test('websocket only', async () => {
  const s = connect({ transports: ['websocket'] });
  await withTimeout(once(s, 'connect'), 5000, 'connect');
  assert.equal(s.io.engine.transport.name, 'websocket');
  const members = await withTimeout(s.emitWithAck('join', { name: 'bob', room: 'ws' }), 5000, 'ack');
  assert.equal(members, 1);
  s.disconnect();
});

test('two clients in a room chat; a third in another room hears nothing', async () => {
  const a = connect({ transports: ['websocket'] });
  const b = connect({ transports: ['polling'] });
  const c = connect({});
  await Promise.all([a, b, c].map((s) => withTimeout(once(s, 'connect'))));
  await a.emitWithAck('join', { name: 'a', room: 'lobby' });
  await b.emitWithAck('join', { name: 'b', room: 'lobby' });
  await c.emitWithAck('join', { name: 'c', room: 'elsewhere' });
  let cHeard = 0;
  c.on('chat', () => cHeard++);
  const got = withTimeout(once(b, 'chat'), 5000, 'chat');
  a.emit('chat', 'hello b');
  const [msg] = await got;
  assert.deepEqual(msg, { name: 'a', text: 'hello b' });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(cHeard, 0);
  for (const s of [a, b, c]) s.disconnect();
});

test('server-side disconnect reason reaches the client', async () => {
  const a = connect({ transports: ['websocket'] });
  await withTimeout(once(a, 'connect'));
  const left = withTimeout(once(a, 'disconnect'));
  a.disconnect();
  const [reason] = await left;
  assert.equal(reason, 'io client disconnect');
});
