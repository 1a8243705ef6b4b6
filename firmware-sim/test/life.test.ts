import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock, fromLocalMs, localDayMinute, type DeviceKind } from '@kanjia/protocol';
import {
  HEARTBEAT_INTERVAL_MS,
  HouseholdLifeRunner,
  IncidentSpecError,
  parseIncidentSpec,
  planHouseholdLife,
  runSimCli,
  SIM_EXIT,
  silentLogger,
  simulateClimate,
  type LifeDevice,
  type LifePlan,
  type SimCliIo,
} from '@kanjia/firmware-sim';
import { Cleanup, TestBroker } from './harness.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const TZ = 'Asia/Shanghai';
/** 06:00 on 1 December 2026, Beijing time. */
const WINTER = Date.UTC(2026, 10, 30, 22, 0);
/** 06:00 on 1 July 2026. */
const SUMMER = Date.UTC(2026, 5, 30, 22, 0);

const FULL: DeviceKind[] = ['sosButton', 'pendant', 'checkInButton', 'motionSensor', 'motionSensor', 'doorSensor', 'bedSensor', 'powerMeter', 'coSensor', 'thermometer', 'hub'];
const devicesOf = (kinds: DeviceKind[]): LifeDevice[] => kinds.map((kind, i) => ({ deviceId: `dev-${i}-${kind}`, kind }));
/** Moves the fake clock from timer to timer up to `untilMs`, letting the runner's messages reach the broker in between. */
async function playUntil(clock: FakeClock, runner: HouseholdLifeRunner, untilMs: number): Promise<void> {
  while (clock.nowMs() < untilMs) {
    clock.advance(Math.max(0, Math.min(clock.nextDueMs() ?? untilMs, untilMs) - clock.nowMs()));
    await runner.settled();
  }
}

const readingsOf = (plan: LifePlan, key: 'temperatureC' | 'coPpm' | 'powerW') =>
  plan.steps.flatMap((s) => (s.action.type === 'telemetry' && s.action.readings[key] !== undefined ? [{ atMs: s.atMs, v: s.action.readings[key] as number }] : []));

