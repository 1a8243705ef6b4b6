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
import { SOCKET_EVENTS, type AlarmView } from '@kanjia/protocol';
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';
import { latencyLine as summary } from './bench/stats.js';
import { apiClient, household, importVillage, kanjiaEnv, sleep, startKanjia, tempDir } from './harness.js';

const { values } = parseArgs({
  options: { devices: { type: 'string', default: '200' }, 'spread-ms': { type: 'string', default: '5000' }, 'timeout-ms': { type: 'string', default: '60000' } },
});
const DEVICES = Math.min(2000, Math.max(1, Number(values.devices)));
const SPREAD_MS = Math.min(60_000, Math.max(0, Number(values['spread-ms'])));
const TIMEOUT_MS = Math.min(300_000, Math.max(1000, Number(values['timeout-ms'])));
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };


async function main(): Promise<void> {
  const tmp = tempDir('kanjia-bench-');
  const sms = new LocalAliyunSmsServer({ accessKeyId: 'LTAIbench', accessKeySecret: 'bench-secret' });
  const aliyun = await sms.start();
  const { env, mqttPort } = await kanjiaEnv(tmp.dir, { ...aliyun, accessKeyId: 'LTAIbench', accessKeySecret: 'bench-secret' });
  // One household per device, each resident with a unique name so the SMS names the press.
  const creds = importVillage(
    env,
    Array.from({ length: DEVICES }, (_, i) =>
      household(`压测村${Math.floor(i / 50) + 1}组${(i % 50) + 1}号`, `老人${String(i).padStart(4, '0')}`, [['帮扶人', 'helper', `1380000${String(i).padStart(4, '0')}`]]),
    ),
    '压测村',
  );

  const kanjia = await startKanjia(env, { timeoutMs: 60_000 });
  const socketAt = new Map<string, number>();
  // The live feed and the API need a session, as the duty room's browser has.
  const api = await apiClient(kanjia.httpUrl, env, { name: 'bench-admin' });
  const socket = io(kanjia.httpUrl, { transports: ['websocket'], extraHeaders: { cookie: api.cookie } });
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
  const { alarms } = await api.get<{ alarms: AlarmView[] }>('/api/alarms?status=all&limit=500');

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
