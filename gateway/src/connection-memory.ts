/**
 * What an idle device connection costs the gateway in memory (issue 10: the
 * target is <= 12 KB of RSS each). A gateway runs in a child process of its
 * own (so the devices' sockets are not counted), N devices connect to it over
 * loopback with the session of contract v1 (a retained-offline will,
 * SUBSCRIBE to their commands, a retained `online` status), and the child's
 * RSS and V8 heap are read after a full GC before and after.
 *
 *   node --expose-gc gateway/dist/connection-memory.js [devices=2000] [--snapshot DIR]
 *
 * prints a table and one JSON line; `--snapshot DIR` also writes a heap
 * snapshot of the gateway with the devices connected (open it in Chrome
 * DevTools, Memory, and sort by retained size). `measureConnectionMemory()` is
 * the same for a benchmark to call.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { connect as tcpConnect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { generate, parser, type Packet } from 'mqtt-packet';
import { topics } from '@kanjia/protocol';
import { Gateway } from './gateway.js';

/** Bytes of the gateway process, after a full GC. */
export interface MemorySample {
  rss: number;
  /** V8 heap reserved (what of the RSS the heap takes, used or not). */
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export interface ConnectionMemory {
  devices: number;
  before: MemorySample;
  after: MemorySample;
  /** (after - before) / devices, bytes. */
  perConnection: MemorySample;
  /** How long the devices took to connect, 100 at a time (session start included), ms. */
  connectMs: number;
  /** The heap snapshot written, when asked for. */
  snapshot?: string;
}

export interface ConnectionMemoryOptions {
  /** Devices to connect; 1–15 000 (the loop is bounded). Default 2 000. */
  devices?: number;
  /** Write a heap snapshot of the gateway into this directory once they are connected. */
  snapshotDir?: string;
  /** The whole measurement must end within this, ms; default 120 000. */
  timeoutMs?: number;
}

const SECRET = 'connection-memory-probe-secret-0123456789abcdef';
const MAX_DEVICES = 15_000;
/** Devices connecting at once: the probe measures idle connections, not a storm. */
const CONNECT_WINDOW = 100;
/** Before each sample: this many full GCs, this far apart (bounded: a few seconds). */
const SETTLE_ROUNDS = 4;
const SETTLE_MS = 500;

type ChildRequest = { cmd: 'sample' } | { cmd: 'snapshot'; dir: string } | { cmd: 'stop' };
type ChildReply = { port: number } | { sample: MemorySample } | { snapshot: string } | { stopped: true };

/** Connects `devices` devices to a gateway in a child process and reports its memory per connection. */
export async function measureConnectionMemory(options: ConnectionMemoryOptions = {}): Promise<ConnectionMemory> {
  const devices = options.devices ?? 2_000;
  if (!Number.isInteger(devices) || devices < 1 || devices > MAX_DEVICES) throw new RangeError(`devices: ${devices} must be an integer from 1 to ${MAX_DEVICES}`);
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const replies: ChildReply[] = [];
  const waiters: Array<() => void> = [];
  child.on('message', (m: ChildReply) => {
    replies.push(m);
    waiters.shift()?.();
  });
  const reply = async (): Promise<ChildReply> => {
    while (replies.length === 0) {
      if (Date.now() > deadline) throw new Error('the gateway child did not answer in time');
      await Promise.race([new Promise<void>((r) => waiters.push(r)), new Promise((r) => setTimeout(r, 1_000))]);
    }
    return replies.shift() as ChildReply;
  };
  const ask = async (request: ChildRequest): Promise<ChildReply> => {
    child.send(request);
    return reply();
  };
  const sockets: Socket[] = [];
  try {
    const { port } = (await reply()) as { port: number };
    const { sample: before } = (await ask({ cmd: 'sample' })) as { sample: MemorySample };
    const connectStart = performance.now();
    for (let next = 0; next < devices; ) {
      if (Date.now() > deadline) throw new Error(`only ${next} of ${devices} devices connected in time`);
      const batch = Array.from({ length: Math.min(CONNECT_WINDOW, devices - next) }, (_, k) => connectDevice(port, `mem-${String(next + k).padStart(5, '0')}`));
      sockets.push(...(await Promise.all(batch)));
      next += batch.length;
    }
    const connectMs = Math.round(performance.now() - connectStart);
    const { sample: after } = (await ask({ cmd: 'sample' })) as { sample: MemorySample };
    const snapshot = options.snapshotDir === undefined ? undefined : ((await ask({ cmd: 'snapshot', dir: options.snapshotDir })) as { snapshot: string }).snapshot;
    const per = (k: keyof MemorySample): number => Math.round((after[k] - before[k]) / devices);
    return {
      devices,
      before,
      after,
      connectMs,
      perConnection: { rss: per('rss'), heapTotal: per('heapTotal'), heapUsed: per('heapUsed'), external: per('external'), arrayBuffers: per('arrayBuffers') },
      ...(snapshot !== undefined ? { snapshot } : {}),
    };
  } finally {
    for (const s of sockets) s.destroy();
    if (child.connected) {
      child.send({ cmd: 'stop' } satisfies ChildRequest);
      await Promise.race([once(child, 'exit'), new Promise((r) => setTimeout(r, 5_000))]);
    }
    if (child.exitCode === null) child.kill();
  }
}

/** One device's session start (docs/protocol.md): CONNECT with a will, SUBSCRIBE, retained `online`; resolves once all are answered. */
async function connectDevice(port: number, deviceId: string): Promise<Socket> {
  const socket = tcpConnect({ host: '127.0.0.1', port });
  const p = parser({ protocolVersion: 4 });
  const answered = new Set<string>();
  let wake: (() => void) | undefined;
  p.on('packet', (packet: Packet) => {
    answered.add(packet.cmd);
    wake?.();
  });
  socket.on('data', (chunk: Buffer) => p.parse(chunk));
  const until = (cmd: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (answered.has(cmd)) resolve();
        else if (socket.destroyed) reject(new Error(`${deviceId}: closed before ${cmd}`));
        else wake = check;
      };
      socket.once('close', check);
      check();
    });
  await once(socket, 'connect');
  const will = { topic: topics.status(deviceId), payload: Buffer.from('{"state":"offline"}'), qos: 1 as const, retain: true };
  socket.write(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: deviceId, keepalive: 60, username: deviceId, password: Buffer.from(SECRET), will }));
  await until('connack');
  socket.write(generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: topics.commands(deviceId), qos: 1 }] }));
  await until('suback');
  const online = JSON.stringify({ id: `${deviceId}-on`, ts: Date.now(), state: 'online', firmware: '1.4.2', batteryPct: 90 });
  socket.write(generate({ cmd: 'publish', topic: topics.status(deviceId), payload: Buffer.from(online), qos: 1, messageId: 2, retain: true, dup: false }));
  await until('puback');
  wake = undefined;
  return socket;
}

