/**
 * `kanjia demo` (`npm run demo`): the whole system with embedded defaults — the
 * MQTT broker, SQLite under ./data/demo, SMS printed on the console — and a
 * simulated village of 20 households whose devices connect over real MQTT and
 * whose residents live their days on them (firmware-sim's life runner).
 * Within the first minute one resident presses her SOS button, so a newcomer
 * sees the whole path: the alarm on the dashboard, the SMS, the beeps.
 * `--speed 60` lives a day in 24 minutes (server and homes share the clock);
 * `--incident 刘玉珍:co@+2h` scripts a drill.
 */
import { ConsoleGroupChannel, ConsoleSmsSender, ConsoleVoiceCaller } from '@kanjia/alerts';
import { describeIncident, HouseholdLifeRunner, IncidentSpecError, parseIncidentSpec, planHouseholdLife, type LifeIncident, type SimDevice, type SimLogger } from '@kanjia/firmware-sim';
import { DeviceCredentials, ScaledClock, systemClock, type Clock } from '@kanjia/protocol';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { waitForSignal } from './cli.js';
import { loadSettings } from './config.js';
import { openDatabase } from './db/database.js';
import { demoVillage, seedDemoHistory } from './demo-village.js';
import { databaseFile, loadDeviceKey } from './device-key.js';
import { generatePassword } from './auth/password.js';
import { SqliteUserStore } from './auth/user-store.js';
import { SqliteRegistryStore } from './registry/registry-store.js';
import { KanjiaSystem } from './system.js';

const DemoDevices = z.array(DeviceCredentials.extend({ residentName: z.string(), address: z.string() }));
type DemoDevices = z.infer<typeof DemoDevices>;

