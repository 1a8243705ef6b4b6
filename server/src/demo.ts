/**
 * `kanjia demo` (`npm run demo`): the whole system with embedded defaults — the
 * MQTT broker, SQLite under ./data/demo, SMS printed on the console — and a
 * simulated village of 20 households whose devices connect over real MQTT.
 * Within the first minute one resident presses her SOS button, so a newcomer
 * sees the whole path: the alarm on the dashboard, the SMS, the beeps.
 */
import { ConsoleSmsSender } from '@kanjia/alerts';
import { SimDevice } from '@kanjia/firmware-sim';
import { DeviceCredentials } from '@kanjia/protocol';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { waitForSignal } from './cli.js';
import { loadSettings } from './config.js';
import { openDatabase } from './db/database.js';
import { demoVillage } from './demo-village.js';
import { databaseFile, loadDeviceKey } from './device-key.js';
import { SqliteRegistryStore } from './registry/registry-store.js';
import { KanjiaSystem } from './system.js';

const DemoDevices = z.array(DeviceCredentials.extend({ residentName: z.string(), address: z.string() }));
type DemoDevices = z.infer<typeof DemoDevices>;

export async function runDemo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { 'data-dir': { type: 'string' }, 'sos-after-seconds': { type: 'string' }, fresh: { type: 'boolean' } },
    strict: true,
  });
  const sosAfterSeconds = Number(values['sos-after-seconds'] ?? 20);
  if (!Number.isFinite(sosAfterSeconds) || sosAfterSeconds < 0) throw new Error('--sos-after-seconds must be a number of seconds (0 = never)');
  const dataDir = values['data-dir'] ?? process.env.KANJIA_DATA_DIR ?? './data/demo';
  if (values.fresh) rmSync(dataDir, { recursive: true, force: true });

  // Demo defaults: console SMS, only error logs (the demo prints its own readable lines), and a 2-minute escalation so the
  // escalation can be watched; every KANJIA_* variable still wins.
  const settings = loadSettings(
    { KANJIA_LOG_LEVEL: 'error', KANJIA_ESCALATION_TIMEOUT_SECONDS: '120', ...process.env, KANJIA_DATA_DIR: dataDir, KANJIA_SMS_PROVIDER: 'console' },
  );
  const devices = ensureDemoRegistry(settings.dataDir, loadDeviceKey(settings));

  const out = (line: string) => process.stdout.write(`${line}\n`);
  const system = new KanjiaSystem({ settings, smsSender: new ConsoleSmsSender({ write: (block) => out(`\n${block}\n`) }) });
  const running = await system.start();

  // The button that will be pressed speaks (its beeps are the acknowledgements); the other devices are quiet.
  const pressedIndex = Math.max(0, devices.findIndex((d) => d.kind === 'sosButton' && d.residentName === '王秀英'));
  const quiet = { info: () => undefined, warn: () => undefined };
  const speaking = { info: (line: string) => out(`    ${line}`), warn: (line: string) => out(`    ${line}`) };
  const sims = devices.map(
    (d, i) =>
      new SimDevice({
        brokerUrl: `mqtt://127.0.0.1:${running.mqttPort}`,
        deviceId: d.deviceId,
        secret: d.secret,
        firmware: 'sim-1.0',
        batteryPct: 80 + (d.deviceId.charCodeAt(3) % 20),
        logger: i === pressedIndex ? speaking : quiet,
      }),
  );
  await Promise.all(sims.map((s) => s.start()));

  out('');
  out('  智慧看家 Kanjia — 演示 demo');
  out(`  值班台 Dashboard:  ${running.httpUrl}`);
  out(`  设备接入 MQTT:     ${running.mqttUrl}`);
  out(`  数据 Data:         ${settings.dataDir}`);
  out(`  模拟 ${sims.length} 台设备已上线 (${devices.length / 3} 户) — ${sims.length} simulated devices online in ${devices.length / 3} households`);
  out(sosAfterSeconds > 0 ? `  ${sosAfterSeconds} 秒后将有一位老人按下紧急按钮 — an SOS will be pressed in ${sosAfterSeconds} s` : '  (no SOS will be pressed: --sos-after-seconds 0)');
  out('  Ctrl+C 退出 to stop');
  out('');

  const life = new DemoVillageLife(devices, sims, 'Asia/Shanghai');
  life.start();

  let timer: NodeJS.Timeout | undefined;
  if (sosAfterSeconds > 0) {
    timer = setTimeout(() => {
      const who = devices[pressedIndex];
      const sim = sims[pressedIndex];
      if (!who || !sim) return;
      out(`>>> 演示：${who.residentName}（${who.address}）按下了紧急呼叫按钮 — ${who.residentName} pressed her SOS button`);
      const press = sim.pressSos();
      press.received.then(
        () => out(`>>> 按钮“嘀”一声：求助已收到 — the button beeps: alarm received. Open ${running.httpUrl} and click 接警 (take).`),
        () => undefined,
      );
      press.taken.then(
        () => out('>>> 按钮“嘀嘀”两声：已有人接警 — the button beeps twice: somebody has taken the alarm.'),
        () => undefined,
      );
    }, sosAfterSeconds * 1000);
  }

  await waitForSignal();
  out('\nStopping…');
  if (timer) clearTimeout(timer);
  life.stop();
  await Promise.all(sims.map((s) => s.stop()));
  await system.stop();
  return 0;
}

