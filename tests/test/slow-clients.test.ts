/**
 * Slow HTTP clients against the real `kanjia start` process, run under an
 * open-file limit of 320 descriptors with the connection cap at 220: raw
 * sockets that trickle a header line a second and never finish their request
 * are answered 408 and cut off by the server; while 200 of them are open a
 * browser's requests and an SOS from a device over MQTT still get through;
 * 300 of them (more than the process could hold beside its devices) do not
 * take every descriptor: the connections over the cap are refused at once, and
 * a device still connects and has its SOS received.
 */
import { SimDevice } from '@kanjia/firmware-sim';
import type { DeviceCredentials } from '@kanjia/protocol';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, household, importVillage, kanjiaEnv, startKanjia, tempDir, waitFor, type ApiClient, type KanjiaProcess } from '../src/harness.js';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
const OPEN_FILE_LIMIT = 320;
const MAX_CONNECTIONS = 220;

/** A client that sends a request line and then one more header line a second, never ending its head. */
interface Trickler {
  readonly closed: Promise<void>;
  /** What the server wrote back. */
  answer(): string;
  isOpen(): boolean;
}

function trickle(port: number): Promise<Trickler> {
  return new Promise((resolve, reject) => {
    let answer = '';
    let open = true;
    let timer: NodeJS.Timeout | undefined;
    let resolveClosed: () => void = () => undefined;
    const closed = new Promise<void>((r) => (resolveClosed = r));
    const socket: Socket = connect({ port, host: '127.0.0.1' }, () => {
      socket.write(`GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);
      let n = 0;
      timer = setInterval(() => socket.write(`X-Slow-${n++}: still typing\r\n`), 1000);
      resolve({ closed, answer: () => answer, isOpen: () => open });
    });
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      open = false;
      clearInterval(timer);
      resolveClosed();
      reject(new Error('closed before connecting'));
    });
  });
}

describe('slow HTTP clients', () => {
  const tmp = tempDir();
  let env: Record<string, string>;
  let mqttPort: number;
  let httpPort: number;
  let kanjia: KanjiaProcess;
  let api: ApiClient;
  let creds: DeviceCredentials[];
  const devices: SimDevice[] = [];

  beforeAll(async () => {
    ({ env, mqttPort } = await kanjiaEnv(tmp.dir));
    env.KANJIA_HTTP_MAX_CONNECTIONS = String(MAX_CONNECTIONS);
    httpPort = Number(env.KANJIA_HTTP_PORT);
    creds = importVillage(env, [household('石门村二组3号', '张德福', [['王志强', 'helper', '13900000001']]), household('石门村二组4号', '李桂兰', [['王志强', 'helper', '13900000001']])]);
    kanjia = await startKanjia(env, { openFileLimit: OPEN_FILE_LIMIT });
    api = await apiClient(kanjia.httpUrl, env, { name: 'admin' });
  }, 60_000);

  afterAll(async () => {
    for (const d of devices) await d.stop();
    await kanjia?.kill('SIGTERM');
    tmp.cleanup();
  });

  /** A device of the registry connects over MQTT and presses SOS; resolves once `received` arrived. */
  async function sosGetsThrough(index: number): Promise<void> {
    const c = creds[index]!;
    const device = new SimDevice({ brokerUrl: `mqtt://127.0.0.1:${mqttPort}`, deviceId: c.deviceId, secret: c.secret, resendIntervalMs: 500, reconnectPeriodMs: 200, logger: silent });
    devices.push(device);
    await device.start();
    await device.pressSos().received;
  }

  it('answers 200 connections trickling headers 408 and cuts them off, while the dashboard and an SOS over MQTT still get through', async () => {
    const slow = await Promise.all(Array.from({ length: 200 }, () => trickle(httpPort)));

    const health = await fetch(`${kanjia.httpUrl}/api/health`);
    expect(health.status).toBe(200);
    expect((await api.get<{ alarms: unknown[] }>('/api/alarms')).alarms).toEqual([]);
    await sosGetsThrough(0);
    // All of this happened while the slow clients were still connected.
    expect(slow.filter((t) => t.isOpen()).length).toBe(200);

    await waitFor('every slow client cut off by the server', () => (slow.every((t) => !t.isOpen()) ? true : undefined), 30_000);
    for (const t of slow) expect(t.answer()).toMatch(/^HTTP\/1\.1 408 /);
    expect((await fetch(`${kanjia.httpUrl}/api/health`)).status).toBe(200);
  }, 60_000);

  it(`refuses connections over the cap of ${MAX_CONNECTIONS} at once, so under ${OPEN_FILE_LIMIT} open files 300 slow clients leave room for a device`, async () => {
    const slow: Trickler[] = [];
    // One at a time: each is accepted (and kept, or refused) before the next.
    for (let i = 0; i < 300; i++) {
      const t = await trickle(httpPort).catch(() => undefined);
      if (t) slow.push(t);
    }
    await sosGetsThrough(1);
    // The device got in while the cap was held by slow clients (each lasts until its head is late).
    const heldMeanwhile = slow.filter((t) => t.isOpen()).length;
    expect(heldMeanwhile).toBeGreaterThan(150);
    expect(heldMeanwhile).toBeLessThanOrEqual(MAX_CONNECTIONS);
    await Promise.all(slow.map((t) => t.closed));
    const answered = slow.filter((t) => /^HTTP\/1\.1 408 /.test(t.answer())).length;
    // Refused ones were closed without a word; the others held their place until their head was late.
    expect(answered).toBeLessThanOrEqual(MAX_CONNECTIONS);
    expect(300 - answered).toBeGreaterThanOrEqual(300 - MAX_CONNECTIONS);
    expect((await fetch(`${kanjia.httpUrl}/api/health`)).status).toBe(200);
    expect(kanjia.output()).toMatch(/HTTP connection cap \(220\) is reached/);
  }, 90_000);
});
