// The official socket.io-client against the conformance server, over each transport setup:
// events, arguments, binary, acknowledgements both ways with timeouts, errors and
// server-side disconnect.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { startServer, next, collect, within, until, sleep, bytes, plain } from './helpers.mjs';

let server;
const open = new Set();

before(async () => { server = await startServer(); });
after(async () => {
  for (const s of open) s.disconnect();
  await server.stop();
});

const TRANSPORTS = {
  'polling-only': { transports: ['polling'] },
  'websocket-only': { transports: ['websocket'] },
  'polling-then-upgrade': { transports: ['polling', 'websocket'] },
};

/** A connected client of its own (no shared Manager) and the auth event it got. */
async function connect(setup, { nsp = '', auth, ...opts } = {}) {
  const socket = io(server.url + nsp, { forceNew: true, reconnection: false, timeout: 5000, auth, ...TRANSPORTS[setup], ...opts });
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
  test(`${setup}: connects, gets its auth payload back, and is on the expected transport`, async () => {
    const auth = { token: 'abc', n: 1, list: [true, null] };
    const { socket, welcome } = await connect(setup, { auth });
    assert.deepEqual(welcome, auth);
    const expected = setup === 'polling-only' ? 'polling' : 'websocket';
    assert.equal(socket.io.engine.transport.name, expected);
    const me = await socket.emitWithAck('whoami');
    assert.equal(me.sid, socket.id, 'the server knows the client by the sid it was given');
    assert.equal(me.namespace, '/');
    assert.notEqual(socket.id, socket.io.engine.id, 'the Socket.IO sid is not the Engine.IO sid');
    close(socket);
  });

  test(`${setup}: string, JSON and several arguments come back in order`, async () => {
    const { socket } = await connect(setup);
    const back = collect(socket, 'message-back');
    const sent = [
      ['hello'],
      ['utf-8: été ✓ 😀'],
      [{ a: 1, b: [true, null, 'x'], c: { d: -2.5 } }],
      [1, 'two', { three: 3 }, [4], null, false],
      [],
    ];
    for (const args of sent) socket.emit('message', ...args);
    await within((async () => { while (back.length < sent.length) await sleep(5); })(), 5000, 'all echoes');
    assert.deepEqual(back, sent);
    close(socket);
  });

  test(`${setup}: binary arguments, alone and nested in objects and arrays, come back`, async () => {
    const { socket } = await connect(setup);
    const args = [
      Buffer.from([1, 2, 3]),
      { name: 'file', data: Buffer.from([0, 255, 128]), list: [Buffer.from('abc'), 'x', { deep: Buffer.alloc(0) }] },
      [Buffer.from([9]), 10],
    ];
    socket.emit('message', ...args);
    const back = await next(socket, 'message-back');
    assert.deepEqual(plain(back), plain(args));
    assert.ok(Buffer.isBuffer(back[0]) || back[0] instanceof ArrayBuffer, 'binary stays binary');
    const acked = await socket.emitWithAck('message-with-ack', Buffer.from([7, 7]), { b: Buffer.from([8]) });
    assert.deepEqual(plain(acked), { bin: [7, 7] }, 'emitWithAck resolves with the first ack argument');
    close(socket);
  });

  test(`${setup}: binary the server builds arrives as binary, nested too`, async () => {
    const { socket } = await connect(setup);
    socket.emit('binary');
    const [first, nested] = await next(socket, 'binary-back');
    assert.deepEqual([...bytes(first)], [0, 1, 2, 255]);
    assert.equal(nested.name, 'nested');
    assert.deepEqual([...bytes(nested.data)], [3, 4]);
    assert.deepEqual([...bytes(nested.list[0])], [5]);
    assert.equal(nested.list[1], 'x');
    assert.deepEqual([...bytes(nested.list[2].deep)], [6, 7, 8]);
    close(socket);
  });

  test(`${setup}: a string with a lone UTF-16 surrogate reaches another client unchanged, and the sender lives on`, async () => {
    // JSON.stringify writes lone surrogates as escapes ("\ud800"): legal JSON, what text cut in
    // the middle of an emoji becomes; node's socket.io delivers it as it is.
    const { socket: sender } = await connect(setup);
    const { socket: receiver } = await connect(setup);
    const sent = ['a\ud800b', '\ud83d', 'x\udc00'];
    const got = collect(receiver, 'broadcast-message');
    for (const text of sent) sender.emit('broadcast-others', text);
    await until(() => got.length >= sent.length, 5000, 'the relayed strings');
    for (const [i, text] of sent.entries()) {
      assert.equal(got[i].length, 1);
      assert.ok(got[i][0] === text, `string ${i}: sent ${JSON.stringify(text)}, received ${JSON.stringify(got[i][0])}`);
    }
    assert.ok(sender.connected, 'the sender is still connected');
    assert.equal(await within(sender.emitWithAck('message-with-ack', 'still here'), 5000, 'the ack'), 'still here');
    close(sender);
    close(receiver);
  });

  test(`${setup}: client-to-server acks carry every argument (callback and emitWithAck)`, async () => {
    const { socket } = await connect(setup);
    const viaCallback = await within(new Promise((resolve) => {
      socket.emit('message-with-ack', 1, 'two', { three: [3] }, (...ack) => resolve(ack));
    }), 5000, 'the ack');
    assert.deepEqual(viaCallback, [1, 'two', { three: [3] }]);
    assert.equal(await socket.emitWithAck('message-with-ack', 'only'), 'only');
    close(socket);
  });

  test(`${setup}: server-to-client acks: the server asks, the client answers, the answer comes back`, async () => {
    const { socket } = await connect(setup);
    const asked = [];
    socket.on('emit-with-ack', (...args) => {
      const cb = args.pop();
      asked.push(args);
      cb({ got: args }, 'second');
    });
    const answer = await within(new Promise((resolve) => {
      socket.emit('emit-with-ack', 'x', 2, (...ack) => resolve(ack));
    }), 5000, 'the forwarded answer');
    assert.deepEqual(asked, [['x', 2]]);
    assert.deepEqual(answer, [{ got: ['x', 2] }, 'second']);
    // Without an ack of its own, the answer comes back as an event.
    socket.emit('emit-with-ack', 'y');
    const result = await next(socket, 'emit-with-ack-result');
    assert.deepEqual(result, [{ got: ['y'] }, 'second']);
    close(socket);
  });

  test(`${setup}: client-side ack timeouts: timeout().emitWithAck rejects, a fast ack resolves`, async () => {
    const { socket } = await connect(setup);
    await assert.rejects(socket.timeout(150).emitWithAck('ack-after', 1000, 'slow'), /timed out/);
    assert.equal(await socket.timeout(3000).emitWithAck('ack-after', 10, 'fast'), 'fast');
    const viaCallback = await within(new Promise((resolve) => {
      socket.timeout(150).emit('ack-after', 1000, (err) => resolve(err));
    }), 5000, 'the timeout callback');
    assert.ok(viaCallback instanceof Error, 'the callback gets an error');
    close(socket);
  });

  test(`${setup}: server-side ack timeouts: no answer times out, an answer arrives`, async () => {
    const { socket } = await connect(setup);
    let answer = false;
    socket.on('timeout-probe', (cb) => { if (answer) cb('pong', 2); });
    socket.emit('emit-with-timeout', 250);
    const [silent] = await next(socket, 'timeout-result', 5000);
    assert.deepEqual(silent, { status: 'timeout' });
    answer = true;
    socket.emit('emit-with-timeout', 2000);
    const [answered] = await next(socket, 'timeout-result', 5000);
    assert.deepEqual(answered, { status: 'ok', args: ['pong', 2] });
    close(socket);
  });

  test(`${setup}: a handler that fails or panics acks the error and the connection lives on`, async () => {
    const { socket } = await connect(setup);
    const failed = await socket.timeout(3000).emitWithAck('fail', 1);
    assert.equal(failed.error, 'boom');
    assert.equal(failed.event, 'fail');
    const panicked = await socket.timeout(3000).emitWithAck('panic');
    assert.equal(panicked.kind, 'Panic');
    assert.ok(socket.connected);
    assert.equal(await socket.emitWithAck('message-with-ack', 'still here'), 'still here');
    close(socket);
  });

  test(`${setup}: server-side disconnect gives "io server disconnect" and no reconnection`, async () => {
    const { socket } = await connect(setup, { reconnection: true, reconnectionDelay: 50 });
    socket.emit('disconnect-me');
    const [reason] = await next(socket, 'disconnect', 5000);
    assert.equal(reason, 'io server disconnect');
    assert.equal(socket.active, false, 'the client does not try to reconnect');
    await sleep(300);
    assert.equal(socket.connected, false);
    close(socket);
  });
}