describe('planHouseholdLife', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = planHouseholdLife({ seed: 5, startMs: WINTER, days: 2, devices: devicesOf(FULL) });
    const b = planHouseholdLife({ seed: 5, startMs: WINTER, days: 2, devices: devicesOf(FULL) });
    const c = planHouseholdLife({ seed: 6, startMs: WINTER, days: 2, devices: devicesOf(FULL) });
    expect(JSON.stringify(a.steps)).toBe(JSON.stringify(b.steps));
    expect(JSON.stringify(a.steps)).not.toBe(JSON.stringify(c.steps));
  });

  it('maps the routine onto the devices the household has, time-ordered within [start, start + days)', () => {
    const plan = planHouseholdLife({ seed: 3, startMs: WINTER, days: 2, devices: devicesOf(FULL) });
    const kinds = new Map(devicesOf(FULL).map((d) => [d.deviceId, d.kind]));
    const types = new Set(plan.steps.map((s) => `${kinds.get(s.deviceId)}:${s.action.type}`));
    for (const t of ['motionSensor:telemetry', 'doorSensor:door', 'bedSensor:telemetry', 'coSensor:telemetry', 'thermometer:telemetry', 'checkInButton:press']) expect(types).toContain(t);
    for (let i = 1; i < plan.steps.length; i++) expect(plan.steps[i]!.atMs).toBeGreaterThanOrEqual(plan.steps[i - 1]!.atMs);
    expect(plan.steps[0]!.atMs).toBeGreaterThanOrEqual(WINTER);
    expect(plan.steps.at(-1)!.atMs).toBeLessThan(WINTER + 2 * 24 * HOUR);
    expect(plan.notes).toEqual([]);
  });

  it('says which routine sensors have no device, and sends nothing for them', () => {
    const plan = planHouseholdLife({ seed: 3, startMs: WINTER, days: 1, devices: devicesOf(['sosButton', 'motionSensor']) });
    expect(plan.notes.join(' ')).toMatch(/no device for routine sensor\(s\).*d-front/);
    expect(plan.steps.every((s) => s.action.type === 'telemetry' || s.action.type === 'battery')).toBe(true);
  });

  it('keeps a heated village house between 5 and 20 °C through winter days and nights, for people of every kind', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const temps = readingsOf(planHouseholdLife({ seed, startMs: WINTER, days: 3, devices: devicesOf(FULL) }), 'temperatureC').map((r) => r.v);
      expect(Math.min(...temps), `seed ${seed}`).toBeGreaterThan(5);
      expect(Math.max(...temps), `seed ${seed}`).toBeLessThan(20);
    }
  });

  it('coldHouse: the room falls below 5 °C within hours of the stove going out in winter', () => {
    const out = WINTER + 14 * HOUR; // 20:00
    const temps = readingsOf(planHouseholdLife({ seed: 4, startMs: WINTER, days: 2, devices: devicesOf(FULL), incidents: [{ kind: 'coldHouse', atMs: out }] }), 'temperatureC');
    expect(temps.filter((r) => r.atMs < out).every((r) => r.v > 5)).toBe(true);
    const firstCold = temps.find((r) => r.atMs > out && r.v < 5);
    expect(firstCold).toBeDefined();
    expect(firstCold!.atMs - out).toBeLessThan(10 * HOUR);
  });

  it('summer: no stove, the room follows the weather', () => {
    const temps = readingsOf(planHouseholdLife({ seed: 4, startMs: SUMMER, days: 2, devices: devicesOf(FULL) }), 'temperatureC').map((r) => r.v);
    expect(Math.min(...temps)).toBeGreaterThan(18);
    expect(Math.max(...temps)).toBeLessThan(35);
  });

  it('coLeak: the CO alarm reads the background, then every minute while the level climbs to the peak', () => {
    const leak = WINTER + 17 * HOUR;
    const co = readingsOf(planHouseholdLife({ seed: 4, startMs: WINTER, days: 2, devices: devicesOf(FULL), incidents: [{ kind: 'coLeak', atMs: leak, peakPpm: 400, rampMin: 60 }] }), 'coPpm');
    expect(Math.max(...co.filter((r) => r.atMs < leak).map((r) => r.v))).toBeLessThan(10);
    const during = co.filter((r) => r.atMs >= leak && r.atMs < leak + HOUR);
    expect(during.length).toBeGreaterThan(40);
    expect(Math.max(...during.map((r) => r.v))).toBeGreaterThan(370);
    expect(Math.max(...during.map((r) => r.v))).toBeLessThanOrEqual(410);
  });

  it('overcome by CO, the person stops moving at the peak; the stove then burns out', () => {
    const leak = WINTER + 17 * HOUR;
    const plan = planHouseholdLife({ seed: 4, startMs: WINTER, days: 2, devices: devicesOf(FULL), incidents: [{ kind: 'coLeak', atMs: leak, rampMin: 60, overcomes: true }] });
    expect(plan.incapacitatedAtMs).toBe(leak + HOUR);
    expect(plan.capability(leak + 2 * HOUR)).toBe('incapacitated');
    const person = plan.steps.filter((s) => s.atMs > leak + HOUR && (s.action.type === 'door' || s.action.type === 'press'));
    expect(person).toEqual([]);
  });

  it('a fall on the floor: the pendant reports it and the person makes no further sign of life; getsUp: she goes on', () => {
    const fallAt = WINTER + 4.5 * HOUR;
    const lies = planHouseholdLife({ seed: 9, startMs: WINTER, days: 2, devices: devicesOf(FULL), incidents: [{ kind: 'fall', atMs: fallAt }] });
    const fall = lies.steps.filter((s) => s.action.type === 'fall');
    expect(fall).toHaveLength(1);
    expect(fall[0]!.deviceId).toBe('dev-1-pendant');
    expect(lies.incapacitatedAtMs).toBe(fallAt);
    const motionAfter = lies.steps.filter((s) => s.atMs > fallAt + 5 * MIN && s.action.type === 'telemetry' && s.action.readings.motion === true);
    expect(motionAfter).toEqual([]);
    const up = planHouseholdLife({ seed: 9, startMs: WINTER, days: 2, devices: devicesOf(FULL), incidents: [{ kind: 'fall', atMs: fallAt, getsUp: true }] });
    expect(up.incapacitatedAtMs).toBeUndefined();
    expect(up.recoveredFallsAtMs).toEqual([fallAt]);
    expect(up.steps.some((s) => s.atMs > fallAt + HOUR && s.action.type === 'telemetry' && s.action.readings.motion === true)).toBe(true);
  });

  it('a fall replays a recorded trial on the pendant when one is given; without a pendant, a note says so', () => {
    const trial = { hz: 50, position: 'chest' as const, samples: Array.from({ length: 500 }, (_, i) => [0, 0, i === 250 ? 4 : 1] as [number, number, number]) };
    const fallAt = WINTER + 4.5 * HOUR;
    const plan = planHouseholdLife({ seed: 9, startMs: WINTER, days: 1, devices: devicesOf(FULL), incidents: [{ kind: 'fall', atMs: fallAt }], fallTrial: trial });
    const windows = plan.steps.filter((s) => s.action.type === 'accel');
    expect(windows).toHaveLength(5); // 10 s in 2 s windows
    expect(windows.every((s) => s.deviceId === 'dev-1-pendant')).toBe(true);
    const noPendant = planHouseholdLife({ seed: 9, startMs: WINTER, days: 1, devices: devicesOf(['sosButton', 'motionSensor']), incidents: [{ kind: 'fall', atMs: fallAt }] });
    expect(noPendant.notes.join(' ')).toMatch(/no pendant/);
  });

  it('deadBattery: the level falls below 20 % before the device dies', () => {
    const dies = WINTER + 30 * HOUR;
    const plan = planHouseholdLife({ seed: 2, startMs: WINTER, days: 2, devices: devicesOf(FULL), incidents: [{ kind: 'deadBattery', atMs: dies }] });
    const button = plan.steps.filter((s) => s.deviceId === 'dev-0-sosButton');
    const levels = button.flatMap((s) => (s.action.type === 'battery' ? [s.action.pct] : []));
    expect(levels.some((p) => p < 20)).toBe(true);
    expect(button.at(-1)).toMatchObject({ atMs: dies, action: { type: 'powerOff' } });
  });

  it('powerCut: mains devices die and come back, appliances cannot be switched on meanwhile', () => {
    const cutAt = WINTER + 5 * HOUR;
    const plan = planHouseholdLife({ seed: 8, startMs: WINTER, days: 1, devices: devicesOf(FULL), incidents: [{ kind: 'powerCut', atMs: cutAt, minutes: 240 }] });
    const meter = plan.steps.filter((s) => s.deviceId === 'dev-7-powerMeter');
    expect(meter.filter((s) => s.action.type === 'powerOff').map((s) => s.atMs)).toEqual([cutAt]);
    expect(meter.filter((s) => s.action.type === 'powerOn').map((s) => s.atMs)).toEqual([cutAt + 4 * HOUR]);
    expect(meter.filter((s) => s.action.type === 'telemetry' && s.atMs > cutAt && s.atMs < cutAt + 4 * HOUR)).toEqual([]);
    expect(plan.steps.filter((s) => s.deviceId === 'dev-10-hub' && s.action.type === 'powerOff')).toHaveLength(1);
  });

  it('the person who is given a 平安 button presses it on most mornings', () => {
    const plan = planHouseholdLife({ seed: 21, startMs: WINTER, days: 10, devices: devicesOf(FULL) });
    const days = new Set(plan.steps.filter((s) => s.action.type === 'press').map((s) => localDayMinute(TZ, s.atMs).day));
    expect(days.size).toBeGreaterThanOrEqual(6);
  });
});

