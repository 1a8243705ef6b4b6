/**
 * Issue 8 (detection), end to end through MQTT with a fake clock (real broker,
 * real SQLite, simulated devices): a trip out longer than usual raises a
 * not-back-home notice that reaches the first helper by SMS with its own text
 * and does not escalate, and the person coming back notes it on the case; a
 * fall after which the bed sensor still says "occupied" beeps and asks on the
 * device and texts nobody; a fall out of bed (the bed empty) is texted as a
 * fall.
 */
import { FallDetector } from '@kanjia/detection';
import { readTrials, replayTrial, SimDevice, trialWindows, type FallTrial } from '@kanjia/firmware-sim';
import { FakeClock, type AlarmView, type DeviceCommand } from '@kanjia/protocol';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { oneHousehold, RecordingSender, systemClient, tempDataDir, until } from './helpers.js';

// Real UMAFall chest trials kept in the repo (fixtures/umafall/README.md).
const DATASET = new URL('./fixtures/umafall/chest.jsonl.gz', import.meta.url).pathname;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const silent = { info: () => undefined, warn: () => undefined };

/** The first chest fall of UMAFall that the live detector finds. */
async function pickFall(): Promise<FallTrial> {
  for await (const trial of readTrials(DATASET)) {
    if (trial.position !== 'chest' || trial.label !== 'fall') continue;
    const detector = new FallDetector();
    if (trialWindows(trial).flatMap((w) => detector.push('probe', w)).length + detector.flush('probe').length > 0) return trial;
  }
  throw new Error('no detectable fall in the dataset');
}

describe('not back home, and falls beside a bed sensor, end to end through MQTT (fake clock)', () => {
  let fallTrial: FallTrial;
  let tmp: ReturnType<typeof tempDataDir>;
  let clock: FakeClock;
  let sender: RecordingSender;
  let system: KanjiaSystem;
  let running: RunningSystem;
  let creds: Record<string, { deviceId: string; secret: string }>;
  let devices: SimDevice[];
  let commands: Array<{ deviceId: string; command: DeviceCommand }>;
  let api: ReturnType<typeof systemClient>;

  beforeAll(async () => {
    fallTrial = await pickFall();
  });

  async function boot(startMs: number): Promise<void> {
    tmp = tempDataDir();
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent', fallGraceSeconds: 30 } });
    const db = openDatabase(databaseFile(settings));
    const registry = oneHousehold([{ kind: 'sosButton' }, { kind: 'pendant' }, { kind: 'motionSensor' }, { kind: 'doorSensor', exit: true }, { kind: 'bedSensor' }]);
    const imported = new SqliteRegistryStore(db, loadDeviceKey(settings), () => startMs).importRegistry(registry).devices;
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
  async function advance(ms: number, stepMs = 5 * MINUTE): Promise<void> {
    for (let done = 0; done < ms; done += stepMs) {
      clock.advance(Math.min(stepMs, ms - done));
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  async function replayFall(): Promise<void> {
    const c = creds.pendant!;
    await replayTrial({ brokerUrl: running.mqttUrl, deviceId: c.deviceId, secret: c.secret, trial: fallTrial, speed: Infinity, startTs: clock.nowMs() });
    await new Promise((r) => setTimeout(r, 100));
  }

  afterEach(async () => {
    await Promise.all(devices.map((d) => d.stop()));
    await system.stop();
    tmp.cleanup();
  });

  it('out of the front door at 08:10 and not back after 10 h: one not-back SMS to the first helper with its own text, no reminder, no escalation; coming back is noted on the case', async () => {
    await boot(Date.UTC(2026, 0, 15, 0, 0, 0)); // 08:00 in the village
    await device('sosButton');
    const motion = await device('motionSensor');
    const door = await device('doorSensor');
    await motion.sendTelemetry({ motion: true });
    await motion.sendTelemetry({ motion: false });
    await advance(10 * MINUTE, MINUTE);
    await door.sendTelemetry({ contactOpen: true });
    await door.sendTelemetry({ contactOpen: false });
    await advance(10 * HOUR - MINUTE);
    expect(await ofKind('notBack')).toEqual([]);
    await advance(5 * MINUTE, MINUTE);
    const notice = await until('the not-back notice', async () => (await ofKind('notBack'))[0]);
    expect(notice).toMatchObject({ kind: 'notBack', severity: 'urgent', status: 'open', resident: { name: '王秀英' } });
    const sms = await until('the SMS', () => sender.sent.find((m) => m.kind === 'notBack'));
    expect(sms).toMatchObject({ to: '13800000001', template: 'alarm' });
    expect(sms.params.detail).toBe('08:10出门，已10小时未归');
    expect(sms.text).toContain('未归提醒：王秀英（石门村）08:10出门，已10小时未归');
    expect(sms.text).toContain('请给老人打个电话问问是否平安');
    // Two hours untaken: the doctor and the duty room are not texted (an urgent alarm would have climbed the chain after 15 min).
    await advance(2 * HOUR);
    expect(sender.sent.filter((m) => m.kind === 'notBack').map((m) => m.to)).toEqual(['13800000001']);
    expect(commands.filter((c) => c.command.type === 'remind')).toEqual([]);
    expect(await ofKind('inactivity')).toEqual([]);
    // She comes home.
    await door.sendTelemetry({ contactOpen: true });
    const noted = await until('the note on the case', async () => {
      const [a] = await ofKind('notBack');
      return a !== undefined && a.history.some((h) => h.action === 'note') ? a : undefined;
    });
    expect(noted.history.find((h) => h.action === 'note')?.note).toMatch(/back home/);
  });

  it('a fall while the bed sensor says occupied, and still occupied after the grace period: the pendant beeps and asks, nobody is texted', async () => {
    await boot(Date.UTC(2026, 0, 14, 16, 0, 0)); // 00:00 in the village
    await device('sosButton');
    const bed = await device('bedSensor');
    await bed.sendTelemetry({ occupancy: true });
    await advance(2 * HOUR);
    await replayFall();
    await device('pendant'); // back on its own connection after the replay's, to hear what the server says
    await advance(31_000, 1000);
    await until('the question on the pendant', () => commands.find((c) => c.deviceId === creds.pendant!.deviceId && c.command.type === 'remind' && c.command.reason === 'fall'));
    expect(commands.some((c) => c.deviceId === creds.pendant!.deviceId && c.command.type === 'beep')).toBe(true);
    await advance(10 * MINUTE, MINUTE);
    expect(await ofKind('fall')).toEqual([]);
    expect(sender.sent.filter((m) => m.kind === 'fall')).toEqual([]);
  });

  it('a fall out of bed (the bed empties, then the impact): texted as a fall after the grace period', async () => {
    await boot(Date.UTC(2026, 0, 14, 16, 0, 0)); // 00:00 in the village
    await device('sosButton');
    const bed = await device('bedSensor');
    await bed.sendTelemetry({ occupancy: true });
    await advance(2 * HOUR);
    await bed.sendTelemetry({ occupancy: false });
    await replayFall();
    await device('pendant');
    await advance(31_000, 1000);
    const fall = await until('the fall alarm', async () => (await ofKind('fall'))[0]);
    expect(fall).toMatchObject({ kind: 'fall', severity: 'critical' });
    await until('the SMS', () => sender.sent.find((m) => m.kind === 'fall'));
    expect(commands.some((c) => c.command.type === 'remind' && c.command.reason === 'fall')).toBe(false);
  });
});