/** Creates the demo village on first run and returns the simulated devices' credentials (kept in the demo's data directory only). */
function ensureDemoRegistry(dataDir: string, deviceKey: Buffer): DemoDevices {
  const credentialsFile = join(dataDir, 'demo-devices.json');
  if (existsSync(credentialsFile)) return DemoDevices.parse(JSON.parse(readFileSync(credentialsFile, 'utf8')));
  const db = openDatabase(databaseFile({ dataDir }));
  try {
    const registry = new SqliteRegistryStore(db, deviceKey);
    if (registry.counts().villages > 0) {
      throw new Error(`${dataDir} holds a registry but not the demo's device secrets; run "npm run demo -- --fresh" to start the demo over`);
    }
    const file = demoVillage();
    const result = registry.importRegistry(file);
    const households = file.villages.flatMap((v) => v.households);
    // Devices come back in import order, three per household.
    const perHousehold = households.map((h) => h.devices.length);
    const devices: DemoDevices = [];
    let i = 0;
    households.forEach((h, hi) => {
      for (let k = 0; k < (perHousehold[hi] ?? 0); k++) {
        const creds = result.devices[i++];
        if (creds) devices.push({ ...creds, residentName: h.residents[0]?.name ?? '', address: h.address });
      }
    });
    writeFileSync(credentialsFile, JSON.stringify(devices, null, 2), { mode: 0o600 });
    return devices;
  } finally {
    db.close();
  }
}

/**
 * Everyday life in the demo village, so the detectors see what they would in
 * real homes: the motion sensor in each 堂屋 fires now and then while people
 * are up (06:00–21:00), and everybody presses the 平安 button once in the
 * morning. Without it every demo household would be reported silent.
 */
class DemoVillageLife {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly devices: DemoDevices,
    private readonly sims: SimDevice[],
    private readonly timeZone: string,
  ) {}

  start(): void {
    this.devices.forEach((d, i) => {
      const sim = this.sims[i];
      if (!sim) return;
      if (d.kind === 'motionSensor') this.later(Math.random() * 60_000, () => this.motion(sim));
      if (d.kind === 'checkInButton') this.later(this.untilNextCheckIn(), () => this.checkIn(sim));
    });
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private motion(sim: SimDevice): void {
    const hour = this.localHour(Date.now());
    if (hour >= 6 && hour < 21) {
      void sim.sendTelemetry({ motion: true }).catch(() => undefined);
      this.later(30_000, () => void sim.sendTelemetry({ motion: false }).catch(() => undefined));
    }
    // Somebody moves through the main room every 5 to 40 minutes.
    this.later((5 + Math.random() * 35) * 60_000, () => this.motion(sim));
  }

  private checkIn(sim: SimDevice): void {
    sim.pressCheckIn();
    this.later(this.untilNextCheckIn(), () => this.checkIn(sim));
  }

  /** Milliseconds to a random moment between 06:30 and 09:30 village time, today if still ahead, else tomorrow. */
  private untilNextCheckIn(): number {
    const now = Date.now();
    const minutesNow = this.localHour(now) * 60 + this.localMinute(now);
    const target = 6 * 60 + 30 + Math.floor(Math.random() * 180);
    const minutes = target > minutesNow ? target - minutesNow : 24 * 60 - minutesNow + target;
    return minutes * 60_000;
  }

  private localHour(ms: number): number {
    return Number(new Intl.DateTimeFormat('en-GB', { timeZone: this.timeZone, hour: '2-digit', hourCycle: 'h23' }).format(ms));
  }

  private localMinute(ms: number): number {
    return Number(new Intl.DateTimeFormat('en-GB', { timeZone: this.timeZone, minute: '2-digit' }).format(ms));
  }

  private later(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }
}
