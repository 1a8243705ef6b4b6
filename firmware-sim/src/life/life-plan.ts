/**
 * A household's simulated life as a timetable of what each of its real devices
 * sends: the routine generator's sensor events mapped onto the devices the
 * registry knows (motion sensors, the front door, the bed, the power meter,
 * the 平安 button), the thermometer and CO alarm reading the simulated
 * climate, batteries draining, and the scripted incidents. Pure and
 * deterministic for a seed: the runner (life-runner.ts) plays it over MQTT.
 */
import type { AccelWindow, DeviceKind, Readings } from '@kanjia/protocol';
import { localDayMinute, formatLocalDateTime } from '@kanjia/protocol';
import { trialWindows, type FallTrial } from '../dataset.js';
import type { ButtonName } from '../sim-device.js';
import { applyIncidents, generateRoutine, stateAt, type Incident, type Routine, type SensorEvent } from '../routine/generate-routine.js';
import type { PersonHabits, ProfileName } from '../routine/profiles.js';
import { hashSeed, Prng } from '../routine/prng.js';
import { simulateClimate } from './environment.js';
import { DEFAULT_CO_RAMP_MIN, DEFAULT_POWER_CUT_MIN, type LifeIncident } from './incidents.js';

const S = 1000;
const MIN = 60 * S;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** What a device does at a moment of the plan. */
export type LifeAction =
  | { type: 'telemetry'; readings: Readings }
  | { type: 'door'; open: boolean }
  /** A press that is resent until `received` (check-in, SOS, cancel). */
  | { type: 'press'; button: ButtonName }
  /** The wearable's own fall detection fired. */
  | { type: 'fall'; confidence: number }
  | { type: 'accel'; window: AccelWindow }
  /** The level reported with every later status (heartbeat); also sent as telemetry. */
  | { type: 'battery'; pct: number }
  /** Power gone or battery flat: the connection dies without goodbye. */
  | { type: 'powerOff' }
  /** Power back: the device boots again. */
  | { type: 'powerOn' };

export interface LifeStep {
  atMs: number;
  deviceId: string;
  action: LifeAction;
  /** What happened in the home, for people reading the simulator's log. */
  why: string;
}

export interface LifeDevice {
  deviceId: string;
  kind: DeviceKind;
}

export interface LifePlanOptions {
  seed: number;
  /** First moment played; the routine starts at local midnight before it and the state at this moment is sent first. */
  startMs: number;
  days: number;
  /** IANA zone of the home. Default Asia/Shanghai. */
  timeZone?: string;
  profile?: ProfileName;
  devices: readonly LifeDevice[];
  incidents?: readonly LifeIncident[];
  /** A recorded fall the wearable replays when the person falls; without one, the wearable reports a detected fall itself. */
  fallTrial?: Pick<FallTrial, 'hz' | 'position' | 'samples'>;
  /** The same person as an earlier plan (its `routine.person`): the next days of one life, not a new person. */
  person?: PersonHabits;
  /** Battery levels to go on from (an earlier plan's runner.batteries()); others are drawn. */
  batteryPct?: Readonly<Record<string, number>>;
}

/** How the person can answer a reminder on the device at a moment. */
export type Capability = 'awake' | 'asleep' | 'out' | 'incapacitated';

export interface LifePlan {
  routine: Routine;
  /** Sorted by time (stable for equal times). */
  steps: LifeStep[];
  incidents: readonly LifeIncident[];
  /** When the person stops moving for good, if an incident makes them. */
  incapacitatedAtMs: number | undefined;
  /** Falls the person gets up from (they press cancel when the device beeps). */
  recoveredFallsAtMs: number[];
  /** What the simulation cannot show with these devices (e.g. a fall without a wearable). */
  notes: string[];
  capability(atMs: number): Capability;
}

/**
 * How often each kind of device repeats its status while all is well, as real
 * ones do (docs/protocol.md; the server's device-health timeouts allow two
 * missed reports plus slack): buttons sleep and report every 4 h, battery
 * sensors hourly, mains devices every few minutes.
 */
export const HEARTBEAT_INTERVAL_MS: Readonly<Record<DeviceKind, number>> = {
  sosButton: 4 * HOUR,
  pendant: 4 * HOUR,
  checkInButton: 4 * HOUR,
  motionSensor: 55 * MIN,
  doorSensor: 55 * MIN,
  coSensor: 55 * MIN,
  smokeSensor: 55 * MIN,
  thermometer: 55 * MIN,
  waterLeakSensor: 55 * MIN,
  bedSensor: 55 * MIN,
  powerMeter: 10 * MIN,
  hub: 3 * MIN,
};

