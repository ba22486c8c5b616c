// Interop and deployment scenarios; `run` in this folder starts the servers and calls each
// with its parameters in the environment.
//
//   python-to-sockio   python-socketio RedisManager / KombuManager (write_only) emits reach the
//                      clients of a sockio cluster (SOCKIO_URLS), binary included
//   sockio-to-python   sockio's emit-only program reaches the clients of a python-socketio
//                      server (PYTHON_URL) sharing the channel (QUEUE_URL); a sockio server
//                      (SOCKIO_URLS) and the python one ask each other's clients for acks
//   node-emitter       node @socket.io/redis-emitter emits reach sockio clients (SOCKIO_URLS),
//                      and its socketsJoin, socketsLeave and disconnectSockets apply
//   deployment         three sockio processes behind nginx (NGINX_URL): clients from several
//                      source addresses spread over the processes; broadcast, room, sid and
//                      acknowledgements across processes reach exactly the right clients once

import { execFileSync } from "node:child_process";
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";
import {
  argsOf,
  closeAll,
  connect,
  count,
  expectCounts,
  fail,
  log,
  sameBytes,
} from "./lib.mjs";

const env = (name) => process.env[name] ?? fail(`${name} is not set`);
const BYTES = [0, 1, 2, 253, 254, 255];

async function joinRoom(socket, room) {
  await socket.timeout(5000).emitWithAck("join", room);
}

async function whoami(socket) {
  return await socket.timeout(5000).emitWithAck("whoami");
}

/** Two clients on each sockio process, one of each pair in room "blue". */
async function sockioClients() {
  const urls = env("SOCKIO_URLS").split(",");
  const clients = [];
  for (const [i, url] of urls.entries()) {
    for (const j of [0, 1]) {
      const s = await connect(url, { name: `p${i}c${j}` });
      s.info = await whoami(s);
      if (j === 0) await joinRoom(s, "blue");
      clients.push(s);
    }
  }
  return clients;
}

function python(...args) {
  execFileSync(env("PYTHON"), args, { stdio: "inherit", timeout: 60000 });
}

async function pythonToSockio() {
  const clients = await sockioClients();
  const blue = new Map(clients.map((c, i) => [c, i % 2 === 0 ? 1 : 0]));
  const skipped = clients[1];
  const others = new Map(clients.map((c) => [c, c === skipped ? 0 : 1]));
  {
    const manager = env("MANAGER");
    const url = manager === "redis" ? env("REDIS_URL") : env("AMQP_URL");
    log(`python-socketio ${manager} manager -> sockio cluster`);
    python(
      "python_emit.py",
      manager,
      url,
      env("CHANNEL"),
      skipped.info.sid,
    );
    await expectCounts(clients, `py ${manager} all`, 1);
    await expectCounts(clients, `py ${manager} room`, blue);
    await expectCounts(clients, `py ${manager} binary`, 1);
    await expectCounts(clients, `py ${manager} skip`, others);
    for (const c of clients) {
      const [obj, n] = argsOf(c, `py ${manager} all`);
      if (obj.hello !== "from python" || n !== 2) fail(`args ${JSON.stringify([obj, n])}`);
      const [b, inner] = argsOf(c, `py ${manager} binary`);
      if (!sameBytes(b, BYTES) || !sameBytes(inner.data, [7])) {
        fail(`${c.label}: binary args ${JSON.stringify([b, inner])}`);
      }
    }
  }
  closeAll(clients);
}

