// socket.io-client with socket.io-msgpack-parser against the conformance server started with
// --msgpack (SocketIoBuilder::parser(Parser::MsgPack)), over each transport setup: arguments,
// binary both ways (inline in the msgpack packet), acknowledgements both ways, rooms and
// broadcasts, a refused namespace.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import parser from 'socket.io-msgpack-parser';
import { startServer, next, collect, within, sleep, bytes, plain } from './helpers.mjs';

let server;
const open = new Set();

before(async () => { server = await startServer({ msgpack: true }); });
after(async () => {
  for (const s of open) s.disconnect();
  await server.stop();
});

const TRANSPORTS = {
  'polling-only': { transports: ['polling'] },
  'websocket-only': { transports: ['websocket'] },
  'polling-then-upgrade': { transports: ['polling', 'websocket'] },
};

async function connect(setup, { nsp = '', auth, ...opts } = {}) {
  const socket = io(server.url + nsp, { forceNew: true, reconnection: false, timeout: 5000, auth, parser, ...TRANSPORTS[setup], ...opts });
  open.add(socket);
  const [welcome] = await next(socket, 'auth', 5000);
  if (!socket.connected) await next(socket, 'connect');
  if (setup === 'polling-then-upgrade' && socket.io.engine.transport.name !== 'websocket') {
    await next(socket.io.engine, 'upgrade', 5000);
  }
  return { socket, welcome };
}

function close(socket) {
  socket.disconnect();
  open.delete(socket);
}

for (const setup of Object.keys(TRANSPORTS)) {
  test(`msgpack ${setup}: connects with its auth, arguments come back in order`, async () => {
    const auth = { token: 'abc', n: 1.5, list: [true, null] };
    const { socket, welcome } = await connect(setup, { auth });
    assert.deepEqual(welcome, auth);
    const me = await socket.emitWithAck('whoami');
    assert.equal(me.sid, socket.id);
    const back = collect(socket, 'message-back');
    const sent = [['hello'], ['utf-8: été ✓ 😀'], [{ a: 1, b: [true, null, 'x'] }], [1, 'two', { three: 3 }, [4], -5, 2.25]];
    for (const args of sent) socket.emit('message', ...args);
    await within((async () => { while (back.length < sent.length) await sleep(10); })(), 5000, 'every message back');
    assert.deepEqual(back, sent);
    close(socket);
  });

  test(`msgpack ${setup}: binary both ways, alone and nested, inline in the packet`, async () => {
    const { socket } = await connect(setup);
    const args = [
      Buffer.from([1, 2, 3]),
      { name: 'file', data: Buffer.from([0, 255, 128]), list: [Buffer.from('abc'), 'x', { deep: Buffer.alloc(0) }] },
      [Buffer.from([9]), 10],
    ];
    socket.emit('message', ...args);
    const back = await next(socket, 'message-back');
    assert.deepEqual(plain(back), plain(args));
    socket.emit('binary');
    const [first, nested] = await next(socket, 'binary-back');
    assert.deepEqual([...bytes(first)], [0, 1, 2, 255]);
    assert.deepEqual([...bytes(nested.data)], [3, 4]);
    assert.deepEqual([...bytes(nested.list[2].deep)], [6, 7, 8]);
    const acked = await socket.emitWithAck('message-with-ack', Buffer.from([7, 7]), { b: Buffer.from([8]) });
    assert.deepEqual(plain(acked), { bin: [7, 7] });
    close(socket);
  });

  test(`msgpack ${setup}: the server's acknowledgement request and the client's answer`, async () => {
    const { socket } = await connect(setup);
    socket.on('emit-with-ack', (a, b, cb) => cb({ got: [a, plain(b)] }, 'second'));
    const answer = await socket.emitWithAck('emit-with-ack', 'q', { x: Buffer.from([1]) });
    // emitWithAck resolves with the first argument of the acknowledgement
    assert.deepEqual(plain(answer), { got: ['q', { x: { bin: [1] } }] });
    close(socket);
  });

  test(`msgpack ${setup}: rooms and broadcasts, a refused namespace`, async () => {
    const a = (await connect(setup)).socket;
    const b = (await connect(setup)).socket;
    await a.emitWithAck('join', 'r');
    const inRoom = collect(a, 'room-message');
    const notInRoom = collect(b, 'room-message');
    b.emit('to-room', 'r', 'hi', Buffer.from([5]));
    await within((async () => { while (inRoom.length < 1) await sleep(10); })(), 5000, 'the room message');
    assert.deepEqual(plain(inRoom[0]), ['hi', { bin: [5] }]);
    const everyone = collect(b, 'broadcast-message');
    a.emit('broadcast', { n: 1 });
    await within((async () => { while (everyone.length < 1) await sleep(10); })(), 5000, 'the broadcast');
    assert.deepEqual(everyone[0], [{ n: 1 }]);
    assert.equal(notInRoom.length, 0);
    const refused = io(server.url + '/nowhere', { forceNew: true, reconnection: false, parser, ...TRANSPORTS[setup] });
    const [err] = await next(refused, 'connect_error');
    assert.equal(err.message, 'Invalid namespace');
    refused.disconnect();
    close(a);
    close(b);
  });
}