/** Memory at rest: full GCs with idle time between (V8 gives back the pages of the connect's garbage only then). */
async function sample(): Promise<MemorySample> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  for (let i = 0; i < SETTLE_ROUNDS; i++) {
    gc();
    await new Promise((r) => setTimeout(r, SETTLE_MS));
  }
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** The child: a gateway with the default options that admits every `mem-…` device. */
async function serve(): Promise<void> {
  const gateway = new Gateway({ port: 0, authenticator: { verify: (_id, secret) => secret === SECRET }, connectRateLimit: { connects: MAX_DEVICES, perMs: 1_000 } });
  gateway.onUplink(() => {});
  const { port } = await gateway.start();
  process.on('message', (m: ChildRequest) => {
    const send = (r: ChildReply): void => void process.send?.(r);
    if (m.cmd === 'sample') void sample().then((memory) => send({ sample: memory }));
    else if (m.cmd === 'snapshot') send({ snapshot: writeHeapSnapshot(`${m.dir}/gateway-${process.pid}.heapsnapshot`) });
    else void gateway.stop().then(() => {
      send({ stopped: true });
      process.exit(0);
    });
  });
  process.send?.({ port } satisfies ChildReply);
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--serve')) return serve();
  const at = argv.indexOf('--snapshot');
  const snapshotDir = at >= 0 ? argv[at + 1] : undefined;
  const count = argv.find((a, i) => /^\d+$/.test(a) && argv[i - 1] !== '--snapshot');
  const result = await measureConnectionMemory({ ...(count !== undefined ? { devices: Number(count) } : {}), ...(snapshotDir !== undefined ? { snapshotDir } : {}) });
  const p = result.perConnection;
  console.log(`idle device connections: ${result.devices}, connected in ${result.connectMs} ms (${Math.round((result.devices * 1000) / result.connectMs)}/s, 100 at a time)`);
  console.log(`per connection  RSS ${kb(p.rss)}  heap ${kb(p.heapUsed)} used, ${kb(p.heapTotal)} reserved  external ${kb(p.external)}  (array buffers ${kb(p.arrayBuffers)})`);
  if (result.snapshot !== undefined) console.log(`heap snapshot: ${result.snapshot}`);
  console.log(JSON.stringify({ connectionMemory: result }));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
