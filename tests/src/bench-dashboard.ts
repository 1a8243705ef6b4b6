/**
 * bench:dashboard — the village map under load, in headless Chromium against
 * a real `kanjia start` with thousands of imported households (loopback only,
 * bounded in count and time). State changes are real: the households' SOS
 * buttons connect and disconnect over MQTT (device problem ↔ learning), at a
 * fixed rate. Prints the time from the socket.io event to the pin's new
 * colour on screen (measured in the page: performance.now() at receipt, and
 * after the frame that changed the pin was painted), the longest task
 * (PerformanceObserver 'longtask') and the JS heap.
 *
 *   npm run bench:dashboard -- [--households 5000] [--rate 50] [--seconds 60]
 */
import { topics, type RegistryFile } from '@kanjia/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { launchChromium } from './browser.js';
import { addUser, kanjiaEnv, runKanjia, sleep, startKanjia, tempDir, TEST_PASSWORD } from './harness.js';

const { values } = parseArgs({
  options: {
    households: { type: 'string', default: '5000' },
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '60' },
  },
});
const HOUSEHOLDS = Math.min(20_000, Math.max(10, Number(values.households)));
const RATE = Math.min(500, Math.max(1, Number(values.rate)));
const SECONDS = Math.min(600, Math.max(1, Number(values.seconds)));
const PER_VILLAGE = 500;
/** Least time between two changes of one button. */
const MIN_GAP_MS = 20_000;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Villages of 500 households on a 25 × 20 grid, 30 m apart, villages 2 km apart. */
function registry(): RegistryFile {
  const villages: RegistryFile['villages'] = [];
  for (let v = 0; v * PER_VILLAGE < HOUSEHOLDS; v++) {
    const lat0 = 27.1 + (v % 4) * 0.018;
    const lng0 = 111.0 + Math.floor(v / 4) * 0.02;
    const n = Math.min(PER_VILLAGE, HOUSEHOLDS - v * PER_VILLAGE);
    villages.push({
      name: `测试村${v + 1}`,
      timezone: 'Asia/Shanghai',
      lat: lat0,
      lng: lng0,
      households: Array.from({ length: n }, (_, i) => ({
        address: `测试村${v + 1}${Math.floor(i / 25) + 1}组${(i % 25) + 1}号`,
        lat: lat0 + Math.floor(i / 25) * 0.00027,
        lng: lng0 + (i % 25) * 0.0003,
        residents: [{ name: `老人${v + 1}-${i + 1}`, contacts: [{ name: '帮扶人', role: 'helper' as const, phone: '13800000001' }] }],
        devices: [{ kind: 'sosButton' as const }],
      })),
    });
  }
  return { villages };
}