async function sockioToPython() {
  const url = env("PYTHON_URL");
  const clients = [];
  for (const j of [0, 1, 2]) {
    const s = await connect(url, { name: `py-client${j}` });
    s.info = await whoami(s);
    if (j === 0) await joinRoom(s, "blue");
    clients.push(s);
  }
  const emitOnly = (...args) =>
    execFileSync(
      env("EMIT_ONLY"),
      ["--message-queue", env("QUEUE_URL"), "--channel", env("CHANNEL"), ...args],
      { stdio: "inherit", timeout: 60000 },
    );
  log(`sockio emit-only -> python-socketio server (${env("QUEUE_URL")})`);
  emitOnly("--event", "rs all", "--data", '{"from": "rust"}', "--data", "3");
  emitOnly("--event", "rs room", "--to", "blue", "--data", '"blue only"');
  emitOnly("--event", "rs binary", "--bytes", "000102fdfeff", "--data", '"after"');
  emitOnly("--event", "rs skip", "--skip-sid", clients[1].info.sid);
  emitOnly("--event", "rs sid", "--to", clients[2].info.sid);
  await expectCounts(clients, "rs all", 1);
  await expectCounts(clients, "rs room", new Map([[clients[0], 1]]));
  await expectCounts(clients, "rs binary", 1);
  await expectCounts(clients, "rs skip", new Map([[clients[0], 1], [clients[2], 1]]));
  await expectCounts(clients, "rs sid", new Map([[clients[2], 1]]));
  for (const c of clients) {
    const [obj, n] = argsOf(c, "rs all");
    if (obj.from !== "rust" || n !== 3) fail(`args ${JSON.stringify([obj, n])}`);
    const [b, after] = argsOf(c, "rs binary");
    if (!sameBytes(b, BYTES) || after !== "after") fail(`binary ${JSON.stringify([b, after])}`);
  }
  // Acknowledgements both ways between a sockio server and the python server sharing the
  // channel: each asks a client of the other (python-socketio's `callback` messages).
  const rust = await connect(env("SOCKIO_URLS"), { name: "sockio-client" });
  rust.info = await whoami(rust);
  rust.on("question", (q, ack) => ack(`sockio says yes to ${q}`));
  clients[0].on("question", (q, ack) => ack(`python's client says yes to ${q}`));
  const fromPython = await clients[1].timeout(15000).emitWithAck("ask", rust.info.sid);
  if (fromPython !== "sockio says yes to ready?") fail(`python asked sockio: ${JSON.stringify(fromPython)}`);
  const fromSockio = await rust.timeout(15000).emitWithAck("ask", clients[0].info.sid);
  if (JSON.stringify(fromSockio) !== JSON.stringify(["python's client says yes to ready?"])) {
    fail(`sockio asked python: ${JSON.stringify(fromSockio)}`);
  }
  log("acknowledgements between python-socketio and sockio processes: ok");
  rust.close();
  // Room membership and disconnects by sid, through the python server's manager.
  emitOnly("--enter-room", clients[1].info.sid, "green");
  emitOnly("--event", "rs green", "--to", "green");
  await expectCounts(clients, "rs green", new Map([[clients[1], 1]]));
  const gone = new Promise((resolve) => clients[2].on("disconnect", resolve));
  emitOnly("--disconnect", clients[2].info.sid);
  await Promise.race([gone, new Promise((_, rej) => setTimeout(() => rej(new Error("no disconnect")), 10000))]);
  closeAll(clients);
}

async function nodeEmitter() {
  const clients = await sockioClients();
  const redis = createClient({ url: env("REDIS_URL") });
  await redis.connect();
  const emitter = new Emitter(redis);
  log("node @socket.io/redis-emitter -> sockio cluster");
  emitter.emit("node all", { hello: "from node" }, 5);
  emitter.to("blue").emit("node room", "blue");
  emitter.emit("node binary", Buffer.from(BYTES), { nested: Buffer.from([9]) });
  emitter.except("blue").emit("node not blue");
  emitter.of("/").to(clients[3].info.sid).emit("node sid");
  const blue = new Map(clients.map((c, i) => [c, i % 2 === 0 ? 1 : 0]));
  const notBlue = new Map(clients.map((c, i) => [c, i % 2 === 0 ? 0 : 1]));
  await expectCounts(clients, "node all", 1);
  await expectCounts(clients, "node room", blue);
  await expectCounts(clients, "node binary", 1);
  await expectCounts(clients, "node not blue", notBlue);
  await expectCounts(clients, "node sid", new Map([[clients[3], 1]]));
  for (const c of clients) {
    const [b, obj] = argsOf(c, "node binary");
    if (!sameBytes(b, BYTES) || !sameBytes(obj.nested, [9])) fail(`binary ${JSON.stringify([b, obj])}`);
  }
  // socketsJoin / socketsLeave / disconnectSockets requests.
  emitter.in("blue").socketsJoin("green");
  await new Promise((r) => setTimeout(r, 300));
  emitter.to("green").emit("node green");
  await expectCounts(clients, "node green", blue);
  emitter.socketsLeave("green");
  await new Promise((r) => setTimeout(r, 300));
  emitter.to("green").emit("node green again");
  await expectCounts(clients, "node green again", 0);
  const victim = clients[2];
  const gone = new Promise((resolve) => victim.on("disconnect", (reason) => resolve(reason)));
  emitter.in(victim.info.sid).disconnectSockets();
  const reason = await Promise.race([gone, new Promise((r) => setTimeout(() => r("none"), 10000))]);
  if (reason !== "io server disconnect") fail(`disconnectSockets: ${reason}`);
  if (!clients.every((c) => c === victim || c.connected)) fail("others were disconnected");
  await redis.quit();
  closeAll(clients);
}

