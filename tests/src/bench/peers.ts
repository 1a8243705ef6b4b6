/**
 * The peers bench:load measures beside Kanjia, each in its own process on
 * 127.0.0.1: Debian's Mosquitto (temp config on a free port), a bare aedes,
 * the ~25-line mqtt.js + fetch forwarder and Node-RED (installed at bench time
 * into a cache directory, never a dependency of the project).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sleep } from '../harness.js';

export interface PeerProcess {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  output(): string;
  stop(): Promise<void>;
}

/** Spawns `command`, resolves once `ready(output)` is true; rejects if it exits first or after timeoutMs. */
async function startChild(name: string, command: string, args: string[], port: number, ready: (out: string) => boolean | Promise<boolean>, timeoutMs: number): Promise<PeerProcess> {
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited before it was ready:\n${out}`);
    if (await ready(out)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} was not ready within ${timeoutMs} ms:\n${out}`);
    }
    await sleep(50);
  }
  return {
    name,
    pid: child.pid!,
    port,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** Debian's mosquitto with anonymous access, no persistence, no connection cap, on a free loopback port. */
export async function startMosquitto(dir: string): Promise<PeerProcess> {
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'max_connections -1', 'persistence false', 'log_dest none', ''].join('\n'));
  // Debian installs it in /usr/sbin, which a normal user's PATH may not hold.
  const binary = spawnSync('sh', ['-c', 'command -v mosquitto']).status === 0 ? 'mosquitto' : '/usr/sbin/mosquitto';
  return startChild('mosquitto', binary, ['-c', conf], port, () => listening(port), 10_000);
}

const here = fileURLToPath(new URL('.', import.meta.url));

/** bare-aedes.js in its own Node process. */
export async function startBareAedes(): Promise<PeerProcess> {
  let port = 0;
  const p = await startChild('bare aedes', process.execPath, [join(here, 'bare-aedes.js')], 0, (out) => {
    const m = /\{"port":(\d+)\}/.exec(out);
    if (m) port = Number(m[1]);
    return port > 0;
  }, 10_000);
  return { ...p, port };
}

/** forwarder.js: Mosquitto → one SMS request per SOS. */
export function startForwarder(mqttPort: number, smsUrl: string): Promise<PeerProcess> {
  return startChild('forwarder', process.execPath, [join(here, 'forwarder.js'), `mqtt://127.0.0.1:${mqttPort}`, smsUrl], 0, (out) => out.includes('ready'), 10_000);
}

/** Where bench:load installs Node-RED (once): ~/.cache/kanjia-bench/node-red, or $KANJIA_BENCH_CACHE/node-red. */
export function nodeRedDir(): string {
  return join(process.env.KANJIA_BENCH_CACHE ?? join(homedir(), '.cache', 'kanjia-bench'), 'node-red');
}

/** Installs Node-RED 4 into nodeRedDir() unless it is there; returns its red.js, or a reason why not. */
export function ensureNodeRed(log: (line: string) => void): { redJs: string } | { unavailable: string } {
  const dir = nodeRedDir();
  const redJs = join(dir, 'node_modules', 'node-red', 'red.js');
  if (existsSync(redJs)) return { redJs };
  mkdirSync(dir, { recursive: true });
  log(`installing Node-RED 4 into ${dir} (once; npm install --prefix) …`);
  const r = spawnSync('npm', ['install', '--prefix', dir, 'node-red@4', '--no-audit', '--no-fund', '--omit=dev'], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0 || !existsSync(redJs)) return { unavailable: `npm install node-red@4 failed (${r.status ?? r.signal ?? r.error?.message}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' ')}` };
  return { redJs };
}

/** Node-RED with one flow: mqtt in (Mosquitto, QoS 1) → function (SOS only, URL with OutId) → http request (POST) to the SMS server. */
export async function startNodeRed(redJs: string, dir: string, mqttPort: number, smsUrl: string): Promise<PeerProcess> {
  const port = await freePort();
  const userDir = join(dir, 'node-red-user');
  mkdirSync(userDir, { recursive: true });
  const flows = [
    { id: 'tab1', type: 'tab', label: 'bench' },
    { id: 'broker1', type: 'mqtt-broker', name: 'mosquitto', broker: '127.0.0.1', port: String(mqttPort), clientid: 'bench-node-red', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true },
    { id: 'in1', type: 'mqtt in', z: 'tab1', name: 'events', topic: 'kanjia/v1/devices/+/events', qos: '1', datatype: 'json', broker: 'broker1', nl: false, rap: true, rh: 0, inputs: 0, wires: [['fn1']] },
    {
      id: 'fn1',
      type: 'function',
      z: 'tab1',
      name: 'SOS to SMS',
      func: `if (!msg.payload || msg.payload.type !== 'sos') return null;\nmsg.url = ${JSON.stringify(smsUrl)} + '/?Action=SendSms&OutId=' + encodeURIComponent(msg.payload.id);\nmsg.method = 'POST';\nmsg.headers = { 'content-type': 'application/json' };\nmsg.payload = { text: '紧急求助 ' + msg.topic.split('/')[3] };\nreturn msg;`,
      outputs: 1,
      wires: [['http1']],
    },
    { id: 'http1', type: 'http request', z: 'tab1', name: 'SendSms', method: 'use', ret: 'txt', url: '', persist: true, wires: [[]] },
  ];
  const flowsFile = join(userDir, 'flows.json');
  writeFileSync(flowsFile, JSON.stringify(flows, null, 2));
  // The editor on loopback only (Node-RED listens on every interface by default).
  const settings = join(userDir, 'bench-settings.cjs');
  writeFileSync(settings, `module.exports = ${JSON.stringify({ uiHost: '127.0.0.1', uiPort: port, flowFile: flowsFile, credentialSecret: false, logging: { console: { level: 'info' } } })};\n`);
  return startChild('Node-RED', process.execPath, [redJs, '--userDir', userDir, '--settings', settings], port, (out) => /Connected to broker/.test(out), 90_000);
}