describe('parseIncidentSpec', () => {
  const start = WINTER;
  it('reads offsets and village date-times with their options', () => {
    expect(parseIncidentSpec('fall@+2h', start, TZ)).toEqual({ kind: 'fall', atMs: start + 2 * HOUR });
    expect(parseIncidentSpec('fall@+90m,getsUp', start, TZ)).toEqual({ kind: 'fall', atMs: start + 90 * MIN, getsUp: true });
    expect(parseIncidentSpec('co@2026-12-01T23:00,peak=600,ramp=45,overcomes', start, TZ)).toEqual({
      kind: 'coLeak',
      atMs: fromLocalMs(TZ, Date.UTC(2026, 11, 1, 23, 0)),
      peakPpm: 600,
      rampMin: 45,
      overcomes: true,
    });
    expect(parseIncidentSpec('battery@+3d,device=pendant', start, TZ)).toEqual({ kind: 'deadBattery', atMs: start + 72 * HOUR, device: 'pendant' });
    expect(parseIncidentSpec('powerCut@+1h,minutes=30', start, TZ)).toEqual({ kind: 'powerCut', atMs: start + HOUR, minutes: 30 });
    expect(parseIncidentSpec('incapacitation@+1h,where=bed', start, TZ)).toEqual({ kind: 'incapacitation', atMs: start + HOUR, where: 'bed' });
  });

  it('lists every problem of a bad spec', () => {
    expect(() => parseIncidentSpec('flood@tomorrow', start, TZ)).toThrow(IncidentSpecError);
    expect(() => parseIncidentSpec('flood@tomorrow', start, TZ)).toThrow(/unknown incident "flood".*"tomorrow" is not a time/);
    expect(() => parseIncidentSpec('co@+1h,peak=-3,colour=red', start, TZ)).toThrow(/peak=-3: a number above 0.*"colour" is not an option of co/);
    expect(() => parseIncidentSpec('battery@+1h,device=toaster', start, TZ)).toThrow(/device=toaster: one of sosButton/);
    expect(() => parseIncidentSpec('incapacitation@2026-13-01T10:00', start, TZ)).toThrow(/not a time/);
    expect(() => parseIncidentSpec('incapacitation@2026-02-31T10:00', start, TZ)).toThrow(/not a time/);
    expect(() => parseIncidentSpec('incapacitation@2026-02-28T24:00', start, TZ)).toThrow(/not a time/);
  });
});

