'use strict';
// The node socket.io bench server: the same handlers and settings as the sockio bench server
// (src/server.rs). Usage: node server.js [port]   (0, the default, picks a free port)
// Prints one JSON line {"listening": "127.0.0.1:<port>", ...} once it accepts connections.

const http = require('http');
const { Server } = require('socket.io');

// Same on every bench server: long enough that heartbeats do not dominate.
const PING_INTERVAL_MS = 25000;
const PING_TIMEOUT_MS = 20000;

const port = Number(process.argv[2] || 0);
const httpServer = http.createServer();
const io = new Server(httpServer, {
  pingInterval: PING_INTERVAL_MS,
  pingTimeout: PING_TIMEOUT_MS,
  maxHttpBufferSize: 1e6,
  perMessageDeflate: false,
  httpCompression: false,
  transports: ['polling', 'websocket'],
  serveClient: false,
});

io.on('connection', (socket) => {
  // echo: the same arguments back to the sender
  socket.on('echo', (...args) => socket.emit('echo', ...args));
  // bcast: the same arguments to everybody in the namespace, the sender included
  socket.on('bcast', (...args) => io.emit('bcast', ...args));
});

// ws masks and unmasks frames with bufferutil's native code when it loads (the setup the
// socket.io docs recommend for production); report whether it did.
let bufferutil = 'absent';
try {
  bufferutil = String(require('bufferutil').mask).includes('[native code]') ? 'native' : 'js';
} catch (_) {
  // ws works without it, only slower
}

httpServer.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => {
  console.log(JSON.stringify({
    listening: `127.0.0.1:${httpServer.address().port}`,
    pid: process.pid,
    server: 'node',
    socketio: require('socket.io/package.json').version,
    node: process.version,
    bufferutil,
  }));
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
