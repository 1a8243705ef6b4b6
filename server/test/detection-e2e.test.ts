/**
 * Issue 3, acceptance 2: the detectors end to end through MQTT (real broker,
 * real SQLite, simulated devices and a replayed dataset trial), with a fake
 * clock for the hours and the grace periods: a replayed fall raises a fall
 * alarm and an SMS after the grace period; the same fall cancelled by a press
 * raises none; an ADL trial raises none; an incapacitation raises an
 * inactivity alarm; a missed check-in raises the reminder then the alarm; a CO
 * rise raises an immediate alarm.
 */
import { FallDetector } from '@kanjia/detection';
import { readTrials, replayTrial, SimDevice, trialWindows, type FallTrial } from '@kanjia/firmware-sim';
import { FakeClock, type AlarmView, type DeviceCommand } from '@kanjia/protocol';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { oneHousehold, RecordingSender, systemClient, tempDataDir, until } from './helpers.js';

// Nine real UMAFall chest trials kept in the repo (fixtures/umafall/README.md).
const DATASET = new URL('./fixtures/umafall/chest.jsonl.gz', import.meta.url).pathname;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const silent = { info: () => undefined, warn: () => undefined };



/** The first chest fall and the first chest walking or sitting ADL of the fixture that the live detector judges as such. */
async function pickTrials(): Promise<{ fall: FallTrial; adl: FallTrial }> {
  let fall: FallTrial | undefined;
  let adl: FallTrial | undefined;
  for await (const trial of readTrials(DATASET)) {
    if (trial.position !== 'chest') continue;
    const detector = new FallDetector();
    const found = trialWindows(trial).flatMap((w) => detector.push('probe', w)).length + detector.flush('probe').length;
    if (trial.label === 'fall' && found > 0 && !fall) fall = trial;
    if (trial.label === 'adl' && found === 0 && !adl && /walk|sit/i.test(trial.activity)) adl = trial;
    if (fall && adl) return { fall, adl };
  }
  throw new Error('no suitable trials in the dataset');
}