describe('simulateClimate', () => {
  it('reads one sample a minute over the routine', () => {
    const plan = planHouseholdLife({ seed: 1, startMs: WINTER, days: 1, devices: devicesOf(FULL) });
    const climate = simulateClimate({ routine: plan.routine, incidents: [], seed: 1 });
    expect(climate.length).toBe((plan.routine.endMs - plan.routine.startMs) / MIN);
  });
});

describe('HouseholdLifeRunner over MQTT (fake clock)', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('sends each step from its device at its moment, and answers a reminder with a 平安 press', async () => {
    const broker = cleanup.add(new TestBroker());
    await broker.start();
    const clock = new FakeClock(WINTER);
    const devices = FULL.map((kind, i) => ({ deviceId: `dev-${i}-${kind}`, secret: 's', kind }));
    const plan = planHouseholdLife({ seed: 3, startMs: WINTER, days: 1, devices });
    const runner = new HouseholdLifeRunner({ brokerUrl: broker.url, devices, plan, clock, logger: silentLogger, resendIntervalMs: MIN });
    cleanup.defer(() => runner.stop());
    const played: string[] = [];
    await runner.start();
    const until = WINTER + 3 * HOUR;
    await playUntil(clock, runner, until);
    for (const s of plan.steps) if (s.atMs <= until && s.action.type !== 'telemetry' && s.action.type !== 'battery') played.push(s.deviceId);
    expect(runner.stats.failed).toBe(0);
    expect(runner.stats.played).toBeGreaterThanOrEqual(plan.steps.filter((s) => s.atMs <= until).length);
    // The heartbeat of each kind follows HEARTBEAT_INTERVAL_MS: the hub reported every 3 minutes.
    expect(HEARTBEAT_INTERVAL_MS.hub).toBe(3 * MIN);

    // A reminder on the check-in button while she is up: a 平安 press within minutes.
    const awakeAt = plan.steps.find((s) => s.atMs > clock.nowMs() && plan.capability(s.atMs) === 'awake')!.atMs;
    await playUntil(clock, runner, awakeAt);
    const before = broker.copies.filter((c) => c.event.type === 'checkIn').length;
    await broker.sendCommand('dev-2-checkInButton', { id: broker.nextCommandId(), ts: clock.nowMs(), type: 'remind', reason: 'inactivity' });
    await new Promise((r) => setTimeout(r, 100));
    const target = clock.nowMs() + 6 * MIN;
    await playUntil(clock, runner, target);
    await new Promise((r) => setTimeout(r, 100));
    expect(runner.stats.reminders).toBe(1);
    expect(runner.stats.answered).toBe(1);
    expect(broker.copies.filter((c) => c.event.type === 'checkIn').length).toBe(before + 1);
  });
});