/** Devices that run on mains power: a power cut kills them. */
export const MAINS_POWERED: ReadonlySet<DeviceKind> = new Set<DeviceKind>(['powerMeter', 'hub']);
/** Rated power of the appliances the routine uses, W; standby of the meter's circuit. */
const APPLIANCE_W: Readonly<Record<string, number>> = { 'p-cooker': 600, 'p-tv': 90 };
const STANDBY_W = 3;
const ROOM_NAMES: Readonly<Record<string, string>> = { tangwu: '堂屋', kitchen: '厨房', bedroom: '卧室' };

/** Builds a household's plan (deterministic for the options). */
export function planHouseholdLife(options: LifePlanOptions): LifePlan {
  const timeZone = options.timeZone ?? 'Asia/Shanghai';
  const incidents = [...(options.incidents ?? [])].sort((a, b) => a.atMs - b.atMs);
  const devices = options.devices;
  const first = (...kinds: DeviceKind[]): LifeDevice | undefined => {
    for (const kind of kinds) {
      const d = devices.find((x) => x.kind === kind);
      if (d) return d;
    }
    return undefined;
  };
  const checkInButton = first('checkInButton');
  const startDay = localDayMinute(timeZone, options.startMs).day;
  const startDate = new Date(startDay * DAY).toISOString().slice(0, 10);
  const routineOptions = {
    seed: options.seed,
    startDate,
    days: options.days + 1,
    timeZone,
    ...(options.profile ? { profile: options.profile } : {}),
    // Someone given a 平安 button is enrolled in the daily check-in.
    habits: { ...options.person, checksIn: checkInButton !== undefined },
    // The home's optional routine sensors are those its devices can see.
    equipment: { bed: first('bedSensor') !== undefined, cooker: first('powerMeter') !== undefined, tv: first('powerMeter') !== undefined, tap: first('hub') !== undefined },
  };
  // The ordinary life first: incidents need to know where the person is at their moment.
  const ordinary = generateRoutine(routineOptions);
  const endMs = Math.min(ordinary.endMs, options.startMs + options.days * DAY);
  const notes: string[] = [];

  const personIncidents: Incident[] = [];
  const recoveredFallsAtMs: number[] = [];
  const whereAt = (t: number): 'bed' | 'floor' => (stateAt(ordinary.truth, t) === 'asleep' ? 'bed' : 'floor');
  for (const incident of incidents) {
    if (incident.kind === 'fall') {
      if (incident.getsUp === true) recoveredFallsAtMs.push(incident.atMs);
      else personIncidents.push({ kind: 'incapacitation', atMs: incident.atMs, where: 'floor' });
    } else if (incident.kind === 'incapacitation') {
      personIncidents.push({ kind: 'incapacitation', atMs: incident.atMs, where: incident.where ?? whereAt(incident.atMs) });
    } else if (incident.kind === 'coLeak' && incident.overcomes === true) {
      const at = incident.atMs + (incident.rampMin ?? DEFAULT_CO_RAMP_MIN) * MIN;
      personIncidents.push({ kind: 'incapacitation', atMs: at, where: whereAt(at) });
    }
  }
  personIncidents.sort((a, b) => a.atMs - b.atMs);
  const incapacitatedAtMs = personIncidents[0]?.atMs;
  const events = applyIncidents(ordinary.events, personIncidents, ordinary.sensors, ordinary.endMs, options.seed);
  const routine: Routine = { ...ordinary, events, incidents: personIncidents };

  const steps: LifeStep[] = [];
  const push = (atMs: number, device: LifeDevice | undefined, action: LifeAction, why: string): void => {
    if (device) steps.push({ atMs: Math.round(atMs), deviceId: device.deviceId, action, why });
  };

  // Power cuts: mains devices dead, appliances cannot be switched on.
  const cuts = incidents.flatMap((i) => (i.kind === 'powerCut' ? [{ s: i.atMs, e: i.atMs + (i.minutes ?? DEFAULT_POWER_CUT_MIN) * MIN }] : []));
  const inCut = (t: number) => cuts.some((c) => t >= c.s && t < c.e);

  // 1. The routine's sensor events on the household's devices.
  const motionDevices = devices.filter((d) => d.kind === 'motionSensor');
  const motionRooms = ordinary.sensors.filter((s) => s.kind === 'motion');
  const motionDeviceOf = new Map<string, LifeDevice>();
  motionRooms.forEach((s, i) => {
    const d = motionDevices[i % Math.max(1, motionDevices.length)];
    if (d) motionDeviceOf.set(s.id, d);
  });
  const roomOf = new Map(ordinary.sensors.map((s) => [s.id, ROOM_NAMES[s.room] ?? s.room]));
  const onRooms = new Map<string, Set<string>>();
  const door = first('doorSensor');
  const bed = first('bedSensor');
  const meter = first('powerMeter');
  const hub = first('hub');
  const appliancesOn = new Set<string>();
  const unmapped = new Set<string>();
  for (const e of events) {
    if (e.atMs >= endMs) break;
    mapEvent(e);
  }
  function mapEvent(e: SensorEvent): void {
    switch (e.kind) {
      case 'motion': {
        const d = motionDeviceOf.get(e.sensorId);
        if (!d) return void unmapped.add(e.sensorId);
        const set = onRooms.get(d.deviceId) ?? new Set<string>();
        onRooms.set(d.deviceId, set);
        const before = set.size > 0;
        if (e.value === 1) set.add(e.sensorId);
        else set.delete(e.sensorId);
        const after = set.size > 0;
        if (before !== after) push(e.atMs, d, { type: 'telemetry', readings: { motion: after } }, after ? `motion in the ${roomOf.get(e.sensorId)}` : 'motion ends');
        return;
      }
      case 'door':
        if (!door) return void unmapped.add(e.sensorId);
        push(e.atMs, door, { type: 'door', open: e.value === 1 }, e.value === 1 ? 'front door opens' : 'front door closes');
        return;
      case 'bed':
        if (!bed) return void unmapped.add(e.sensorId);
        push(e.atMs, bed, { type: 'telemetry', readings: { occupancy: e.value === 1 } }, e.value === 1 ? 'lies down in bed' : 'gets out of bed');
        return;
      case 'appliance': {
        if (!meter) return void unmapped.add(e.sensorId);
        if (e.value === 1 && inCut(e.atMs)) return; // no power: the rice cooker stays cold
        if (e.value === 1) appliancesOn.add(e.sensorId);
        else if (!appliancesOn.delete(e.sensorId)) return;
        if (inCut(e.atMs)) return;
        const w = STANDBY_W + [...appliancesOn].reduce((sum, id) => sum + (APPLIANCE_W[id] ?? 100), 0);
        push(e.atMs, meter, { type: 'telemetry', readings: { powerW: w } }, `${e.sensorId === 'p-tv' ? 'television' : 'rice cooker'} ${e.value === 1 ? 'on' : 'off'}`);
        return;
      }
      case 'water':
        if (!hub) return void unmapped.add(e.sensorId);
        push(e.atMs, hub, { type: 'telemetry', readings: { waterFlowLpm: e.value === 1 ? 6 : 0 } }, e.value === 1 ? 'tap opened' : 'tap closed');
        return;
      case 'button':
        if (e.value !== 1) return;
        if (!checkInButton) return void unmapped.add(e.sensorId);
        push(e.atMs, checkInButton, { type: 'press', button: 'checkIn' }, 'presses 平安 (I am fine)');
        return;
      default:
        unmapped.add(e.sensorId);
    }
  }
  if (unmapped.size > 0) notes.push(`no device for routine sensor(s) ${[...unmapped].sort().join(', ')}: their events are not sent`);

  // 2. The climate on the thermometer and the CO alarm.
  const thermometer = first('thermometer');
  const coSensor = first('coSensor');
  for (const incident of incidents) {
    if (incident.kind === 'coLeak' && !coSensor) notes.push(`coLeak at ${formatLocalDateTime(timeZone, incident.atMs)}: no CO alarm in this home, nothing measures it`);
    if (incident.kind === 'coldHouse' && !thermometer) notes.push(`coldHouse at ${formatLocalDateTime(timeZone, incident.atMs)}: no thermometer in this home, nothing measures it`);
  }
  if (thermometer || coSensor) {
    const climate = simulateClimate({ routine, incidents, seed: options.seed, ...(incapacitatedAtMs !== undefined ? { incapacitatedAtMs } : {}) });
    let lastCo = -1;
    for (const c of climate) {
      if (c.atMs >= endMs) break;
      const quarter = Math.floor((c.atMs - routine.startMs) / MIN) % 15 === 0;
      if (thermometer && quarter) {
        push(c.atMs, thermometer, { type: 'telemetry', readings: { temperatureC: c.temperatureC, humidityPct: c.humidityPct } }, `room at ${c.temperatureC} °C`);
      }
      // A CO alarm reports every 15 minutes, and at once whenever a raised level changes.
      if (coSensor && (quarter || ((c.coPpm >= 9 || lastCo >= 9) && c.coPpm !== lastCo))) {
        push(c.atMs, coSensor, { type: 'telemetry', readings: { coPpm: c.coPpm } }, `CO ${c.coPpm} ppm`);
        lastCo = c.coPpm;
      }
    }
  }

  // 3. Batteries: every battery device reports its level once a day; a flat one dies.
  const rng = new Prng(hashSeed(options.seed, 0xba77));
  const flat = incidents.flatMap((i) => (i.kind === 'deadBattery' ? [i] : []));
  const dead = new Map<string, number>();
  for (const f of flat) {
    const d = f.device ? first(f.device) : first('sosButton', 'pendant');
    if (!d) {
      notes.push(`deadBattery: the household has no ${f.device ?? 'sosButton or pendant'}`);
      continue;
    }
    if (MAINS_POWERED.has(d.kind)) notes.push(`deadBattery: ${d.deviceId} (${d.kind}) runs on mains power; its backup battery is simulated`);
    dead.set(d.deviceId, f.atMs);
  }
  for (const d of devices) {
    if (MAINS_POWERED.has(d.kind)) continue;
    const drawn = Math.round(rng.uniform(60, 100));
    let level = options.batteryPct?.[d.deviceId] ?? drawn;
    const diesAt = dead.get(d.deviceId);
    for (let t = options.startMs + rng.uniform(1, 6) * HOUR; t < endMs; t += DAY) {
      if (diesAt !== undefined && t >= diesAt - 2 * DAY) break;
      level = Math.max(30, level - 1);
      push(t, d, { type: 'battery', pct: level }, `battery ${level} %`);
    }
    if (diesAt !== undefined) {
      // Flat over the last two days: 25 % down to nothing, reported every two hours.
      for (let t = Math.max(options.startMs, diesAt - 2 * DAY); t < diesAt && t < endMs; t += 2 * HOUR) {
        const pct = Math.max(1, Math.round((25 * (diesAt - t)) / (2 * DAY)));
        push(t, d, { type: 'battery', pct }, `battery ${pct} %`);
      }
      if (diesAt < endMs) push(diesAt, d, { type: 'powerOff' }, 'battery flat: the device dies');
    }
  }

  // 4. Power cuts.
  for (const cut of cuts) {
    for (const d of devices) {
      if (!MAINS_POWERED.has(d.kind)) continue;
      if (cut.s < endMs) push(cut.s, d, { type: 'powerOff' }, 'power cut');
      if (cut.e < endMs) {
        push(cut.e, d, { type: 'powerOn' }, 'power back');
        if (d.kind === 'powerMeter') push(cut.e + 10 * S, d, { type: 'telemetry', readings: { powerW: STANDBY_W } }, 'meter after the power cut');
      }
    }
    if (cut.e < endMs) appliancesOn.clear();
  }

  // 5. Falls on the wearable.
  const wearable = first('pendant');
  for (const incident of incidents) {
    if (incident.kind !== 'fall') continue;
    if (!wearable) {
      notes.push(`fall at ${formatLocalDateTime(timeZone, incident.atMs)}: no pendant, so only the silence that follows can tell`);
      continue;
    }
    if (options.fallTrial) {
      const windows = trialWindows(options.fallTrial, { startTs: incident.atMs, idPrefix: `${wearable.deviceId.slice(0, 30)}-f${Math.floor(incident.atMs / 1000).toString(36)}` });
      for (const w of windows) push(w.ts + Math.round((w.samples.length * 1000) / w.hz), wearable, { type: 'accel', window: w }, 'falls (accelerometer)');
    } else {
      push(incident.atMs + 2 * S, wearable, { type: 'fall', confidence: 0.9 }, 'falls (the pendant detects it)');
    }
  }

  // Drop what lies before the start, but send the state the home is in at the start.
  const before = steps.filter((s) => s.atMs < options.startMs);
  const kept = steps.filter((s) => s.atMs >= options.startMs && s.atMs < endMs);
  const state = new Map<string, Readings>();
  for (const s of before.sort((a, b) => a.atMs - b.atMs)) {
    if (s.action.type !== 'telemetry') continue;
    const r: Readings = { ...state.get(s.deviceId), ...s.action.readings };
    delete r.motion; // motion is an edge, not a state worth repeating
    if (Object.keys(r).length > 0) state.set(s.deviceId, r);
  }
  const initial: LifeStep[] = [...state].map(([deviceId, readings]) => ({ atMs: options.startMs, deviceId, action: { type: 'telemetry', readings }, why: 'state at the start' }));
  const ordered = [...initial, ...kept].map((s, i) => ({ s, i })).sort((a, b) => a.s.atMs - b.s.atMs || a.i - b.i).map((x) => x.s);

  const capability = (t: number): Capability => {
    if (incapacitatedAtMs !== undefined && t >= incapacitatedAtMs) return 'incapacitated';
    const where = stateAt(ordinary.truth, t);
    return where === 'home' ? 'awake' : where;
  };
  return { routine, steps: ordered, incidents, incapacitatedAtMs, recoveredFallsAtMs, notes, capability };
}
