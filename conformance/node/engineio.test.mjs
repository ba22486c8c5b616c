// The official engine.io-client (and raw HTTP and WebSockets) against the server's plain
// Engine.IO mode: handshake values, error codes, CORS, echo of text and binary over each
// transport, the upgrade with nothing lost or duplicated, and extra WebSockets for a session
// that is upgrading or upgraded (accepted, then closed at once, as node's engine.io does).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'engine.io-client';
import WebSocket from 'ws';
import { startServer, next, within, until, sleep, bytes, PING_INTERVAL, PING_TIMEOUT, MAX_PAYLOAD } from './helpers.mjs';

let server;
const open = [];

before(async () => { server = await startServer({ engineio: true }); });
after(async () => {
  for (const s of open) s.close();
  await server.stop();
});

const path = '/socket.io/';

function eio(opts) {
  const s = new Socket(server.url, { path, ...opts });
  open.push(s);
  return s;
}

/** Collects `n` messages from `socket`. */
function messages(socket, n, ms = 5000) {
  const got = [];
  return within(new Promise((resolve) => {
    socket.on('message', (m) => { got.push(m); if (got.length === n) resolve(got); });
  }), ms, `${n} messages (got ${got.length})`);
}

test('handshake over polling: open packet with the contract values', async () => {
  const r = await fetch(`${server.url}${path}?EIO=4&transport=polling`);
  assert.equal(r.status, 200);
  const body = await r.text();
  assert.equal(body[0], '0', 'an open packet');
  const open = JSON.parse(body.slice(1));
  assert.match(open.sid, /^[A-Za-z0-9_-]{20}$/);
  assert.deepEqual(open.upgrades, ['websocket']);
  assert.equal(open.pingInterval, PING_INTERVAL);
  assert.equal(open.pingTimeout, PING_TIMEOUT);
  assert.equal(open.maxPayload, MAX_PAYLOAD);
});

test('handshake through engine.io-client: the same values, no upgrade offered over websocket', async () => {
  const s = eio({ transports: ['websocket'] });
  const [data] = await next(s, 'handshake');
  assert.equal(data.pingInterval, PING_INTERVAL);
  assert.equal(data.pingTimeout, PING_TIMEOUT);
  assert.equal(data.maxPayload, MAX_PAYLOAD);
  assert.deepEqual(data.upgrades, []);
  assert.equal(s.id, data.sid);
  s.close();
});

test('error codes: unknown transport 0, unknown sid 1, bad handshake method 2, bad request 3, version 5', async () => {
  const get = async (q, init) => {
    const r = await fetch(`${server.url}${path}?${q}`, init);
    return [r.status, await r.json()];
  };
  assert.deepEqual(await get('EIO=4&transport=pigeon'), [400, { code: 0, message: 'Transport unknown' }]);
  assert.deepEqual(await get('EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA'), [400, { code: 1, message: 'Session ID unknown' }]);
  assert.deepEqual(await get('EIO=4&transport=polling', { method: 'POST', body: '4x' }), [400, { code: 2, message: 'Bad handshake method' }]);
  assert.deepEqual((await get('EIO=4&transport=websocket'))[1].code, 3, 'a websocket handshake without upgrade');
  assert.deepEqual(await get('EIO=3&transport=polling'), [400, { code: 5, message: 'Unsupported protocol version' }]);
});