describe('HouseholdLifeRunner: carrying a life over to the next plan', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('a device dead at the start (a power cut carried over) connects only at its powerOn step; stop() leaves no timer behind', async () => {
    const broker = cleanup.add(new TestBroker());
    await broker.start();
    const clock = new FakeClock(WINTER);
    const devices = FULL.map((kind, i) => ({ deviceId: `dev-${i}-${kind}`, secret: 's', kind }));
    // The cut began an hour before this plan and lasts two hours.
    const plan = planHouseholdLife({ seed: 3, startMs: WINTER, days: 1, devices, incidents: [{ kind: 'powerCut', atMs: WINTER - HOUR, minutes: 120 }] });
    expect(plan.steps.filter((s) => s.action.type === 'powerOn').map((s) => s.deviceId).sort()).toEqual(['dev-10-hub', 'dev-7-powerMeter']);
    const runner = new HouseholdLifeRunner({ brokerUrl: broker.url, devices, plan, clock, logger: silentLogger, dead: ['dev-7-powerMeter', 'dev-10-hub'] });
    cleanup.defer(() => runner.stop());
    await runner.start();
    const connected = () => new Set(broker.connects.map((c) => c.clientId));
    expect(connected().has('dev-7-powerMeter')).toBe(false);
    expect(connected().has('dev-0-sosButton')).toBe(true);
    expect(runner.deadDevices().sort()).toEqual(['dev-10-hub', 'dev-7-powerMeter']);
    const until = WINTER + HOUR + 5 * MIN;
    await playUntil(clock, runner, until);
    await new Promise((r) => setTimeout(r, 100));
    expect(connected().has('dev-7-powerMeter')).toBe(true);
    expect(runner.deadDevices()).toEqual([]);
    // A reminder the person (up and about) would answer in a few minutes, then stop: the answer never comes, no timer is left.
    expect(plan.capability(clock.nowMs())).toBe('awake');
    await broker.sendCommand('dev-2-checkInButton', { id: broker.nextCommandId(), ts: clock.nowMs(), type: 'remind', reason: 'inactivity' });
    await new Promise((r) => setTimeout(r, 100));
    await runner.stop();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('the next plan of the same life keeps the person and the battery levels', () => {
    const first = planHouseholdLife({ seed: 5, startMs: WINTER, days: 2, devices: devicesOf(FULL) });
    const batteries = Object.fromEntries(devicesOf(FULL).map((d) => [d.deviceId, 42]));
    const next = planHouseholdLife({ seed: 6, startMs: WINTER + 2 * 24 * HOUR, days: 2, devices: devicesOf(FULL), person: first.routine.person, batteryPct: batteries });
    expect(next.routine.person).toEqual(first.routine.person);
    const levels = next.steps.flatMap((s) => (s.action.type === 'battery' ? [s.action.pct] : []));
    expect(levels.length).toBeGreaterThan(0);
    expect(Math.max(...levels)).toBeLessThanOrEqual(42);
    // The routine's optional sensors follow the devices: a bed sensor is installed, so the bed is in every plan.
    expect(next.routine.sensors.some((s) => s.id === 'bed')).toBe(true);
  });
});

describe('kanjia sim life', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());
  const captureIo = (signal?: AbortSignal) => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { stdout: (l: string) => out.push(l), stderr: (l: string) => err.push(l), signal, env: {} } satisfies SimCliIo };
  };

  it('refuses bad options with every problem listed (exit 2)', async () => {
    const { err, io } = captureIo();
    expect(await runSimCli(['life', '--days', '0', '--profile', 'astronaut', '--tz', 'Mars/Olympus', '--incident', 'fall@yesterday'], io)).toBe(SIM_EXIT.usage);
    const text = err.join('\n');
    expect(text).toContain('--file is required');
    expect(text).toContain('--days must be a positive integer');
    expect(text).toContain('--profile must be one of earlyFarmer');
    expect(text).toContain('--tz "Mars/Olympus" is not an IANA time zone');
  });

  it('plays the life on the household devices in real time until stopped', async () => {
    const broker = cleanup.add(new TestBroker());
    await broker.start();
    const dir = await mkdtemp(path.join(tmpdir(), 'kanjia-life-'));
    cleanup.defer(() => rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'house.json');
    await writeFile(file, JSON.stringify([{ deviceId: 'th-1', secret: 's', kind: 'thermometer' }, { deviceId: 'btn-1', secret: 's', kind: 'sosButton' }]));
    const abort = new AbortController();
    const { err, io } = captureIo(abort.signal);
    const run = runSimCli(['life', '--url', broker.url, '--file', file, '--seed', '4', '--days', '1', '--incident', 'cold@+2h'], io);
    // The thermometer's first reading of the quarter hour, or the state at the start, is sent within the first seconds.
    for (let i = 0; i < 100 && !err.some((l) => / th-1: /.test(l)); i++) await new Promise((r) => setTimeout(r, 50));
    abort.abort();
    expect(await run).toBe(SIM_EXIT.ok);
    const text = err.join('\n');
    expect(text).toMatch(/kanjia sim life: a \w+ person \(seed 4\), 1 day\(s\)/);
    expect(text).toContain('incident: ');
    expect(text).toContain('the stove goes out');
  });
});
