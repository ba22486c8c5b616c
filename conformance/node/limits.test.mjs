// What the server does to misbehaving peers, and that others do not notice: a client that
// stops answering pings is closed within pingInterval + pingTimeout (plus slack), and a
// payload over maxPayload closes that session, over polling and over WebSocket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'engine.io-client';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { startServer, next, within, sleep, PING_INTERVAL, PING_TIMEOUT, MAX_PAYLOAD } from './helpers.mjs';

let server;
const open = [];

before(async () => { server = await startServer(); });
after(async () => {
  for (const s of open) s.close?.() ?? s.disconnect?.();
  await server.stop();
});

const path = '/socket.io/';
// How late the close may come: one interval, one timeout, and scheduling slack.
const DEADLINE = PING_INTERVAL + PING_TIMEOUT + 700;

/** A well-behaved Socket.IO client that must not notice anything. */
async function bystander() {
  const s = io(server.url, { forceNew: true, reconnection: false, transports: ['websocket'] });
  open.push(s);
  await next(s, 'auth');
  let disconnected = null;
  s.on('disconnect', (r) => { disconnected = r; });
  return {
    socket: s,
    async check() {
      assert.equal(disconnected, null, 'the bystander stayed connected');
      assert.equal(await s.timeout(3000).emitWithAck('message-with-ack', 'ok'), 'ok');
    },
  };
}

/** A raw WebSocket on the engine path: resolves once the open packet arrived. */
async function rawWebSocket() {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}${path}?EIO=4&transport=websocket`);
  open.push(ws);
  const frames = [];
  ws.on('message', (data, isBinary) => frames.push(isBinary ? data : data.toString()));
  const closed = new Promise((resolve) => ws.once('close', (code) => resolve({ code, at: Date.now() })));
  await within(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }), 5000, 'websocket open');
  while (frames.length === 0) await sleep(5);
  assert.equal(frames[0][0], '0', 'open packet first');
  return { ws, frames, closed };
}

test('heartbeat: a raw WebSocket that never answers pings is closed in time', async () => {
  const other = await bystander();
  const { ws, frames, closed } = await rawWebSocket();
  ws.send('40'); // connect to "/" so that only the heartbeat can close it
  const start = Date.now();
  const { at } = await within(closed, 5000, 'the server closing the socket');
  const elapsed = at - start;
  assert.ok(frames.includes('2'), `the server pinged (frames: ${frames.slice(0, 5)})`);
  assert.ok(elapsed >= PING_INTERVAL + PING_TIMEOUT - 50, `closed after ${elapsed} ms, not before the pong was due`);
  assert.ok(elapsed <= DEADLINE, `closed after ${elapsed} ms (deadline ${DEADLINE} ms)`);
  await other.check();
});

for (const transports of [['polling'], ['websocket']]) {
  test(`heartbeat: engine.io-client with pongs suppressed over ${transports[0]} is closed in time`, async () => {
    const other = await bystander();
    const s = new Socket(server.url, { path, transports });
    open.push(s);
    await next(s, 'open');
    s.send('0'); // a Socket.IO CONNECT to "/", so that only the heartbeat can close it
    await sleep(50);
    const send = s._sendPacket.bind(s);
    let dropped = 0;
    s._sendPacket = (type, ...rest) => (type === 'pong' ? void dropped++ : send(type, ...rest));
    const start = Date.now();
    const [reason] = await next(s, 'close', 5000);
    const elapsed = Date.now() - start;
    assert.ok(dropped >= 1, 'a ping came and its pong was dropped');
    assert.equal(reason, 'transport close', 'the server closed it');
    assert.ok(elapsed <= DEADLINE, `closed after ${elapsed} ms (deadline ${DEADLINE} ms)`);
    await other.check();
  });
}

test('maxPayload: a polling POST over the limit is refused and its session closed', async () => {
  const other = await bystander();
  const hs = await (await fetch(`${server.url}${path}?EIO=4&transport=polling`)).text();
  const { sid } = JSON.parse(hs.slice(1));
  const url = `${server.url}${path}?EIO=4&transport=polling&sid=${sid}`;
  const ok = await fetch(url, { method: 'POST', body: '40' });
  assert.equal(ok.status, 200, 'a small POST is fine');
  await (await fetch(url)).text(); // the CONNECT answer
  const big = await fetch(url, { method: 'POST', body: '4' + 'a'.repeat(MAX_PAYLOAD + 10) });
  await big.arrayBuffer().catch(() => {});
  assert.ok(big.status === 413 || big.status === 400, `refused with ${big.status}`);
  // The session is gone: a GET gets the close packet or an unknown-session error.
  const after = await fetch(url);
  const body = await after.text();
  assert.ok(
    (after.status === 200 && body.split('\x1e').includes('1')) || (after.status === 400 && JSON.parse(body).code === 1),
    `the session is closed (status ${after.status}, body ${body.slice(0, 80)})`,
  );
  await other.check();
});

test('maxPayload: a polling POST far over the limit closes its session too', async () => {
  const other = await bystander();
  const hs = await (await fetch(`${server.url}${path}?EIO=4&transport=polling`)).text();
  const { sid } = JSON.parse(hs.slice(1));
  const url = `${server.url}${path}?EIO=4&transport=polling&sid=${sid}`;
  await fetch(url, { method: 'POST', body: '40' });
  await (await fetch(url)).text();
  const big = await fetch(url, { method: 'POST', body: '4' + 'a'.repeat(3 * MAX_PAYLOAD) }).catch((e) => e);
  if (!(big instanceof Error)) {
    await big.arrayBuffer().catch(() => {});
    assert.ok(big.status === 413 || big.status === 400, `refused with ${big.status}`);
  }
  const after = await fetch(url);
  const body = await after.text();
  assert.ok(
    (after.status === 200 && body.split('\x1e').includes('1')) || (after.status === 400 && JSON.parse(body).code === 1),
    `the session is closed (status ${after.status}, body ${body.slice(0, 80)})`,
  );
  await other.check();
});

test('maxPayload: a WebSocket message over the limit closes that connection', async () => {
  const other = await bystander();
  const { ws, closed } = await rawWebSocket();
  ws.send('40');
  ws.send('4' + 'a'.repeat(MAX_PAYLOAD + 10));
  const start = Date.now();
  await within(closed, 3000, 'the server closing the socket');
  assert.ok(Date.now() - start < PING_INTERVAL + PING_TIMEOUT, 'closed for the size, not by the heartbeat');
  await other.check();
});

test('maxPayload: a message just under the limit is accepted', async () => {
  const s = io(server.url, { forceNew: true, reconnection: false, transports: ['websocket'] });
  open.push(s);
  await next(s, 'auth');
  const text = 'b'.repeat(MAX_PAYLOAD - 100);
  const back = await s.timeout(5000).emitWithAck('message-with-ack', text);
  assert.equal(back.length, text.length);
  s.disconnect();
});
