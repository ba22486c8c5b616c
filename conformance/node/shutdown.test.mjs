// Graceful shutdown: SIGTERM or SIGINT stops the server promptly with exit status 0, and the
// clients connected at that moment (polling and WebSocket) are closed by the server (the
// client sees `transport close`) rather than left to time out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { startServer, next, within } from './helpers.mjs';

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`${signal}: the server closes its clients and exits with status 0`, async () => {
    const server = await startServer();
    const sockets = [];
    try {
      for (const transports of [['polling'], ['websocket']]) {
        const socket = io(server.url, { forceNew: true, reconnection: false, timeout: 5000, transports });
        sockets.push(socket);
        await next(socket, 'auth', 5000);
        // A round trip, so that the polling client has a GET waiting on the server.
        assert.equal(await socket.timeout(3000).emitWithAck('message-with-ack', 'before'), 'before');
      }
      const reasons = sockets.map((s) => next(s, 'disconnect', 3000));
      const started = Date.now();
      process.kill(server.proc.pid, signal);
      const exit = await within(
        server.exited.then(() => ({ code: server.proc.exitCode, signal: server.proc.signalCode })),
        3000,
        'the server to exit',
      );
      assert.deepEqual(exit, { code: 0, signal: null }, `the server exits cleanly on ${signal}`);
      assert.ok(Date.now() - started < 3000);
      const got = (await Promise.all(reasons)).map(([reason]) => reason);
      assert.deepEqual(got, ['transport close', 'transport close'], 'polling, then WebSocket');
    } finally {
      for (const s of sockets) s.disconnect();
      await server.stop('SIGKILL');
    }
  });
}