async function deployment() {
  const url = env("NGINX_URL");
  const processes = env("PROCESSES").split(",");
  const perProcess = new Map(processes.map((p) => [p, []]));
  const all = [];
  // nginx's ip_hash keys on the first three octets of an IPv4 address: vary the third.
  for (let n = 1; n <= 60; n++) {
    if ([...perProcess.values()].every((l) => l.length >= 2)) break;
    const localAddress = `127.0.${n}.1`;
    const transports = n % 2 ? ["polling", "websocket"] : ["polling"];
    const s = await connect(url, { localAddress, transports, name: `${localAddress}` });
    s.info = await whoami(s);
    const list = perProcess.get(s.info.process);
    if (!list) fail(`unknown process ${JSON.stringify(s.info)}`);
    if (list.length >= 2) {
      s.close();
      continue;
    }
    // The same address lands on the same process again (sticky sessions).
    const again = await connect(url, { localAddress, transports, name: `${localAddress}/2` });
    const info2 = await whoami(again);
    again.close();
    if (info2.process !== s.info.process) fail(`${localAddress} moved from ${s.info.process} to ${info2.process}`);
    list.push(s);
    all.push(s);
  }
  for (const [p, l] of perProcess) {
    log(`process ${p}: ${l.map((s) => `${s.label} (${s.io.engine.transport.name})`).join(", ")}`);
    if (l.length < 2) fail(`process ${p} got ${l.length} clients; ip_hash did not spread them`);
  }
  // Broadcast from one client: everybody, the sender included, exactly once.
  all[0].emit("broadcast", { n: 1 });
  await expectCounts(all, "news", 1);
  // A room with one member on each process; the emit comes from a non-member.
  const members = processes.map((p) => perProcess.get(p)[0]);
  for (const m of members) await joinRoom(m, "blue");
  const outsider = perProcess.get(processes[0])[1];
  outsider.emit("to room", "blue", { color: "blue" });
  await expectCounts(all, "room news", new Map(members.map((m) => [m, 1])));
  for (const m of members) {
    if (argsOf(m, "room news")[0].color !== "blue") fail("room news payload");
  }
  // One sid on another process.
  const target = perProcess.get(processes[2])[1];
  all[0].emit("to sid", target.info.sid, "psst");
  await expectCounts(all, "private", new Map([[target, 1]]));
  // An acknowledgement across processes: the server of all[0] asks a client of another one.
  target.on("question", (q, ack) => ack(`yes to ${q}`));
  const answer = await all[0].timeout(15000).emitWithAck("ask", target.info.sid);
  if (JSON.stringify(answer) !== JSON.stringify(["yes to ready?"])) fail(`ask: ${JSON.stringify(answer)}`);
  log(`broadcast, room, sid and ack across ${processes.length} processes: ok`);
  closeAll(all);
}

const scenarios = {
  "python-to-sockio": pythonToSockio,
  "sockio-to-python": sockioToPython,
  "node-emitter": nodeEmitter,
  deployment,
};

const name = process.argv[2];
if (!scenarios[name]) fail(`unknown scenario ${name}; one of ${Object.keys(scenarios).join(", ")}`);
try {
  await scenarios[name]();
  log(`${name}: passed`);
  process.exit(0);
} catch (e) {
  fail(`${name}: ${e.stack ?? e}`);
}
