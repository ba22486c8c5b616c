// Connection state recovery with the official client (socket.io-client 4.8), against the
// server started with `--recovery`: a client loses its connection, broadcasts go out while it
// is away, and when it reconnects by itself it has the same `socket.id`,
// `socket.recovered === true`, and every broadcast it missed exactly once, in order, binary
// ones included. Leaving the namespace on purpose is not recovered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { startServer, next, until, plain, within } from './helpers.mjs';

/** The last argument of an event: the offset the server appends with recovery on. */
function offsetOf(args) {
  const last = args[args.length - 1];
  assert.equal(typeof last, 'string', `an offset last in ${JSON.stringify(plain(args))}`);
  return last;
}

/** Ways to lose the connection without leaving the namespace. */
const drops = {
  // What socket.io's documentation suggests to simulate a disconnection.
  'engine closed': (socket) => socket.io.engine.close(),
  // The TCP connection is cut under the WebSocket, with no close frame at all.
  'TCP connection destroyed': (socket) => socket.io.engine.transport.ws._socket.destroy(),
};

const setups = [
  { transports: ['polling'], drop: 'engine closed' },
  { transports: ['websocket'], drop: 'engine closed' },
  { transports: ['websocket'], drop: 'TCP connection destroyed' },
  // Dropped once upgraded to WebSocket; the reconnection starts over polling.
  { transports: ['polling', 'websocket'], drop: 'engine closed', upgraded: true },
];

for (const { transports, drop, upgraded } of setups) {
  test(`${transports.join('-then-')}, ${drop}: the client recovers its id and every missed broadcast once, in order`, async () => {
    const server = await startServer({ recovery: true });
    const socket = io(server.url, {
      forceNew: true, transports, reconnectionDelay: 300, reconnectionDelayMax: 300,
      randomizationFactor: 0, timeout: 3000,
    });
    const other = io(server.url, { forceNew: true, transports: ['websocket'] });
    try {
      const [[auth]] = await Promise.all([next(socket, 'auth'), next(other, 'auth')]);
      assert.equal(typeof auth, 'object', 'the connect handler echoes the auth');
      assert.equal(socket.recovered, false);
      if (upgraded) {
        await until(() => socket.io.engine.transport.name === 'websocket', 5000, 'the upgrade');
      }
      const id = socket.id;
      const received = [];
      socket.on('broadcast-message', (...args) => received.push(args));
      // One broadcast while connected: the client now knows an offset.
      await other.timeout(3000).emitWithAck('broadcast', 0);
      await until(() => received.length === 1, 5000, 'the first broadcast');

      const disconnected = next(socket, 'disconnect');
      const reconnected = next(socket, 'connect', 10000);
      drops[drop](socket);
      const [reason] = await disconnected;
      assert.ok(['transport close', 'transport error', 'forced close'].includes(reason), `reason: ${reason}`);
      assert.equal(socket.connected, false);
      // Broadcasts while it is away (acknowledged: the server has sent them), one binary.
      const missed = [1, 2, Buffer.from([0xde, 0xad, 0xbe, 0xef]), 3, { four: 4 }];
      for (const m of missed) await other.timeout(3000).emitWithAck('broadcast', m);
      const sentAt = Date.now();
      assert.equal(socket.connected, false, 'the broadcasts went out before the reconnection');

      await within(reconnected, 10000, 'the reconnection');
      assert.ok(Date.now() >= sentAt);
      assert.equal(socket.id, id, 'the same socket.id');
      assert.equal(socket.recovered, true, 'socket.recovered');
      // A broadcast after the reconnection arrives after the replay.
      await other.timeout(3000).emitWithAck('broadcast', 'live');
      await until(() => received.length >= 7, 5000, 'every broadcast');
      // A round trip, so that a duplicate would have arrived by now.
      await socket.timeout(3000).emitWithAck('whoami');
      assert.equal(received.length, 7, `each broadcast once: ${JSON.stringify(plain(received))}`);
      const values = received.map((args) => plain(args.slice(0, -1)));
      assert.deepEqual(values, [[0], ...missed.map((m) => [plain(m)]), ['live']]);
      const offsets = received.map(offsetOf);
      assert.equal(new Set(offsets).size, offsets.length, 'offsets are unique');
      // The rooms came back too: its own sid's room.
      assert.deepEqual(await socket.timeout(3000).emitWithAck('join', 'after'), [id, 'after']);
    } finally {
      socket.disconnect();
      other.disconnect();
      await server.stop();
    }
  });
}

test('rooms joined before the drop are kept, and room broadcasts are replayed', async () => {
  const server = await startServer({ recovery: true });
  const socket = io(server.url, {
    forceNew: true, transports: ['websocket'], reconnectionDelay: 300, randomizationFactor: 0,
  });
  const other = io(server.url, { forceNew: true, transports: ['websocket'] });
  try {
    await Promise.all([next(socket, 'auth'), next(other, 'auth')]);
    const id = socket.id;
    assert.deepEqual(await socket.timeout(3000).emitWithAck('join', 'red'), [id, 'red']);
    const got = [];
    socket.on('room-message', (...args) => got.push(args));
    const reconnected = next(socket, 'connect', 10000);
    socket.io.engine.close();
    await other.timeout(3000).emitWithAck('to-room', 'red', 'for red');
    await other.timeout(3000).emitWithAck('to-room', 'blue', 'for blue');
    await reconnected;
    assert.equal(socket.recovered, true);
    await until(() => got.length === 1, 5000, 'the room message');
    assert.deepEqual(got[0].slice(0, -1), ['for red']);
    assert.deepEqual(await socket.timeout(3000).emitWithAck('members', 'red'), [id]);
  } finally {
    socket.disconnect();
    other.disconnect();
    await server.stop();
  }
});

test('a client that left the namespace is not recovered', async () => {
  const server = await startServer({ recovery: true });
  const socket = io(server.url, { forceNew: true, transports: ['websocket'] });
  try {
    await next(socket, 'auth');
    const id = socket.id;
    socket.disconnect();
    const [auth] = await (socket.connect(), next(socket, 'auth'));
    // socket.io-client sends its pid and offset along with the auth; they are not honoured
    assert.equal(typeof auth.pid, 'string');
    assert.equal(socket.recovered, false);
    assert.notEqual(socket.id, id);
  } finally {
    socket.disconnect();
    await server.stop();
  }
});
