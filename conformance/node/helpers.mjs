// Shared helpers of the Node conformance tests: start and stop the conformance server by PID,
// wait for events with a deadline, compare binary data.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const runtime = process.env.SOCKIO_RUNTIME || 'tokio';
const bin = process.env.SOCKIO_SERVER_BIN || path.join(root, 'target/debug/sockio-conformance-server');

// The contract's Engine.IO settings.
export const PING_INTERVAL = 300;
export const PING_TIMEOUT = 200;
export const MAX_PAYLOAD = 1000000;

/**
 * Starts the conformance server (`--engineio` when `engineio` is true, `--recovery` when
 * `recovery` is, `--msgpack` when `msgpack` is) on `port` (0: any) and resolves once it printed its address:
 * `{ url, port, proc, stop() }`.
 */
export async function startServer({ engineio = false, recovery = false, msgpack = false, port = 0 } = {}) {
  const args = ['--port', String(port), '--runtime', runtime];
  if (engineio) args.push('--engineio');
  if (recovery) args.push('--recovery');
  if (msgpack) args.push('--msgpack');
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const addr = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start: ' + out)), 20000);
    proc.once('error', (e) => { clearTimeout(timer); reject(e); });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited with ${code}: ${out}`)); });
    proc.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/^listening on (127\.0\.0\.1:(\d+)) runtime=(\S+) mode=(\S+)$/m);
      if (m) { clearTimeout(timer); resolve({ host: m[1], port: Number(m[2]) }); }
    });
  });
  proc.removeAllListeners('exit');
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  return {
    url: `http://${addr.host}`,
    port: addr.port,
    proc,
    exited,
    /** Stops it by PID (SIGTERM, or `signal`) and waits for the exit. */
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid, signal);
      await exited;
    },
  };
}

/** Rejects after `ms` unless `p` settles first. */
export function within(p, ms, what) {
  let timer;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms); }),
  ]);
}

/** The arguments of the next `event` on `emitter` (as an array). */
export function next(emitter, event, ms = 5000) {
  return within(new Promise((resolve) => emitter.once(event, (...args) => resolve(args))), ms, `"${event}"`);
}

/** Collects every `event` on `emitter` into an array. */
export function collect(emitter, event) {
  const seen = [];
  emitter.on(event, (...args) => seen.push(args));
  return seen;
}

/** Waits until `cond()` is true, polling every 10 ms. */
export async function until(cond, ms, what) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Binary data of any kind (Buffer, ArrayBuffer, typed array) as a Buffer. */
export function bytes(x) {
  if (Buffer.isBuffer(x)) return x;
  if (x instanceof ArrayBuffer) return Buffer.from(new Uint8Array(x));
  if (ArrayBuffer.isView(x)) return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  throw new Error('not binary data: ' + JSON.stringify(x));
}

/** A value with every binary leaf replaced by `{bin: [bytes]}`, for deep comparisons. */
export function plain(v) {
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return { bin: [...bytes(v)] };
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}