describe('detectors end to end through MQTT (fake clock)', () => {
  let trials: { fall: FallTrial; adl: FallTrial };
  let tmp: ReturnType<typeof tempDataDir>;
  let clock: FakeClock;
  let sender: RecordingSender;
  let system: KanjiaSystem;
  let api: ReturnType<typeof systemClient>;
  let running: RunningSystem;
  let creds: Record<string, { deviceId: string; secret: string }>;
  let devices: SimDevice[];
  let commands: Array<{ deviceId: string; command: DeviceCommand }>;

  beforeAll(async () => {
    trials = await pickTrials();
  });

  async function boot(startMs: number): Promise<void> {
    tmp = tempDataDir();
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent', fallGraceSeconds: 30 } });
    const db = openDatabase(databaseFile(settings));
    const imported = new SqliteRegistryStore(db, loadDeviceKey(settings), () => startMs).importRegistry(oneHousehold([{ kind: 'sosButton' }, { kind: 'pendant' }, { kind: 'checkInButton' }, { kind: 'motionSensor' }, { kind: 'coSensor' }])).devices;
    db.close();
    creds = Object.fromEntries(imported.map((d) => [d.kind, { deviceId: d.deviceId, secret: d.secret }]));
    clock = new FakeClock(startMs);
    sender = new RecordingSender();
    system = new KanjiaSystem({ settings, clock, smsSender: sender, logger: createLogger('silent') });
    running = await system.start();
    api = systemClient(() => system.users, running.httpUrl);
    commands = [];
    devices = [];
  }

  async function device(kind: string): Promise<SimDevice> {
    const c = creds[kind]!;
    const d = new SimDevice({ brokerUrl: running.mqttUrl, deviceId: c.deviceId, secret: c.secret, logger: silent, resendIntervalMs: 60 * MINUTE, clock });
    d.on('command', (command) => commands.push({ deviceId: c.deviceId, command }));
    await d.start();
    devices.push(d);
    return d;
  }

  const alarms = async (): Promise<AlarmView[]> => (await api.get<{ alarms: AlarmView[] }>('api/alarms?status=all')).alarms;
  const ofKind = async (kind: string) => (await alarms()).filter((a) => a.kind === kind);
  /** Moves the fake clock in steps, letting MQTT and SQLite work in between. */
  async function advance(ms: number, stepMs = 5 * MINUTE): Promise<void> {
    for (let done = 0; done < ms; done += stepMs) {
      clock.advance(Math.min(stepMs, ms - done));
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  afterEach(async () => {
    await Promise.all(devices.map((d) => d.stop()));
    await system.stop();
    tmp.cleanup();
  });

  describe('falls', () => {
    beforeEach(async () => {
      await boot(Date.UTC(2026, 0, 15, 2, 0, 0)); // 10:00 in the village
    });

    async function replay(trial: FallTrial): Promise<void> {
      const c = creds.pendant!;
      await replayTrial({ brokerUrl: running.mqttUrl, deviceId: c.deviceId, secret: c.secret, trial, speed: Infinity, startTs: clock.nowMs() });
      await new Promise((r) => setTimeout(r, 100));
    }

    it(`raises a fall alarm and texts the helper 30 s after a replayed fall, not before`, async () => {
      await device('sosButton');
      await replay(trials.fall);
      expect(await ofKind('fall')).toEqual([]);
      await advance(29_000, 1000);
      expect(await ofKind('fall')).toEqual([]);
      await advance(2_000, 1000);
      const fall = await until('the fall alarm', async () => (await ofKind('fall'))[0]);
      expect(fall).toMatchObject({ kind: 'fall', severity: 'critical', status: 'open', resident: { name: '王秀英' } });
      await until('the SMS', () => sender.sent.find((m) => m.params.kind === '跌倒'));
    });

    it('raises nothing when the person presses cancel 10 s into the grace period', async () => {
      const button = await device('sosButton');
      await replay(trials.fall);
      await advance(10_000, 1000);
      await button.pressCancel().received;
      await advance(5 * MINUTE, 10_000);
      expect(await ofKind('fall')).toEqual([]);
      expect(sender.sent.filter((m) => m.params.kind === '跌倒')).toEqual([]);
    });

    it('raises nothing for a replayed ADL trial', async () => {
      await replay(trials.adl);
      await advance(5 * MINUTE, 10_000);
      expect(await ofKind('fall')).toEqual([]);
    });
  });

  it('raises an immediate CO alarm when the sensor reads 400 ppm', async () => {
    await boot(Date.UTC(2026, 0, 15, 14, 0, 0)); // 22:00, the stove is banked for the night
    const co = await device('coSensor');
    await co.sendTelemetry({ coPpm: 12 });
    await co.sendTelemetry({ coPpm: 400 });
    const alarm = await until('the CO alarm', async () => (await ofKind('co'))[0]);
    expect(alarm).toMatchObject({ kind: 'co', severity: 'critical' });
    const sms = await until('the SMS', () => sender.sent.find((m) => m.params.kind === '一氧化碳'));
    // The detector's figures reach the helper, with what to do about CO.
    expect(sms).toMatchObject({ kind: 'co', params: { detail: '浓度400ppm' } });
    expect(sms.text).toContain('一氧化碳浓度400ppm');
    expect(sms.text).toContain('开门窗通风');
  });

  it('reminds on the device at 10:00 when the daily check-in is missing, and raises the alarm at 10:30', async () => {
    await boot(Date.UTC(2026, 0, 14, 22, 0, 0)); // 06:00 in the village
    await device('checkInButton');
    await device('sosButton');
    await advance(4 * HOUR - MINUTE);
    expect(commands.filter((c) => c.command.type === 'remind' && 'reason' in c.command && c.command.reason === 'checkIn')).toEqual([]);
    await advance(2 * MINUTE, MINUTE);
    await until('the reminder', () => commands.find((c) => c.command.type === 'remind' && 'reason' in c.command && c.command.reason === 'checkIn'));
    expect(await ofKind('missedCheckIn')).toEqual([]);
    await advance(31 * MINUTE, MINUTE);
    const alarm = await until('the missed check-in alarm', async () => (await ofKind('missedCheckIn'))[0]);
    expect(alarm).toMatchObject({ kind: 'missedCheckIn', severity: 'urgent', status: 'open' });
    const sms = await until('the SMS', () => sender.sent.find((m) => m.kind === 'missedCheckIn'));
    expect(sms.params.detail).toBe('07:00–10:00未按平安键');
    expect(sms.text).toContain('07:00–10:00未按平安键，10:30报警');
  });

  it('raises an inactivity alarm when the house falls silent after morning activity', async () => {
    await boot(Date.UTC(2026, 0, 15, 0, 0, 0)); // 08:00 in the village
    const motion = await device('motionSensor');
    await device('sosButton');
    await motion.sendTelemetry({ motion: true });
    await motion.sendTelemetry({ motion: false });
    // She collapses: no sign of life any more. The unlearned routine's daytime ceiling applies.
    let alarm: AlarmView | undefined;
    for (let h = 0; h < 13 && !alarm; h++) {
      await advance(HOUR, 10 * MINUTE);
      [alarm] = await ofKind('inactivity');
    }
    expect(alarm).toMatchObject({ kind: 'inactivity', status: 'open', resident: { name: '王秀英' } });
    expect(commands.some((c) => c.command.type === 'remind')).toBe(true);
    // Silent since the last motion at 08:00, for as long as the detector measured.
    const sms = await until('the SMS', () => sender.sent.find((m) => m.kind === 'inactivity'));
    expect(sms.params.detail).toMatch(/^自08:00起已\d+小时(\d+分)?无活动$/);
    expect(sms.text).toContain(sms.params.detail);
  });
});
