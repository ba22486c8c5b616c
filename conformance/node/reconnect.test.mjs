// Reconnection: the server process is killed and started again on the same port; the
// official client notices, reconnects on its own, and works as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { startServer, next } from './helpers.mjs';

for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
  test(`${transports.join('-then-')}: the client reconnects after a server restart`, async () => {
    let server = await startServer();
    const port = server.port;
    const socket = io(server.url, {
      forceNew: true, transports, reconnectionDelay: 100, reconnectionDelayMax: 300, timeout: 2000,
    });
    try {
      const [first] = await next(socket, 'auth');
      assert.deepEqual(first, {});
      const firstId = socket.id;
      const disconnected = next(socket, 'disconnect', 5000);
      await server.stop('SIGKILL');
      const [reason] = await disconnected;
      assert.ok(['transport close', 'transport error', 'ping timeout'].includes(reason), `reason: ${reason}`);
      assert.ok(socket.active, 'the client keeps trying');
      server = await startServer({ port });
      assert.equal(server.port, port);
      const reconnected = next(socket.io, 'reconnect', 10000);
      await next(socket, 'auth', 10000);
      await reconnected;
      assert.ok(socket.connected);
      assert.notEqual(socket.id, firstId, 'a new session on the new server');
      assert.equal(await socket.timeout(3000).emitWithAck('message-with-ack', 'after restart'), 'after restart');
    } finally {
      socket.disconnect();
      await server.stop();
    }
  });
}