export async function runDemo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'data-dir': { type: 'string' },
      'sos-after-seconds': { type: 'string' },
      fresh: { type: 'boolean' },
      speed: { type: 'string' },
      incident: { type: 'string', multiple: true, default: [] },
      login: { type: 'string' },
    },
    strict: true,
  });
  const sosAfterSeconds = Number(values['sos-after-seconds'] ?? 20);
  if (!Number.isFinite(sosAfterSeconds) || sosAfterSeconds < 0) throw new Error('--sos-after-seconds must be a number of seconds (0 = never)');
  const speed = Number(values.speed ?? 1);
  if (!Number.isFinite(speed) || speed < 1 || speed > 3600) throw new Error('--speed must be a number from 1 (real time) to 3600 (an hour a second)');
  const dataDir = values['data-dir'] ?? process.env.KANJIA_DATA_DIR ?? './data/demo';
  if (values.fresh) rmSync(dataDir, { recursive: true, force: true });

  // Demo defaults: console SMS, voice calls and duty group posts (printed), only error logs (the demo prints its own
  // readable lines), a 2-minute escalation so the escalation can be watched, and the visit reminder at 18:00 (printed
  // like the SMS); every KANJIA_* variable still wins.
  const settings = loadSettings(
    { KANJIA_LOG_LEVEL: 'error', KANJIA_ESCALATION_TIMEOUT_SECONDS: '120', KANJIA_VOICE_PROVIDER: 'console', KANJIA_GROUP_ROBOT: 'console', KANJIA_VISIT_REMINDER_HOUR: '18', ...process.env, KANJIA_DATA_DIR: dataDir, KANJIA_SMS_PROVIDER: 'console' },
  );
  const devices = ensureDemoRegistry(settings.dataDir, loadDeviceKey(settings));
  const demoLogin = await ensureDemoLogin(settings.dataDir, values.login);
  // Sped up, the server and the simulated homes share one clock: a day passes in 24 minutes at 60×.
  // A demo that ran sped up before has recorded times ahead of today's: its clock goes on from there.
  const resumeAt = latestRecordedTime(settings.dataDir);
  const resumes = resumeAt !== undefined && resumeAt > Date.now();
  const clock: Clock = speed > 1 || resumes ? new ScaledClock({ factor: speed, ...(resumes ? { startMs: resumeAt + 60_000 } : {}) }) : systemClock;
  const households = groupHouseholds(devices);
  const incidents = parseDemoIncidents(values.incident, households, clock.nowMs(), settings.timezone);

  const out = (line: string) => process.stdout.write(`${line}\n`);
  const print = { write: (block: string) => out(`\n${block}\n`) };
  const system = new KanjiaSystem({
    settings,
    clock,
    smsSender: new ConsoleSmsSender(print),
    // Printed like the SMS, when the settings keep the demo's console channels.
    channels: {
      ...(settings.voiceProvider === 'console' ? { voice: new ConsoleVoiceCaller({ ...print, locale: settings.locale }) } : {}),
      ...(settings.groupRobot === 'console' ? { group: new ConsoleGroupChannel(print) } : {}),
    },
  });
  const running = await system.start();

  // The household whose button will be pressed speaks (its beeps are the acknowledgements); the others are quiet.
  const pressed = Math.max(0, households.findIndex((h) => h.residentName === '王秀英'));
  const quiet = { info: () => undefined, warn: () => undefined };
  // Only the lines of the button that is pressed: its beeps are what the newcomer should see.
  const sosId = households[pressed]?.devices.find((d) => d.kind === 'sosButton')?.deviceId ?? '';
  const mine = (line: string) => line.startsWith(`[${sosId}]`) && out(`    ${line}`);
  const speaking = { info: mine, warn: mine };
  const village = new DemoVillageLife({
    brokerUrl: `mqtt://127.0.0.1:${running.mqttPort}`,
    households,
    clock,
    timeZone: settings.timezone,
    incidents,
    loggerOf: (i) => (i === pressed ? speaking : quiet),
    say: out,
  });
  await village.start();

  out('');
  out('  智慧看家 Kanjia — 演示 demo');
  out(`  值班台 Dashboard:  ${running.httpUrl}`);
  out(`  登录 Login:        ${demoLogin.name} / ${demoLogin.password}   (值班员 duty officer of ${DEMO_VILLAGE})`);
  out(`  设备接入 MQTT:     ${running.mqttUrl}`);
  out(`  数据 Data:         ${settings.dataDir}`);
  out(`  模拟 ${devices.length} 台设备已上线 (${households.length} 户) — ${devices.length} simulated devices online in ${households.length} households, living their days`);
  if (speed > 1) out(`  时间加速 ${speed} 倍 — time runs ${speed}× faster: a day passes in ${formatDuration(86_400_000 / speed)}`);
  if (resumes) out(`  演示时钟接着上次的模拟时间 ${new Date(clock.nowMs()).toISOString()} — the demo clock goes on from the last simulated time (--fresh starts over today)`);
  for (const [name, list] of incidents) for (const incident of list) out(`  演练 drill: ${name} — ${describeIncident(incident, settings.timezone)}`);
  out(sosAfterSeconds > 0 ? `  ${sosAfterSeconds} 秒后将有一位老人按下紧急按钮 — an SOS will be pressed in ${sosAfterSeconds} s` : '  (no SOS will be pressed: --sos-after-seconds 0)');
  out('  Ctrl+C 退出 to stop');
  out('');

  let timer: NodeJS.Timeout | undefined;
  if (sosAfterSeconds > 0) {
    // Real seconds, whatever the speed: the newcomer is waiting for it.
    timer = setTimeout(() => {
      const who = households[pressed];
      const button = who && village.sosButtonOf(pressed);
      if (!who || !button) return;
      out(`>>> 演示：${who.residentName}（${who.address}）按下了紧急呼叫按钮 — ${who.residentName} pressed her SOS button`);
      const press = button.pressSos();
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
  await village.stop();
  await system.stop();
  return 0;
}

interface DemoHousehold {
  householdId: string;
  residentName: string;
  address: string;
  devices: DemoDevices;
}

/** The demo's devices by household, in registry order. */
function groupHouseholds(devices: DemoDevices): DemoHousehold[] {
  const byId = new Map<string, DemoHousehold>();
  for (const d of devices) {
    let h = byId.get(d.householdId);
    if (h === undefined) {
      h = { householdId: d.householdId, residentName: d.residentName, address: d.address, devices: [] };
      byId.set(d.householdId, h);
    }
    h.devices.push(d);
  }
  return [...byId.values()];
}

/** `--incident 刘玉珍:co@+2h` → incidents by resident name; every problem is listed. */
function parseDemoIncidents(specs: readonly string[], households: readonly DemoHousehold[], startMs: number, timeZone: string): Map<string, LifeIncident[]> {
  const byName = new Map<string, LifeIncident[]>();
  const problems: string[] = [];
  for (const spec of specs) {
    const colon = spec.indexOf(':');
    const name = colon < 0 ? '' : spec.slice(0, colon);
    if (!households.some((h) => h.residentName === name)) {
      problems.push(`--incident "${spec}": start with a resident of the demo village and a colon, e.g. 刘玉珍:co@+2h (residents: ${households.map((h) => h.residentName).join(' ')})`);
      continue;
    }
    try {
      const incident = parseIncidentSpec(spec.slice(colon + 1), startMs, timeZone);
      if (incident.atMs < startMs) problems.push(`--incident "${spec}": that moment has passed (the demo's clock reads ${new Date(startMs).toISOString()}); give +90m, +2h … from now`);
      else byName.set(name, [...(byName.get(name) ?? []), incident]);
    } catch (error) {
      if (!(error instanceof IncidentSpecError)) throw error;
      problems.push(`--incident: ${error.message}`);
    }
  }
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return byName;
}

/** The latest moment the demo's database has recorded (events, telemetry, alarms), or undefined for a new one. */
function latestRecordedTime(dataDir: string): number | undefined {
  const file = databaseFile({ dataDir });
  if (!existsSync(file)) return undefined;
  const db = openDatabase(file);
  try {
    let latest: number | undefined;
    for (const sql of ['SELECT MAX(received_at) AS t FROM device_events', 'SELECT MAX(received_at) AS t FROM telemetry', 'SELECT MAX(updated_at) AS t FROM alarms', 'SELECT MAX(updated_at) AS t FROM detector_state']) {
      const t = (db.prepare(sql).get() as { t: number | null } | undefined)?.t;
      if (typeof t === 'number' && (latest === undefined || t > latest)) latest = t;
    }
    return latest;
  } finally {
    db.close();
  }
}

function formatDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  return minutes >= 1 ? `${minutes} min` : `${Math.round(ms / 1000)} s`;
}

/** Creates the demo village on first run and returns the simulated devices' credentials (kept in the demo's data directory only). */
const DEMO_VILLAGE = '石门村';
const DEMO_LOGIN = z.object({ name: z.string(), password: z.string() });

/**
 * The demo's duty officer of 石门村: created if missing, with a generated
 * password kept in the demo's data dir (demo-login.json, mode 600) so the
 * banner can print it every time; `--login NAME:PASSWORD` chooses both (and
 * sets that password if the user exists).
 */
async function ensureDemoLogin(dataDir: string, chosen: string | undefined): Promise<{ name: string; password: string }> {
  const loginFile = join(dataDir, 'demo-login.json');
  let wanted: { name: string; password: string } | undefined;
  if (chosen !== undefined) {
    const colon = chosen.indexOf(':');
    if (colon <= 0 || colon === chosen.length - 1) throw new Error('--login takes NAME:PASSWORD, e.g. --login shimen:村委值班2026');
    wanted = { name: chosen.slice(0, colon).toLowerCase(), password: chosen.slice(colon + 1) };
  } else if (existsSync(loginFile)) {
    wanted = DEMO_LOGIN.parse(JSON.parse(readFileSync(loginFile, 'utf8')));
  }
  const db = openDatabase(databaseFile({ dataDir }));
  try {
    const users = new SqliteUserStore(db, Date.now);
    const login = wanted ?? { name: 'shimen', password: generatePassword(12) };
    const existing = users.byName(login.name);
    if (!existing) {
      await users.create({ name: login.name, role: 'duty', villages: [DEMO_VILLAGE], displayName: `值班员 ${login.name}`, password: login.password });
    } else if (!(await users.checkLogin(login.name, login.password))) {
      await users.resetPassword(login.name, login.password);
    }
    writeFileSync(loginFile, JSON.stringify(login), { mode: 0o600 });
    return login;
  } finally {
    db.close();
  }
}

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
    seedDemoHistory(db, registry, Date.now());
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
 * Everyday life in the demo village: each household's resident lives the
 * routine generator's days on the household's real devices (firmware-sim's
 * HouseholdLifeRunner), so the detectors see what they would in real homes.
 * Lives are planned a week ahead; when a plan runs out, the next week of the
 * same person is planned from then, devices that are dead staying dead.
 */
class DemoVillageLife {
  private readonly runners: Array<HouseholdLifeRunner | undefined> = [];
  private stopped = false;

  constructor(
    private readonly options: {
      brokerUrl: string;
      households: readonly DemoHousehold[];
      clock: Clock;
      timeZone: string;
      incidents: ReadonlyMap<string, readonly LifeIncident[]>;
      loggerOf: (index: number) => SimLogger;
      say: (line: string) => void;
    },
  ) {}

  async start(): Promise<void> {
    await Promise.all(this.options.households.map((_, i) => this.live(i, 0)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.runners.map((r) => r?.stop()));
  }

  /** The household's emergency button as it is now (a device that lost power and came back is a new one). */
  sosButtonOf(index: number): SimDevice | undefined {
    const h = this.options.households[index];
    const id = h?.devices.find((d) => d.kind === 'sosButton')?.deviceId;
    return id === undefined ? undefined : this.runners[index]?.device(id);
  }

  private async live(index: number, round: number, previous?: HouseholdLifeRunner): Promise<void> {
    const o = this.options;
    const h = o.households[index];
    if (h === undefined || this.stopped) return;
    // The same person every round (round 0 draws her), her days new; dead devices and batteries carry over.
    const plan = planHouseholdLife({
      seed: (index + 1) * 1000 + round,
      startMs: o.clock.nowMs(),
      days: PLAN_DAYS,
      timeZone: o.timeZone,
      devices: h.devices,
      incidents: o.incidents.get(h.residentName) ?? [],
      ...(previous ? { person: previous.plan.routine.person, batteryPct: previous.batteries() } : {}),
    });
    if (round === 0 && o.incidents.has(h.residentName)) for (const note of plan.notes) o.say(`  演练 drill: ${h.residentName} — ${note}`);
    const runner = new HouseholdLifeRunner({
      brokerUrl: o.brokerUrl,
      devices: h.devices,
      plan,
      clock: o.clock,
      logger: o.loggerOf(index),
      firmware: 'sim-1.0',
      ...(previous ? { dead: previous.deadDevices() } : {}),
    });
    await previous?.stop();
    if (this.stopped) return;
    this.runners[index] = runner;
    await runner.start();
    runner
      .whenFinished()
      .then(() => this.live(index, round + 1, runner))
      .catch((error: unknown) => o.say(`  (模拟 ${h.residentName}: ${error instanceof Error ? error.message : String(error)})`));
  }
}

/** Days planned at a time; the next days of the same life follow. */
const PLAN_DAYS = 7;
