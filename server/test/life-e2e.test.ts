/**
 * Issue 3, simulator: a village of fully equipped households lives a day and
 * a half through the real broker and server, each household's life played by
 * the firmware simulator's HouseholdLifeRunner from the routine generator,
 * one scripted incident per household (fall, a fall the person gets up from,
 * a CO leak, a house going cold, a flat battery, a power cut) and one
 * household where nothing goes wrong. A fake clock shared by the server and
 * the devices moves from one timer to the next, so a day and a half take
 * seconds and every reaction (the person cancelling after the beep, answering
 * a reminder) happens at its simulated moment.
 */
import { HouseholdLifeRunner, planHouseholdLife, silentLogger, type LifeIncident, type LifeStep } from '@kanjia/firmware-sim';
import { FakeClock, formatLocalDateTime, type AlarmView, type DeviceCredentials, type RegistryFile } from '@kanjia/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { RecordingSender, systemClient, tempDataDir } from './helpers.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const TZ = 'Asia/Shanghai';
/** 06:00 on 1 December 2026 in the village: the heating season. */
const START = Date.UTC(2026, 10, 30, 22, 0);
/** Until 18:00 the next day. */
const END = START + 36 * HOUR;
const at = (hoursAfterStart: number) => START + hoursAfterStart * HOUR;


const HOUSEHOLDS: Array<{ name: string; seed: number; incidents: LifeIncident[] }> = [
  { name: '平安户', seed: 11, incidents: [] },
  { name: '跌倒户', seed: 12, incidents: [{ kind: 'fall', atMs: at(4.5) }] },
  { name: '摔倒自起户', seed: 13, incidents: [{ kind: 'fall', atMs: at(4.5), getsUp: true }] },
  { name: '煤气户', seed: 14, incidents: [{ kind: 'coLeak', atMs: at(17), peakPpm: 400, rampMin: 60, overcomes: true }] },
  { name: '冷屋户', seed: 15, incidents: [{ kind: 'coldHouse', atMs: at(14) }] },
  { name: '没电户', seed: 16, incidents: [{ kind: 'deadBattery', atMs: at(8), device: 'sosButton' }] },
  { name: '停电户', seed: 17, incidents: [{ kind: 'powerCut', atMs: at(19), minutes: 180 }] },
];

function village(): RegistryFile {
  return {
    villages: [
      {
        name: '石门村',
        timezone: TZ,
        lat: 27.11,
        lng: 111.03,
        households: HOUSEHOLDS.map((h, i) => ({
          address: `石门村一组${i + 1}号`,
          lat: 27.11 + i / 1000,
          lng: 111.03,
          residents: [{ name: h.name, contacts: [{ name: '刘建军', role: 'helper' as const, phone: '13800000001' }, { name: '村委值班室', role: 'duty' as const, phone: '13800000003' }] }],
          devices: [
            { kind: 'sosButton' as const },
            { kind: 'pendant' as const },
            { kind: 'checkInButton' as const },
            { kind: 'motionSensor' as const, label: '堂屋' },
            { kind: 'motionSensor' as const, label: '卧室' },
            { kind: 'doorSensor' as const, exit: true },
            { kind: 'bedSensor' as const },
            { kind: 'powerMeter' as const },
            { kind: 'coSensor' as const },
            { kind: 'thermometer' as const },
            { kind: 'hub' as const },
          ],
        })),
      },
    ],
  };
}

