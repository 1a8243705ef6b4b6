/**
 * Issue 9, acceptance 3, through real processes: `kanjia start` with the
 * Aliyun provider pointed at the local SendSms server, simulated buttons over
 * real MQTT, a logged-in socket.io client and the dashboard in headless
 * Chromium.
 *
 * - A stuck SOS button pressing 20 times a second for 10 s (a new event id
 *   each press, each resent until its `received`, and sent within the
 *   gateway's uplink limit as docs/protocol.md §1 tells devices to: a burst,
 *   then 5 a second): one case, counted 200, its history bounded, one SMS,
 *   and the live feed's bytes bounded.
 * - A button whose connection drops 50 times in 8 s: a few presence changes
 *   reach the dashboard, which says 连接不稳定 instead of flickering, and the
 *   registry ends with the button's real state.
 */
import { LocalAliyunSmsServer } from '@kanjia/alerts/testing';
import { SimDevice } from '@kanjia/firmware-sim';
import { TokenBucket } from '@kanjia/gateway';
import { SOCKET_EVENTS, topics, type AlarmView, type DeviceEvent, type DeviceHealthList, type DevicePresenceEvent } from '@kanjia/protocol';
import { connect, type MqttClient } from 'mqtt';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, logIn } from '../src/browser.js';
import { apiClient, haveBinary, household, importVillage, kanjiaEnv, REPO_ROOT, sleep, startKanjia, tempDir, waitFor, type ApiClient, type KanjiaProcess } from '../src/harness.js';

const hasChromium = haveBinary(CHROMIUM, 'apt-get install chromium');
const silent = { info: () => undefined, warn: () => undefined };
const PRESSES_PER_SECOND = 20;
const SECONDS = 10;
const PRESSES = PRESSES_PER_SECOND * SECONDS;
const SCREENSHOTS = join(REPO_ROOT, 'tests', 'screenshots');

/**
 * A stuck button as the contract wants a device to behave: every press is an
 * event with its own id, queued on the device, sent with QoS 1 within the
 * gateway's uplink limit (its own bucket a little under the gateway's burst of
 * 50 and 5 a second, the `online` status included) and sent again every 3 s
 * until its `received` arrives.
 */
class StuckButton {
  private readonly client: MqttClient;
  private readonly queue = new Map<string, { event: DeviceEvent; sentAt: number | undefined }>();
  private readonly heard = new Set<string>();
  private readonly bucket = new TokenBucket(45, 10_000, Date.now());
  private readonly timer: ReturnType<typeof setInterval>;
  private connected = false;
  private count = 0;

  constructor(url: string, private readonly deviceId: string, secret: string) {
    this.client = connect(url, {
      protocolVersion: 4,
      clientId: deviceId,
      username: deviceId,
      password: secret,
      clean: true,
      reconnectPeriod: 500,
      will: { topic: topics.status(deviceId), payload: JSON.stringify({ state: 'offline' }), qos: 1, retain: true },
    });
    this.client.on('connect', () => {
      void this.client.subscribeAsync(topics.commands(deviceId), { qos: 1 }).then(() => {
        if (this.bucket.take(Date.now())) this.client.publish(topics.status(deviceId), JSON.stringify({ state: 'online' }), { qos: 1, retain: true });
        this.connected = true;
      });
    });
    this.client.on('close', () => (this.connected = false));
    this.client.on('message', (_topic, payload) => {
      const command = JSON.parse(payload.toString()) as { type: string; eventId?: string };
      if (command.type === 'received' && command.eventId) this.heard.add(command.eventId);
    });
    this.timer = setInterval(() => this.send(), 20);
  }

  /** One press: queued at once, sent when the limit allows. */
  press(): void {
    const id = `stuck-${++this.count}`;
    this.queue.set(id, { event: { id, ts: Date.now(), type: 'sos' }, sentAt: undefined });
  }

  /** Presses whose `received` has arrived. */
  get acknowledged(): number {
    return this.heard.size;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.client.endAsync();
  }

  private send(): void {
    if (!this.connected) return;
    const now = Date.now();
    for (const [id, q] of this.queue) {
      if (this.heard.has(id)) {
        this.queue.delete(id);
        continue;
      }
      if (q.sentAt !== undefined && now - q.sentAt < 3_000) continue;
      if (!this.bucket.take(now)) return;
      q.sentAt = now;
      this.client.publish(topics.events(this.deviceId), JSON.stringify(q.event), { qos: 1 });
    }
  }
}

