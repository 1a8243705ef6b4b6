/**
 * `npm run bench:sos`: many simulated devices press SOS against a real
 * `kanjia start` process with the Aliyun provider pointed at a local SendSms
 * server. Prints p50/p99/max latency from the device's publish to the
 * socket.io delivery and to the SMS request, and how many presses were lost
 * (must be 0). Loopback only; bounded in count and time.
 *
 *   npm run bench:sos -- --devices 300 --spread-ms 5000
 */
import { LocalAliyunSmsServer } from '@kanjia/alerts/testing';
import { SimDevice } from '@kanjia/firmware-sim';
import { SOCKET_EVENTS, type AlarmView, type RegistryFile } from '@kanjia/protocol';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';
import { freePort, runKanjia, sleep, startKanjia, tempDir } from './harness.js';

const { values } = parseArgs({
  options: { devices: { type: 'string', default: '200' }, 'spread-ms': { type: 'string', default: '5000' }, 'timeout-ms': { type: 'string', default: '60000' } },
});
const DEVICES = Math.min(2000, Math.max(1, Number(values.devices)));
const SPREAD_MS = Math.min(60_000, Math.max(0, Number(values['spread-ms'])));
const TIMEOUT_MS = Math.min(300_000, Math.max(1000, Number(values['timeout-ms'])));
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)]!;
}

function summary(name: string, ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  return `${name.padEnd(28)} n=${String(s.length).padStart(5)}  p50=${percentile(s, 50).toFixed(1).padStart(8)} ms  p99=${percentile(s, 99).toFixed(1).padStart(8)} ms  max=${(s[s.length - 1] ?? NaN).toFixed(1).padStart(8)} ms`;
}

async function main(): Promise<void> {
  const tmp = tempDir('kanjia-bench-');
  const sms = new LocalAliyunSmsServer({ accessKeyId: 'LTAIbench', accessKeySecret: 'bench-secret' });
  const aliyun = await sms.start();
  const mqttPort = await freePort();
  const env = {
    KANJIA_DATA_DIR: tmp.dir,
    KANJIA_HTTP_PORT: String(await freePort()),
    KANJIA_MQTT_PORT: String(mqttPort),
    KANJIA_MQTT_HOST: '127.0.0.1',
    KANJIA_SMS_PROVIDER: 'aliyun',
    KANJIA_ALIYUN_ACCESS_KEY_ID: 'LTAIbench',
    KANJIA_ALIYUN_ACCESS_KEY_SECRET: 'bench-secret',
    KANJIA_ALIYUN_SIGN_NAME: '智慧看家',
    KANJIA_ALIYUN_TEMPLATE_ALARM: 'SMS_300001',
    KANJIA_ALIYUN_TEMPLATE_ESCALATION: 'SMS_300002',
    KANJIA_ALIYUN_ENDPOINT: aliyun.endpoint,
    KANJIA_ALIYUN_PROTOCOL: 'http',
  };
  // One household per device, each resident with a unique name so the SMS names the press.
  const registry: RegistryFile = {
    villages: [
      {
        name: '压测村',
        timezone: 'Asia/Shanghai',
        lat: 27.11,
        lng: 111.03,
        households: Array.from({ length: DEVICES }, (_, i) => ({
          address: `压测村${Math.floor(i / 50) + 1}组${(i % 50) + 1}号`,
          lat: 27.11 + i * 1e-5,
          lng: 111.03,
          residents: [{ name: `老人${String(i).padStart(4, '0')}`, contacts: [{ name: '帮扶人', role: 'helper' as const, phone: `1380000${String(i).padStart(4, '0')}` }] }],
          devices: [{ kind: 'sosButton' as const }],
        })),
      },
    ],
  };
  const registryFile = join(tmp.dir, 'registry.json');
  writeFileSync(registryFile, JSON.stringify(registry));
  const imported = runKanjia(['import', registryFile], env);
  if (imported.status !== 0) throw new Error(imported.stderr);
  const creds = (JSON.parse(imported.stdout) as { devices: Array<{ deviceId: string; secret: string }> }).devices;

  const kanjia = await startKanjia(env, { timeoutMs: 60_000 });
  const socketAt = new Map<string, number>();
  const socket = io(kanjia.httpUrl, { transports: ['websocket'] });
  socket.on(SOCKET_EVENTS.alarmUpdate, (a: AlarmView) => {
    if (!socketAt.has(a.eventId)) socketAt.set(a.eventId, performance.now());
  });
  const smsAt = new Map<string, number>(); // resident name → first SMS request
  const origin = performance.timeOrigin;
  sms.reset();

  const devices = creds.map((c) => new SimDevice({ brokerUrl: `mqtt://127.0.0.1:${mqttPort}`, deviceId: c.deviceId, secret: c.secret, resendIntervalMs: 5000, logger: silent }));
  const connectStart = performance.now();
  for (let i = 0; i < devices.length; i += 50) await Promise.all(devices.slice(i, i + 50).map((d) => d.start()));
  const connectMs = performance.now() - connectStart;

  const pressedAt = new Map<string, number>(); // eventId → publish time
  const nameOfEvent = new Map<string, string>();
  const receivedAt = new Map<string, number>();
  const start = performance.now();
  await Promise.all(
    devices.map(async (d, i) => {
      await sleep(Math.random() * SPREAD_MS);
      const handle = d.pressSos();
      pressedAt.set(handle.eventId, performance.now());
      nameOfEvent.set(handle.eventId, `老人${String(i).padStart(4, '0')}`);
      handle.received.then(() => receivedAt.set(handle.eventId, performance.now()), () => undefined);
    }),
  );
  const deadline = start + SPREAD_MS + TIMEOUT_MS;
  while (performance.now() < deadline) {
    for (const m of sms.accepted) {
      const name = m.templateParam.name;
      if (name && !smsAt.has(name)) smsAt.set(name, m.receivedAtMs - origin);
    }
    if (socketAt.size >= DEVICES && smsAt.size >= DEVICES && receivedAt.size >= DEVICES) break;
    await sleep(50);
  }

  const toSocket: number[] = [];
  const toSms: number[] = [];
  const toReceived: number[] = [];
  let lost = 0;
  for (const [eventId, t0] of pressedAt) {
    const s = socketAt.get(eventId);
    const m = smsAt.get(nameOfEvent.get(eventId) ?? '');
    const r = receivedAt.get(eventId);
    if (s === undefined || m === undefined || r === undefined) lost++;
    if (s !== undefined) toSocket.push(s - t0);
    if (m !== undefined) toSms.push(m - t0);
    if (r !== undefined) toReceived.push(r - t0);
  }
  const { alarms } = (await (await fetch(`${kanjia.httpUrl}/api/alarms?status=all&limit=500`)).json()) as { alarms: AlarmView[] };

  const lines = [
    `bench:sos — ${DEVICES} devices, presses spread over ${SPREAD_MS} ms, loopback, one kanjia process (SQLite synchronous=FULL)`,
    `devices connected in ${connectMs.toFixed(0)} ms`,
    summary('publish → received (device)', toReceived),
    summary('publish → socket.io', toSocket),
    summary('publish → SMS request', toSms),
    `alarms in the API: ${DEVICES <= 500 ? alarms.length : 'n/a (>500)'}; SMS requests rejected: ${sms.rejected.length}`,
    `lost: ${lost}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  socket.close();
  await Promise.all(devices.map((d) => d.stop()));
  await kanjia.kill('SIGTERM');
  await sms.stop();
  tmp.cleanup();
  process.exitCode = lost === 0 ? 0 : 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:sos failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