describe('a simulated village lives a day and a half through MQTT (fake clock)', () => {
  const tmp = tempDataDir();
  const clock = new FakeClock(START - MIN);
  const sender = new RecordingSender();
  let system: KanjiaSystem;
  let api: ReturnType<typeof systemClient>;
  let running: RunningSystem;
  const runners = new Map<string, HouseholdLifeRunner>();
  let alarms: AlarmView[] = [];
  let online = 0;
  let connections = 0;
  const played: Array<{ household: string; step: LifeStep }> = [];

  beforeAll(async () => {
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent', fallGraceSeconds: 30 } });
    const db = openDatabase(databaseFile(settings));
    const devices = new SqliteRegistryStore(db, loadDeviceKey(settings), () => clock.nowMs()).importRegistry(village()).devices;
    db.close();
    system = new KanjiaSystem({ settings, clock, smsSender: sender, logger: createLogger('silent') });
    running = await system.start();
    api = systemClient(() => system.users, running.httpUrl);

    const byHousehold = new Map<string, DeviceCredentials[]>();
    for (const d of devices) byHousehold.set(d.householdId, [...(byHousehold.get(d.householdId) ?? []), d]);
    const households = [...byHousehold.values()];
    for (const [i, h] of HOUSEHOLDS.entries()) {
      const creds = households[i]!;
      const plan = planHouseholdLife({ seed: h.seed, startMs: START, days: 2, timeZone: TZ, devices: creds, incidents: h.incidents });
      const runner = new HouseholdLifeRunner({
        brokerUrl: running.mqttUrl,
        devices: creds,
        plan,
        clock,
        logger: silentLogger,
        resendIntervalMs: MIN,
        onStep: (step) => played.push({ household: h.name, step }),
      });
      runners.set(h.name, runner);
    }
    await Promise.all([...runners.values()].map((r) => r.start()));
    clock.advance(MIN);

    // From timer to timer: whatever a device sends is in the server before the next moment comes.
    let last = 0;
    while (clock.nowMs() < END) {
      const next = Math.min(clock.nextDueMs() ?? END, END, clock.nowMs() + 10 * MIN);
      clock.advance(Math.max(0, next - clock.nowMs()));
      await Promise.all([...runners.values()].map((r) => r.settled()));
      // Let commands from the server (beeps, reminders) reach the devices.
      await new Promise((r) => setTimeout(r, next - last > 0 ? 1 : 0));
      last = next;
    }
    await new Promise((r) => setTimeout(r, 200));
    alarms = (await api.get<{ alarms: AlarmView[] }>('api/alarms?status=all')).alarms;
    const stats = await api.get<{ devices: { online: number }; gateway: { connections: number } }>('api/stats');
    online = stats.devices.online;
    connections = stats.gateway.connections;
  }, 240_000);

  afterAll(async () => {
    await Promise.all([...runners.values()].map((r) => r.stop()));
    await system?.stop();
    tmp.cleanup();
  });

  const of = (resident: string) => alarms.filter((a) => a.resident.name === resident);
  const describeAlarms = (list: AlarmView[]) => list.map((a) => `${a.kind}/${a.severity} at ${formatLocalDateTime(TZ, a.openedAt)} ${JSON.stringify(a)}`).join('; ');

  it("plays a day and a half of every household's life over MQTT, nothing refused", () => {
    for (const [name, runner] of runners) {
      expect(runner.stats.played, name).toBeGreaterThan(300);
      expect(runner.stats.failed, name).toBe(0);
    }
  });

  it('raises nothing for the household where nothing goes wrong', () => {
    expect(describeAlarms(of('平安户'))).toBe('');
    const stats = runners.get('平安户')!.stats;
    // The 平安 presses of two mornings, or the answers to their reminders, kept the check-in quiet.
    expect(stats.played).toBeGreaterThan(500);
  });

  it('a fall on the floor: a critical fall alarm and an SMS to the helper, after the grace period', () => {
    const falls = of('跌倒户').filter((a) => a.kind === 'fall');
    expect(falls).toHaveLength(1);
    const fall = falls[0]!;
    expect(fall.severity).toBe('critical');
    expect(fall.openedAt - at(4.5)).toBeGreaterThanOrEqual(30_000);
    expect(fall.openedAt - at(4.5)).toBeLessThan(3 * MIN);
    expect(sender.sent.some((m) => m.outId !== undefined && m.text.includes('跌倒户') && m.text.includes('跌倒'))).toBe(true);
  });

  it('a fall the person gets up from: the device beeps, she presses cancel, no fall alarm', () => {
    expect(runners.get('摔倒自起户')!.stats.cancelledFalls).toBe(1);
    expect(of('摔倒自起户').filter((a) => a.kind === 'fall')).toEqual([]);
  });

  it('a CO leak at night: a critical CO alarm within minutes of the level passing 300 ppm', () => {
    const co = of('煤气户').filter((a) => a.kind === 'co');
    expect(co).toHaveLength(1);
    expect(co[0]!.severity).toBe('critical');
    // 400 ppm over an hour passes 300 ppm after about 28 min (EN 50291: alarm within 3 min at 300 ppm).
    expect(co[0]!.openedAt - at(17)).toBeLessThan(45 * MIN);
    expect(sender.sent.some((m) => m.text.includes('煤气户') && m.text.includes('一氧化碳'))).toBe(true);
  });

  it('a house going cold: a cold alarm once the room has been below 5 °C for three hours', () => {
    const cold = of('冷屋户').filter((a) => a.kind === 'cold');
    expect(cold).toHaveLength(1);
    expect(cold[0]!.openedAt - at(14)).toBeGreaterThan(3 * HOUR);
    expect(cold[0]!.openedAt - at(14)).toBeLessThan(14 * HOUR);
  });

  it('a flat battery: low battery first, then the button is reported offline', () => {
    const kinds = of('没电户').map((a) => a.kind);
    expect(kinds).toContain('lowBattery');
    expect(kinds).toContain('deviceOffline');
    const low = of('没电户').find((a) => a.kind === 'lowBattery')!;
    const offline = of('没电户').find((a) => a.kind === 'deviceOffline')!;
    expect(low.openedAt).toBeLessThan(offline.openedAt);
    // Dead at 14:00: the broker publishes its last will; reported after the 10-minute grace, in the day.
    expect(offline.openedAt - at(8)).toBeGreaterThanOrEqual(10 * MIN);
    expect(offline.openedAt - at(8)).toBeLessThan(15 * MIN);
    expect(offline.history[0]?.note).toContain('viaLastWill=true');
    // Another emergency device (the pendant) remains: maintenance, not an emergency.
    expect(offline.severity).toBe('maintenance');
  });

  it('a three-hour power cut at night: no emergency alarm, no maintenance alarm raised in the night, the devices back online', () => {
    // The meter and the hub died at 01:00 and booted again at 04:00: two more connections than devices.
    const power = played.filter((p) => p.household === '停电户' && (p.step.action.type === 'powerOff' || p.step.action.type === 'powerOn'));
    expect(power.map((p) => `${p.step.action.type}@${formatLocalDateTime(TZ, p.step.atMs).slice(11)}`).sort()).toEqual(['powerOff@01:00', 'powerOff@01:00', 'powerOn@04:00', 'powerOn@04:00']);
    expect(connections).toBe(HOUSEHOLDS.length * 11 + 2);
    // Every device is online at the end but the button whose battery went flat.
    expect(online).toBe(HOUSEHOLDS.length * 11 - 1);
    for (const a of of('停电户')) {
      expect(a.severity, describeAlarms([a])).toBe('maintenance');
      const hour = Number(formatLocalDateTime(TZ, a.openedAt).slice(11, 13));
      expect(hour >= 7 && hour < 22, describeAlarms([a])).toBe(true);
    }
  });
});
