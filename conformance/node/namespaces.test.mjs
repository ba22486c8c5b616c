// Namespaces and connect-time auth with the official socket.io-client: `/custom`, several
// namespaces over one connection, unknown namespaces, and `/auth` accepting or refusing with
// message and data.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { io, Manager } from 'socket.io-client';
import { startServer, next, sleep } from './helpers.mjs';

let server;
const open = [];

before(async () => { server = await startServer(); });
after(async () => {
  for (const s of open) s.disconnect();
  await server.stop();
});

const client = (nsp, opts = {}) => {
  const s = io(server.url + nsp, { forceNew: true, reconnection: false, timeout: 5000, ...opts });
  open.push(s);
  return s;
};

for (const transports of [['polling'], ['websocket']]) {
  const setup = transports[0];

  test(`${setup}: /custom greets with the auth payload and echoes in its own namespace`, async () => {
    const s = client('/custom', { transports, auth: { who: 'custom' } });
    const [welcome] = await next(s, 'auth');
    assert.deepEqual(welcome, { who: 'custom' });
    const me = await s.emitWithAck('whoami');
    assert.equal(me.namespace, '/custom');
    assert.equal(me.sid, s.id);
    s.emit('message', 'in custom', 2);
    assert.deepEqual(await next(s, 'message-back'), ['in custom', 2]);
  });

  test(`${setup}: "/" and "/custom" share one connection and stay apart`, async () => {
    const manager = new Manager(server.url, { reconnection: false, transports, timeout: 5000 });
    const main = manager.socket('/', { auth: { ns: 'main' } });
    const custom = manager.socket('/custom', { auth: { ns: 'custom' } });
    open.push(main, custom);
    const [[a], [b]] = await Promise.all([next(main, 'auth'), next(custom, 'auth')]);
    assert.deepEqual([a, b], [{ ns: 'main' }, { ns: 'custom' }]);
    assert.notEqual(main.id, custom.id, 'one Socket.IO sid per namespace');
    const mainBack = [];
    const customBack = [];
    main.on('message-back', (...args) => mainBack.push(args));
    custom.on('message-back', (...args) => customBack.push(args));
    main.emit('message', 'to main');
    custom.emit('message', 'to custom');
    await main.emitWithAck('message-with-ack', 'barrier');
    await custom.emitWithAck('message-with-ack', 'barrier');
    assert.deepEqual(mainBack, [['to main']]);
    assert.deepEqual(customBack, [['to custom']]);
    // Leaving one namespace keeps the other (and the connection).
    custom.disconnect();
    assert.equal(await main.emitWithAck('message-with-ack', 'still'), 'still');
    assert.equal(manager.engine.readyState, 'open');
  });

  test(`${setup}: an unknown namespace is refused with "Invalid namespace"`, async () => {
    const s = client('/nowhere', { transports });
    const [err] = await next(s, 'connect_error');
    assert.equal(err.message, 'Invalid namespace');
    assert.equal(s.connected, false);
  });

  test(`${setup}: /auth accepts the right token`, async () => {
    const s = client('/auth', { transports, auth: { token: 'secret', extra: [1] } });
    const [welcome] = await next(s, 'auth');
    assert.deepEqual(welcome, { token: 'secret', extra: [1] });
    assert.ok(s.connected);
    assert.equal(await s.emitWithAck('message-with-ack', 'authed'), 'authed');
  });

  test(`${setup}: /auth refuses a bad token: connect_error with message and data`, async () => {
    const s = client('/auth', { transports, auth: { token: 'nope' } });
    const [err] = await next(s, 'connect_error');
    assert.equal(err.message, 'not authorized');
    assert.deepEqual(err.data, { code: 401, reason: 'bad token', token: 'nope' });
    await sleep(50);
    assert.equal(s.connected, false);
  });

  test(`${setup}: /auth refuses a missing auth payload, with null token in the data`, async () => {
    const s = client('/auth', { transports });
    const [err] = await next(s, 'connect_error');
    assert.equal(err.message, 'not authorized');
    assert.deepEqual(err.data, { code: 401, reason: 'bad token', token: null });
  });
}
