// Rooms and broadcast with several official socket.io-client clients on mixed transports.
// A client's acknowledged round trip is the barrier for "did not receive": anything emitted to
// it before would have arrived first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { startServer, next, collect, within, sleep } from './helpers.mjs';

let server;
const open = [];

before(async () => { server = await startServer(); });
after(async () => {
  for (const s of open) s.disconnect();
  await server.stop();
});

const SETUPS = [['polling'], ['websocket'], ['polling', 'websocket']];

async function clients(n, nsp = '') {
  const list = [];
  for (let i = 0; i < n; i++) {
    const s = io(server.url + nsp, { forceNew: true, reconnection: false, timeout: 5000, transports: SETUPS[i % SETUPS.length] });
    open.push(s);
    list.push(s);
  }
  await Promise.all(list.map((s) => next(s, 'auth')));
  return list;
}

const barrier = (s) => s.emitWithAck('message-with-ack', 'barrier');

async function waitCount(list, n, what) {
  await within((async () => { while (list.length < n) await sleep(5); })(), 5000, what);
}

test('join acks the rooms (own sid first), leave removes the room', async () => {
  const [a] = await clients(1);
  assert.deepEqual(await a.emitWithAck('join', 'lobby'), [a.id, 'lobby']);
  assert.deepEqual(await a.emitWithAck('join', 'games'), [a.id, 'lobby', 'games']);
  assert.deepEqual(await a.emitWithAck('leave', 'lobby'), [a.id, 'games']);
});

test('a room emit reaches the members, not the others; after leave, no more', async () => {
  const [a, b, c] = await clients(3);
  await a.emitWithAck('join', 'r1');
  await b.emitWithAck('join', 'r1');
  const got = [a, b, c].map((s) => collect(s, 'room-message'));
  await c.emitWithAck('to-room', 'r1', 'hi', { n: 1 });
  await waitCount(got[0], 1, 'a gets it');
  await waitCount(got[1], 1, 'b gets it');
  await barrier(c);
  assert.deepEqual(got[0], [['hi', { n: 1 }]]);
  assert.deepEqual(got[1], [['hi', { n: 1 }]]);
  assert.deepEqual(got[2], [], 'the sender is not in the room');

  await a.emitWithAck('leave', 'r1');
  await c.emitWithAck('to-room', 'r1', 'second');
  await waitCount(got[1], 2, 'b gets the second');
  await barrier(a);
  assert.deepEqual(got[0], [['hi', { n: 1 }]], 'a left the room');
  assert.deepEqual(got[1][1], ['second']);
});

test('a member emitting to its own room receives it too (Flask include_self)', async () => {
  const [a, b] = await clients(2);
  await a.emitWithAck('join', 'both');
  await b.emitWithAck('join', 'both');
  const got = [a, b].map((s) => collect(s, 'room-message'));
  await a.emitWithAck('to-room', 'both', 'from a');
  await waitCount(got[0], 1, 'a');
  await waitCount(got[1], 1, 'b');
});

test('binary arguments to a room arrive as binary for every member', async () => {
  const [a, b, c] = await clients(3);
  await a.emitWithAck('join', 'bin');
  await b.emitWithAck('join', 'bin');
  const got = [a, b].map((s) => collect(s, 'room-message'));
  await c.emitWithAck('to-room', 'bin', Buffer.from([1, 2, 3]), { inner: Buffer.from([4]) });
  await waitCount(got[0], 1, 'a');
  await waitCount(got[1], 1, 'b');
  for (const [[buf, obj]] of got) {
    assert.deepEqual([...Buffer.from(buf)], [1, 2, 3]);
    assert.deepEqual([...Buffer.from(obj.inner)], [4]);
  }
});

test('a client in a room of "/" does not get emits to the same room name in "/custom"', async () => {
  const [a] = await clients(1);
  const [x, y] = await clients(2, '/custom');
  await a.emitWithAck('join', 'shared');
  await x.emitWithAck('join', 'shared');
  const gotA = collect(a, 'room-message');
  const gotX = collect(x, 'room-message');
  await y.emitWithAck('to-room', 'shared', 'custom only');
  await waitCount(gotX, 1, 'x');
  await barrier(a);
  assert.deepEqual(gotA, []);
});

test('broadcast reaches everybody in the namespace, the sender included', async () => {
  const [a, b, c] = await clients(3);
  const [other] = await clients(1, '/custom');
  const got = [a, b, c, other].map((s) => collect(s, 'broadcast-message'));
  a.emit('broadcast', 'to all', 42);
  for (const i of [0, 1, 2]) await waitCount(got[i], 1, `client ${i}`);
  for (const i of [0, 1, 2]) assert.deepEqual(got[i].at(-1), ['to all', 42]);
  await barrier(other);
  assert.deepEqual(got[3], [], 'other namespaces do not get it');
});

test('broadcast without the sender reaches the others only', async () => {
  const [a, b, c] = await clients(3);
  const got = [a, b, c].map((s) => collect(s, 'broadcast-message'));
  a.emit('broadcast-others', 'not me');
  await waitCount(got[1], 1, 'b');
  await waitCount(got[2], 1, 'c');
  await barrier(a);
  assert.deepEqual(got[0], [], 'the sender is skipped');
  assert.deepEqual(got[1].at(-1), ['not me']);
});

test('the server lists room members; a disconnected client leaves its rooms', async () => {
  const [a, b, c] = await clients(3);
  await a.emitWithAck('join', 'gone');
  await b.emitWithAck('join', 'gone');
  const sorted = (l) => [...l].sort();
  assert.deepEqual(sorted(await c.emitWithAck('members', 'gone')), sorted([a.id, b.id]));
  a.disconnect();
  const end = Date.now() + 3000;
  let members;
  do {
    members = await c.emitWithAck('members', 'gone');
    if (members.length === 1) break;
    await sleep(20);
  } while (Date.now() < end);
  assert.deepEqual(members, [b.id]);
  const gotB = collect(b, 'room-message');
  await c.emitWithAck('to-room', 'gone', 'after a left');
  await waitCount(gotB, 1, 'b');
});
