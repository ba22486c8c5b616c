// Helpers of the interop and deployment tests: official socket.io-client connections (from a
// chosen source address), counting received events, and exact-count assertions.

import http from "node:http";
import { io } from "socket.io-client";

export function log(...args) {
  console.log("[interop]", ...args);
}

export function fail(message) {
  console.error(`FAILED: ${message}`);
  process.exit(1);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Connects the official client; resolves once connected. Every event is recorded. */
export function connect(url, { localAddress, transports, namespace = "/", name } = {}) {
  const agent = localAddress ? new http.Agent({ localAddress, keepAlive: true }) : undefined;
  const socket = io(url + (namespace === "/" ? "" : namespace), {
    agent,
    transports: transports ?? ["polling", "websocket"],
    forceNew: true,
    reconnection: false,
    timeout: 10000,
  });
  socket.label = name ?? localAddress ?? url;
  socket.received = [];
  socket.onAny((event, ...args) => socket.received.push({ event, args }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${socket.label}: connect timeout`)), 15000);
    socket.on("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.on("connect_error", (e) => {
      clearTimeout(timer);
      reject(new Error(`${socket.label}: ${e.message}`));
    });
  });
}

export function count(socket, event) {
  return socket.received.filter((r) => r.event === event).length;
}

export function argsOf(socket, event) {
  const r = socket.received.find((x) => x.event === event);
  if (!r) fail(`${socket.label} got no ${event}`);
  return r.args;
}

/**
 * Waits until every socket got at least its expected number of `event` (a map socket =>
 * count, or one count for all), listens 500 ms longer so that duplicates would show, then
 * asserts the exact numbers.
 */
export async function expectCounts(sockets, event, expected, timeoutMs = 10000) {
  const want = (s) => (typeof expected === "number" ? expected : expected.get(s) ?? 0);
  const end = Date.now() + timeoutMs;
  while (Date.now() < end && !sockets.every((s) => count(s, event) >= want(s))) {
    await sleep(20);
  }
  await sleep(500);
  for (const s of sockets) {
    if (count(s, event) !== want(s)) {
      fail(`${s.label}: ${count(s, event)} "${event}" events, expected ${want(s)}`);
    }
  }
}

export function sameBytes(buf, bytes) {
  return Buffer.isBuffer(buf) && Buffer.compare(buf, Buffer.from(bytes)) === 0;
}

export function closeAll(sockets) {
  for (const s of sockets) s.close();
}