describe.skipIf(!hasChromium)('a stuck button and a flapping connection, through real processes', () => {
  const tmp = tempDir();
  const sms = new LocalAliyunSmsServer({ accessKeyId: 'LTAIstuck', accessKeySecret: 'stuck-secret' });
  let kanjia: KanjiaProcess;
  let api: ApiClient;
  let socket: Socket;
  let mqttUrl: string;
  let stuck: { deviceId: string; secret: string };
  let flapping: { deviceId: string; secret: string };
  let browser: Browser;
  let page: Page;
  /** Bytes of every socket.io message the logged-in client received. */
  let feedBytes = 0;
  const presence: DevicePresenceEvent[] = [];
  const wholeCases: AlarmView[] = [];
  const stopLater: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    const aliyun = await sms.start();
    const { env, mqttPort } = await kanjiaEnv(tmp.dir, { ...aliyun, accessKeyId: 'LTAIstuck', accessKeySecret: 'stuck-secret' });
    mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
    const creds = importVillage(env, [
      household('石门村一组12号', '王秀英', [['刘建军', 'helper', '13800000001']]),
      household('石门村二组3号', '张德福', [['王志强', 'helper', '13900000001']]),
    ]);
    stuck = creds[0]!;
    flapping = creds[1]!;
    kanjia = await startKanjia(env);
    api = await apiClient(kanjia.httpUrl, env, { name: 'admin' });
    socket = io(kanjia.httpUrl, { transports: ['websocket'], reconnection: false, extraHeaders: { cookie: api.cookie } });
    socket.io.engine.on('packet', (packet: { type: string; data?: unknown }) => {
      if (packet.type === 'message' && typeof packet.data === 'string') feedBytes += Buffer.byteLength(packet.data);
    });
    socket.on(SOCKET_EVENTS.devicePresence, (p: DevicePresenceEvent) => presence.push(p));
    socket.on(SOCKET_EVENTS.alarmUpdate, (a: AlarmView) => wholeCases.push(a));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    socket?.close();
    await page?.close();
    await browser?.close();
    await Promise.all(stopLater.map((stop) => stop()));
    await kanjia?.kill('SIGTERM');
    await sms.stop();
    tmp.cleanup();
  });

  it(
    `a button stuck at ${PRESSES_PER_SECOND} presses a second for ${SECONDS} s: every press heard, one case counted ${PRESSES}, history bounded, one SMS, live-feed bytes bounded`,
    async () => {
      const button = new StuckButton(mqttUrl, stuck.deviceId, stuck.secret);
      stopLater.push(() => button.stop());
      await waitFor('the button connected', () => (presence.some((p) => p.deviceId === stuck.deviceId && p.online) ? true : undefined), 10_000);
      const bytesBefore = feedBytes;
      const started = Date.now();
      for (let i = 0; i < PRESSES; i++) {
        button.press();
        // Paced against the wall clock, so a slow loop does not stretch the storm.
        const wait = started + ((i + 1) * 1000) / PRESSES_PER_SECOND - Date.now();
        if (wait > 0) await sleep(wait);
      }
      // Sent at the device's allowed rate, each until heard: the last ones ~30 s after the first.
      await waitFor(`all ${PRESSES} presses heard`, () => (button.acknowledged === PRESSES ? true : undefined), 90_000);
      const drainedMs = Date.now() - started;

      const { alarms } = await api.get<{ alarms: AlarmView[] }>('/api/alarms?status=all');
      expect(alarms).toHaveLength(1);
      const alarm = alarms[0]!;
      const alarmId = alarm.id;
      expect(alarm.repeats).toMatchObject({ count: PRESSES });
      expect(alarm.history.filter((h) => h.action === 'duplicate')).toHaveLength(1);
      expect(alarm.history.length).toBeLessThanOrEqual(5);
      await sms.waitFor((m) => m.phoneNumbers === '13800000001', 15_000);
      // The last count and the SMS's own changes reach the feed.
      await waitFor('the feed quiet again', async () => {
        const before = feedBytes;
        await sleep(1_500);
        return feedBytes === before ? true : undefined;
      }, 30_000);
      expect(sms.accepted.filter((m) => m.phoneNumbers === '13800000001')).toHaveLength(1);

      const bytes = feedBytes - bytesBefore;
      // One whole case per press (the old behaviour) would be at least this, before its history grew.
      const wholePerPress = PRESSES * Buffer.byteLength(JSON.stringify(alarm));
      process.stderr.write(
        `stuck button: ${PRESSES} presses heard in ${(drainedMs / 1000).toFixed(1)} s; live feed ${bytes} bytes (${wholeCases.length} whole cases in all; a case per press: ≥ ${wholePerPress} bytes); ${presence.filter((p) => p.deviceId === stuck.deviceId).length} presence changes\n`,
      );
      expect(bytes).toBeLessThan(48 * 1024);
      expect(bytes * 10).toBeLessThan(wholePerPress);
      expect(wholeCases.filter((a) => a.id === alarmId).length).toBeLessThanOrEqual(8);
    },
    180_000,
  );

  it(
    'a button whose connection drops 50 times in 8 s: a few presence changes, the dashboard says 连接不稳定, and the registry ends with its real state',
    async () => {
      // Her button was pressed, so the desk shows her case (and the button's connection on it).
      const first = new SimDevice({ brokerUrl: mqttUrl, deviceId: flapping.deviceId, secret: flapping.secret, logger: silent });
      await first.start();
      const { alarmId } = await first.pressSos().received;
      await first.stop();

      page = await browser.newPage({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
      await page.goto(kanjia.httpUrl);
      await logIn(page, 'admin');
      const card = page.locator(`[data-testid="alarm-card"][data-alarm-id="${alarmId}"]`);
      await card.waitFor({ timeout: 15_000 });
      await waitFor('the page’s live feed', async () => ((await page.getByTestId('connection-banner').count()) === 0 ? true : undefined), 15_000);
      // The stuck button's case (the test before) says how often she pressed, not one line per press.
      const stuckCard = page.locator('[data-testid="alarm-card"]').filter({ hasText: '王秀英' });
      await expect.poll(() => stuckCard.getByTestId('alarm-repeats').textContent(), { timeout: 10_000 }).toMatch(/^按了 200 次（最近 \d\d:\d\d）$/);
      mkdirSync(SCREENSHOTS, { recursive: true });
      await stuckCard.screenshot({ path: join(SCREENSHOTS, 'stuck-button-card.png') });

      const mine = () => presence.filter((p) => p.deviceId === flapping.deviceId);
      const before = mine().length;
      const started = Date.now();
      for (let i = 0; i < 50; i++) {
        // Connects, says it is online, and the link drops (no clean goodbye: the broker sends its will).
        const c = connect(mqttUrl, { protocolVersion: 4, clientId: flapping.deviceId, username: flapping.deviceId, password: flapping.secret, clean: true, reconnectPeriod: 0, will: { topic: topics.status(flapping.deviceId), payload: JSON.stringify({ state: 'offline' }), qos: 1, retain: true } });
        await new Promise<void>((resolve, reject) => {
          c.once('connect', () => resolve());
          c.once('error', reject);
        });
        await c.publishAsync(topics.status(flapping.deviceId), JSON.stringify({ state: 'online' }), { qos: 1, retain: true });
        c.stream.destroy();
        await new Promise<void>((resolve) => (c.disconnected ? resolve() : c.once('close', () => resolve())));
        c.end(true);
        const wait = started + ((i + 1) * 8000) / 50 - Date.now();
        if (wait > 0) await sleep(wait);
      }
      const flapMs = Date.now() - started;
      // It ends away: the held last change arrives within the 5 s hold.
      await waitFor('the last drop on the feed', () => (mine().at(-1)?.online === false && mine().at(-1)?.unstable === true ? true : undefined), 15_000);
      const pushed = mine().length - before;
      process.stderr.write(`flapping: 50 connections in ${(flapMs / 1000).toFixed(1)} s (100 changes), ${pushed} presence changes pushed\n`);
      expect(pushed).toBeLessThanOrEqual(Math.ceil(flapMs / 5_000) + 2);

      await expect.poll(() => card.getByTestId('device-unstable').textContent(), { timeout: 10_000 }).toContain('连接不稳定');
      expect(await card.getByTestId('device-offline').count()).toBe(0);
      await card.screenshot({ path: join(SCREENSHOTS, 'stuck-unstable-card.png') });

      const { devices: list } = await api.get<DeviceHealthList>('/api/devices?problem=any');
      expect(list.find((d) => d.id === flapping.deviceId)).toMatchObject({ online: false, problems: ['unstable'] });
      // The device list says so too.
      await page.goto(`${kanjia.httpUrl}/#/devices`);
      const row = page.locator(`[data-testid="device-row"][data-device-id="${flapping.deviceId}"]`);
      await expect.poll(() => row.getAttribute('data-problems'), { timeout: 10_000 }).toBe('unstable');
      expect(await row.textContent()).toContain('连接不稳定');
    },
    120_000,
  );
});