test('CORS "*": any origin is allowed and echoed, preflight answered', async () => {
  const origin = 'http://example.test:1234';
  const r = await fetch(`${server.url}${path}?EIO=4&transport=polling`, { headers: { Origin: origin } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('access-control-allow-origin'), origin);
  assert.equal(r.headers.get('access-control-allow-credentials'), 'true');
  const pre = await fetch(`${server.url}${path}?EIO=4&transport=polling`, {
    method: 'OPTIONS',
    headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), origin);
  assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
});

const SAMPLES = [
  'hello',
  'utf-8: été ✓ 😀',
  '',
  'x'.repeat(100000),
  Buffer.from([0, 1, 2, 253, 254, 255]),
  Buffer.alloc(50000, 7),
];

const same = (got, sent) => {
  assert.equal(got.length, sent.length);
  sent.forEach((m, i) => {
    // engine.io-client hands an empty message ("4") over as undefined.
    if (m === '') assert.ok(got[i] === '' || got[i] === undefined, `message ${i}: ${got[i]}`);
    else if (typeof m === 'string') assert.equal(got[i], m, `message ${i}`);
    else assert.deepEqual(bytes(got[i]), m, `binary message ${i}`);
  });
};

for (const [setup, transports] of [['polling-only', ['polling']], ['websocket-only', ['websocket']]]) {
  test(`${setup}: text and binary messages echo back in order`, async () => {
    const s = eio({ transports });
    await next(s, 'open');
    assert.equal(s.transport.name, transports[0]);
    const got = messages(s, SAMPLES.length);
    for (const m of SAMPLES) s.send(m);
    same(await got, SAMPLES);
    s.close();
  });
}

test('polling-then-upgrade: the upgrade completes and messages around it are neither lost nor duplicated', async () => {
  const s = eio({ transports: ['polling', 'websocket'] });
  await next(s, 'open');
  assert.equal(s.transport.name, 'polling');
  const upgraded = next(s, 'upgrade', 5000);
  const burst = Array.from({ length: 60 }, (_, i) => (i % 3 === 2 ? Buffer.from([i]) : `m${i}`));
  const got = messages(s, burst.length + 2);
  // Sent while polling, while the probe runs, and after the switch.
  for (const m of burst.slice(0, 20)) s.send(m);
  await sleep(1);
  for (const m of burst.slice(20, 40)) s.send(m);
  await upgraded;
  assert.equal(s.transport.name, 'websocket');
  for (const m of burst.slice(40)) s.send(m);
  s.send('last-text');
  s.send(Buffer.from('last-binary'));
  same(await got, [...burst, 'last-text', Buffer.from('last-binary')]);
  s.close();
});

test('heartbeat: a client that answers pings stays open past several intervals', async () => {
  const s = eio({ transports: ['websocket'] });
  await next(s, 'open');
  let pings = 0;
  s.on('ping', () => pings++);
  let closed = null;
  s.on('close', (reason) => { closed = reason; });
  await sleep(PING_INTERVAL * 4 + 100);
  assert.ok(pings >= 3, `pinged ${pings} times`);
  assert.equal(closed, null);
  s.send('alive');
  assert.equal((await next(s, 'message'))[0], 'alive');
  s.close();
});

/**
 * Opens a raw WebSocket on the engine path for `sid`. Resolves with what happened: the status
 * of the handshake answer (101, or the refusal's), the messages received, and the close code
 * once the server closed it (`null` while open after `ms`).
 */
function extraWebSocket(sid, ms = 2000) {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}${path}?EIO=4&transport=websocket&sid=${sid}`);
  const seen = { status: null, messages: [], closed: null };
  ws.on('upgrade', (res) => { seen.status = res.statusCode; });
  ws.on('unexpected-response', (_, res) => { seen.status = res.statusCode; res.resume(); ws.terminate(); });
  ws.on('message', (m) => seen.messages.push(m.toString()));
  ws.on('error', () => {});
  return within(new Promise((resolve) => {
    ws.on('close', (code) => { seen.closed = code; resolve(seen); });
  }), ms, `the server to close the extra WebSocket for ${sid}`);
}

test('an extra WebSocket for an upgraded session: 101, closed at once, the first keeps working', async () => {
  const s = eio({ transports: ['polling', 'websocket'] });
  await next(s, 'open');
  await next(s, 'upgrade', 5000);
  assert.equal(s.transport.name, 'websocket');
  let closed = null;
  s.on('close', (reason) => { closed = reason; });
  for (let i = 0; i < 3; i++) {
    const extra = await extraWebSocket(s.id);
    assert.equal(extra.status, 101, 'accepted');
    assert.deepEqual(extra.messages, [], 'closed before any message');
    const echoed = next(s, 'message');
    s.send(`still-${i}`);
    assert.equal((await echoed)[0], `still-${i}`);
  }
  assert.equal(closed, null);
  s.close();
});

test('an extra WebSocket while upgrading (before and after the probe): 101, closed at once; the upgrade completes', async () => {
  const r = await fetch(`${server.url}${path}?EIO=4&transport=polling`);
  const sid = JSON.parse((await r.text()).slice(1)).sid;
  const first = new WebSocket(`${server.url.replace('http', 'ws')}${path}?EIO=4&transport=websocket&sid=${sid}`);
  const got = [];
  first.on('message', (m) => got.push(m.toString()));
  await next(first, 'open');
  let extra = await extraWebSocket(sid);
  assert.deepEqual([extra.status, extra.messages], [101, []], 'before the probe');
  first.send('2probe');
  await until(() => got.includes('3probe'), 2000, '3probe');
  extra = await extraWebSocket(sid);
  assert.deepEqual([extra.status, extra.messages], [101, []], 'after the probe');
  first.send('5');
  first.send('4upgraded');
  await until(() => got.includes('4upgraded'), 2000, 'the echo over the first WebSocket');
  first.close();
});

test('a WebSocket for an unknown sid is refused with 400 before the handshake', async () => {
  const extra = await extraWebSocket('AAAAAAAAAAAAAAAAAAAA');
  assert.equal(extra.status, 400);
});