async function main(): Promise<void> {
  const tmp = tempDir('kanjia-bench-dashboard-');
  const { env, mqttPort } = await kanjiaEnv(tmp.dir);
  const file = join(tmp.dir, 'registry.json');
  writeFileSync(file, JSON.stringify(registry()));
  const t0 = Date.now();
  const imported = runKanjia(['import', file], env);
  if (imported.status !== 0) throw new Error(`import failed: ${imported.stderr}`);
  const devices = (JSON.parse(imported.stdout) as { devices: Array<{ deviceId: string; secret: string; householdId: string }> }).devices;
  console.log(`imported ${devices.length} households in ${Date.now() - t0} ms`);
  addUser(env, { name: 'bench', role: 'admin' });
  const kanjia = await startKanjia({ ...env, KANJIA_LOG_LEVEL: 'error' }, { timeoutMs: 60_000 });
  const browser = await launchChromium();
  const clients = new Map<string, MqttClient>();
  try {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
    await page.addInitScript(() => {
      // This runs in the page (this file is typed without the DOM).
      type Observer = new (cb: (list: { getEntries(): Array<{ duration: number }> }) => void) => { observe(o: { entryTypes: string[] }): void };
      const w = globalThis as unknown as { kanjiaLongTasks: number[]; PerformanceObserver: Observer };
      w.kanjiaLongTasks = [];
      new w.PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.kanjiaLongTasks.push(e.duration);
      }).observe({ entryTypes: ['longtask'] });
    });
    const loadStart = Date.now();
    await page.goto(`${kanjia.httpUrl}/?bench=1#/map`);
    await page.getByTestId('login-name').fill('bench');
    await page.getByTestId('login-password').fill(TEST_PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.locator('[data-testid="map-cluster"], [data-testid="map-pin"]').first().waitFor({ timeout: 120_000 });
    const loadMs = Date.now() - loadStart;
    // The first village at street level: every house its own pin.
    const first = devices[0]?.householdId ?? '';
    await page.evaluate((id) => (globalThis as unknown as { kanjiaMap: { focus(id: string): void } }).kanjiaMap.focus(id), first);
    await sleep(2_000);
    const pinsOnScreen = await page.getByTestId('map-pin').count();
    const loadLongest = await page.evaluate(() => Math.max(0, ...(globalThis as unknown as { kanjiaLongTasks: number[] }).kanjiaLongTasks));
    await page.evaluate(() => {
      (globalThis as unknown as { kanjiaLongTasks: number[] }).kanjiaLongTasks.length = 0;
      (globalThis as unknown as { kanjiaMap: { samples: unknown[] } }).kanjiaMap.samples.length = 0;
    });

    // The first two villages' buttons (the first one on screen): connecting makes a household "learning",
    // disconnecting "device problem". No button changes more than once in 20 s: more often is a flapping connection,
    // which the server debounces (at most 6 changes in 2 min before it is "unstable"), not the load measured here.
    const pool = devices.slice(0, 2 * PER_VILLAGE);
    const lastToggled = new Map<string, number>();
    const url = `mqtt://127.0.0.1:${mqttPort}`;
    const toggle = (d: { deviceId: string; secret: string }) => {
      const c = clients.get(d.deviceId);
      if (c) {
        clients.delete(d.deviceId);
        c.end(true);
        return;
      }
      // As a button does: the retained `online` status with a last will saying `offline`.
      const status = topics.status(d.deviceId);
      const client = mqtt.connect(url, {
        clientId: d.deviceId,
        username: d.deviceId,
        password: d.secret,
        reconnectPeriod: 0,
        clean: true,
        will: { topic: status, payload: Buffer.from(JSON.stringify({ state: 'offline' })), qos: 1, retain: true },
      });
      client.on('connect', () => client.publish(status, JSON.stringify({ state: 'online', ts: Date.now(), batteryPct: 90 }), { qos: 1, retain: true }));
      client.on('error', () => undefined);
      clients.set(d.deviceId, client);
    };
    const total = RATE * SECONDS;
    const startedAt = Date.now();
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let i = 0; i < total; i++) {
      const due = startedAt + (i * 1000) / RATE;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      let pick = i < pool.length ? (pool[i] as (typeof pool)[number]) : (pool[Math.floor(random() * pool.length)] as (typeof pool)[number]);
      for (let tries = 0; Date.now() - (lastToggled.get(pick.deviceId) ?? 0) < MIN_GAP_MS && tries < 50; tries++) pick = pool[Math.floor(random() * pool.length)] as (typeof pool)[number];
      lastToggled.set(pick.deviceId, Date.now());
      toggle(pick);
    }
    await sleep(3_000);
    const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const stats = (await (await fetch(`${kanjia.httpUrl}/api/stats`, { headers: { cookie } })).json()) as { gateway: { connected: number; connections: number; authFailures: number } };
    console.log(`gateway: ${stats.gateway.connected} connected, ${stats.gateway.connections} connections, ${stats.gateway.authFailures} refused`);
    const result = await page.evaluate(() => {
      const g = globalThis as unknown as { kanjiaMap: { samples: Array<{ ms: number; visible: boolean }> }; kanjiaLongTasks: number[]; performance: { memory?: { usedJSHeapSize: number } } };
      return { samples: g.kanjiaMap.samples, longTasks: g.kanjiaLongTasks, heap: g.performance.memory?.usedJSHeapSize ?? 0 };
    });
    const visible = result.samples.filter((s) => s.visible).map((s) => s.ms).sort((a, b) => a - b);
    const all = result.samples.map((s) => s.ms).sort((a, b) => a - b);
    const longest = Math.max(0, ...result.longTasks);
    const summary = {
      households: devices.length,
      changesSent: total,
      ratePerSecond: RATE,
      seconds: SECONDS,
      pageLoadMs: loadMs,
      longestTaskDuringLoadMs: Math.round(loadLongest),
      pinsOnScreen,
      eventsApplied: all.length,
      eventsOnVisiblePins: visible.length,
      eventToPaintVisibleMs: { p50: Math.round(percentile(visible, 50)), p95: Math.round(percentile(visible, 95)), max: Math.round(visible.at(-1) ?? NaN) },
      eventToPaintAllMs: { p50: Math.round(percentile(all, 50)), p95: Math.round(percentile(all, 95)) },
      longestTaskMs: Math.round(longest),
      tasksOver200Ms: result.longTasks.filter((d) => d > 200).length,
      jsHeapMb: Math.round(result.heap / 1e5) / 10,
    };
    console.log(`map of ${summary.households} households, ${summary.pinsOnScreen} pins on screen; ${RATE} changes/s for ${SECONDS} s`);
    console.log(`event → pin painted (visible pins, n=${visible.length}): p50 ${summary.eventToPaintVisibleMs.p50} ms, p95 ${summary.eventToPaintVisibleMs.p95} ms, max ${summary.eventToPaintVisibleMs.max} ms`);
    console.log(`longest task ${summary.longestTaskMs} ms (${summary.tasksOver200Ms} over 200 ms); during the first load ${summary.longestTaskDuringLoadMs} ms; JS heap ${summary.jsHeapMb} MB; page load ${loadMs} ms`);
    console.log(JSON.stringify(summary));
  } finally {
    for (const c of clients.values()) c.end(true);
    await browser.close();
    await kanjia.kill('SIGTERM');
    tmp.cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
