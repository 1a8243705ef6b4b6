/**
 * A seeded, deterministic life of an old person living alone in a village, as
 * the sensors of their home see it: PIR motion in the 堂屋 (main room), kitchen
 * and bedroom, the front door (the exit), bed occupancy, the rice cooker and
 * the television (power use), the water tap, and the 平安 check-in button.
 *
 * Each day: getting up (later on a bad day), cooking breakfast, lunch and
 * dinner on the stove (kitchen motion, water, the rice cooker that switches
 * itself off), meals, a nap, chores, sitting quietly, television, trips to the
 * courtyard, the fields, a neighbour or the market through the front door,
 * visitors, nights with trips to the toilet (through the front door where the
 * toilet is outside), and now and then nights away at a child's home. Then
 * scripted incidents change what follows (`incidents`).
 *
 * Everything is planned in the household's own time zone, so the person still
 * gets up at 05:10 on the clock across a DST change.
 */
import { dayIndexOf, DAY_MS, fromLocalMs, isValidTimeZone, localDayMinute } from '@kanjia/protocol';
import { hashSeed, Prng } from './prng.js';
import { drawPerson, type PersonHabits, type ProfileName } from './profiles.js';

const S = 1000;
const MIN = 60_000;
const HOUR = 60 * MIN;
/** How long a PIR stays "on" after its last trigger (typical Zigbee PIRs: 60–90 s). */
const PIR_HOLD_MS = 90 * S;

/** Sensor kinds of EVENTS-FORMAT.md. */
export const SENSOR_KINDS = ['motion', 'door', 'cupboard', 'appliance', 'water', 'bed', 'chair', 'button'] as const;
export type SensorKind = (typeof SENSOR_KINDS)[number];

/** A sensor of the household (the header of an EVENTS-FORMAT file). */
export interface HouseholdSensor {
  id: string;
  kind: SensorKind;
  room: string;
  name: string;
  /** A door that leads out of the home. */
  exit?: boolean;
}

/** One sensor event: 1 when the sensor starts firing, 0 when it stops. */
export interface SensorEvent {
  atMs: number;
  sensorId: string;
  kind: SensorKind;
  value: 0 | 1;
  exit?: boolean;
  /**
   * Simulation only: made by a machine or a timeout (a PIR's "off", the rice
   * cooker finishing), not by the person, so it still happens after an
   * incapacitation. Not part of EVENTS-FORMAT.md.
   */
  auto?: true;
}

/**
 * A scripted incident. Only incapacitation is simulated today; the others of
 * issue 3 (fall, CO leak, cold house, dead battery, power cut) are added as
 * further members of this union and handled in `applyIncidents`.
 */
export type Incident = {
  kind: 'incapacitation';
  /** From this moment the person does not move again. */
  atMs: number;
  /** In bed (a stroke in sleep) or on the floor. */
  where: 'bed' | 'floor';
  /**
   * A sensor keeps reporting "on" afterwards: the PIR of the room the person
   * lies in (floor) or the bed sensor (bed) repeats value 1 every few minutes,
   * never 0.
   */
  stuckSensor?: boolean;
};

export interface RoutineOptions {
  seed: number;
  /** First local date, `YYYY-MM-DD`, in `timeZone`. */
  startDate: string;
  days: number;
  /** IANA zone of the home (default Asia/Shanghai). */
  timeZone?: string;
  /** Kind of person; drawn from the seed when absent. */
  profile?: ProfileName;
  /** Habits that override the drawn person's (e.g. `checksIn: true` for someone enrolled in the daily check-in; a whole PersonHabits keeps a person across plans). */
  habits?: Partial<PersonHabits>;
  /** Which optional sensors the home has (e.g. a bed sensor exactly when a bedSensor device is installed). */
  equipment?: RoutineEquipment;
  incidents?: Incident[];
}

export interface Interval {
  s: number;
  e: number;
}

/** What really happened, for evaluators. */
export interface RoutineTruth {
  /** Main sleep of each night at home: in bed → up. */
  sleeps: Interval[];
  /** Away from home (fields, market, neighbours, courtyard, nights away). */
  outs: (Interval & { overnight: boolean })[];
  naps: Interval[];
  /** Local days (since 1970-01-01) that were bad days. */
  badDays: number[];
  /** Median getting-up time, local minutes after midnight. */
  usualWakeMin: number;
  /** Median bedtime, local minutes after midnight (may exceed 1440). */
  usualBedMin: number;
}

export interface Routine {
  seed: number;
  timeZone: string;
  startMs: number;
  endMs: number;
  person: PersonHabits;
  sensors: HouseholdSensor[];
  /** Sorted by time. */
  events: SensorEvent[];
  truth: RoutineTruth;
  incidents: Incident[];
}

type RawEvent = SensorEvent;

/** Optional sensors of a home; drawn from the seed unless given. */
export type RoutineEquipment = Partial<Record<'bed' | 'cooker' | 'tv' | 'tap', boolean>>;

function drawSensors(rng: Prng, equipment: RoutineEquipment = {}): HouseholdSensor[] {
  const sensors: HouseholdSensor[] = [
    { id: 'm-tangwu', kind: 'motion', room: 'tangwu', name: '堂屋 motion' },
    { id: 'm-kitchen', kind: 'motion', room: 'kitchen', name: '厨房 motion' },
    { id: 'm-bedroom', kind: 'motion', room: 'bedroom', name: '卧室 motion' },
    { id: 'd-front', kind: 'door', room: 'tangwu', name: '大门 front door', exit: true },
    { id: 'btn', kind: 'button', room: 'bedroom', name: '平安 button' },
  ];
  // Drawn every time (so a given choice does not shift the other draws), then overridden.
  const has = (drawn: boolean, given: boolean | undefined) => given ?? drawn;
  if (has(rng.chance(0.7), equipment.bed)) sensors.push({ id: 'bed', kind: 'bed', room: 'bedroom', name: 'bed occupancy' });
  if (has(rng.chance(0.8), equipment.cooker)) sensors.push({ id: 'p-cooker', kind: 'appliance', room: 'kitchen', name: 'rice cooker power' });
  if (has(rng.chance(0.8), equipment.tv)) sensors.push({ id: 'p-tv', kind: 'appliance', room: 'tangwu', name: 'TV power' });
  if (has(rng.chance(0.6), equipment.tap)) sensors.push({ id: 'w-tap', kind: 'water', room: 'kitchen', name: 'water flow' });
  return sensors;
}

type Room = 'tangwu' | 'kitchen' | 'bedroom';
const MOTION: Record<Room, string> = { tangwu: 'm-tangwu', kitchen: 'm-kitchen', bedroom: 'm-bedroom' };

/** Writes one household's sensor events. */
class HouseWriter {
  readonly events: RawEvent[] = [];
  private readonly pirUntil = new Map<string, number>();
  readonly has: Set<string>;

  constructor(
    private readonly rng: Prng,
    sensors: HouseholdSensor[],
    private readonly liveliness: number,
  ) {
    this.has = new Set(sensors.map((s) => s.id));
  }

  private push(atMs: number, sensorId: string, kind: SensorKind, value: 0 | 1, auto = false, exit = false): void {
    const e: RawEvent = { atMs: Math.round(atMs), sensorId, kind, value };
    if (exit) e.exit = true;
    if (auto) e.auto = true;
    this.events.push(e);
  }

  /** A PIR trigger: "on" unless already on; "off" 90 s after the last trigger. */
  trigger(room: Room, t: number): void {
    const id = MOTION[room];
    const until = this.pirUntil.get(id);
    if (until !== undefined && t <= until) {
      this.pirUntil.set(id, t + PIR_HOLD_MS);
      return;
    }
    if (until !== undefined) this.push(until, id, 'motion', 0, true);
    this.push(t, id, 'motion', 1);
    this.pirUntil.set(id, t + PIR_HOLD_MS);
  }

  /** Movement in a room between two times at `ratePerMin` triggers per minute (scaled by the person's liveliness). */
  motion(room: Room, from: number, to: number, ratePerMin: number): void {
    const mean = MIN / Math.max(1e-6, ratePerMin * this.liveliness);
    for (let t = from + this.rng.exp(mean); t < to; t += this.rng.exp(mean)) this.trigger(room, t);
  }

  /** Moving about several rooms (chores). */
  chores(from: number, to: number): void {
    let t = from;
    while (t < to) {
      const room = this.rng.pick<Room>(['tangwu', 'tangwu', 'kitchen', 'bedroom']);
      const end = Math.min(to, t + this.rng.uniform(3, 12) * MIN);
      this.motion(room, t, end, 0.5);
      t = end;
    }
  }

  door(t: number): void {
    this.push(t, 'd-front', 'door', 1, false, true);
    this.push(t + this.rng.uniform(3, 15) * S, 'd-front', 'door', 0, false, true);
  }

  water(t: number): void {
    if (!this.has.has('w-tap')) return;
    this.push(t, 'w-tap', 'water', 1);
    this.push(t + this.rng.uniform(10, 60) * S, 'w-tap', 'water', 0);
  }

  bed(t: number, value: 0 | 1): void {
    if (this.has.has('bed')) this.push(t, 'bed', 'bed', value);
  }

  appliance(id: 'p-cooker' | 'p-tv', on: number, off: number, autoOff: boolean): void {
    if (!this.has.has(id)) return;
    this.push(on, id, 'appliance', 1);
    this.push(off, id, 'appliance', 0, autoOff);
  }

  button(t: number): void {
    this.push(t, 'btn', 'button', 1);
    this.push(t + 300, 'btn', 'button', 0);
  }

  /** Ends every PIR still on. */
  flush(): void {
    for (const [id, until] of this.pirUntil) this.push(until, id, 'motion', 0, true);
    this.pirUntil.clear();
  }
}

/** Generates `days` days of a household's sensor events from a seed. */
export function generateRoutine(options: RoutineOptions): Routine {
  const timeZone = options.timeZone ?? 'Asia/Shanghai';
  if (!isValidTimeZone(timeZone)) throw new RangeError(`unknown IANA time zone "${timeZone}"`);
  if (!Number.isInteger(options.days) || options.days < 1) throw new RangeError(`days must be a positive integer, got ${options.days}`);
  const seed = options.seed >>> 0;
  const rng = new Prng(hashSeed(seed, 0x5eed));
  const person: PersonHabits = { ...drawPerson(rng.fork(1), options.profile), ...options.habits };
  const sensors = drawSensors(rng.fork(2), options.equipment);
  const house = new HouseWriter(rng.fork(3), sensors, person.liveliness);
  const day0 = dayIndexOf(options.startDate);
  const at = (day: number, minute: number) => fromLocalMs(timeZone, day * DAY_MS + minute * MIN);
  const nDays = options.days;

  // 1. Sleep: bedtime of each evening and getting-up time of each morning (day nDays is the morning after the last).
  const plan = rng.fork(4);
  const bad: boolean[] = [];
  const wake: number[] = [];
  const bed: number[] = [];
  for (let d = 0; d <= nDays; d++) {
    bad.push(plan.chance(person.badDayProb));
    let w: number;
    if (person.irregularSleep && d > 0) {
      const prevBed = bed[d - 1] ?? at(day0 + d - 1, 1350);
      w = prevBed + plan.uniform(6, 10) * HOUR;
    } else {
      w = at(day0 + d, person.wakeMin + plan.normal(0, person.wakeSdMin));
    }
    if (bad[d] === true) w += plan.uniform(60, 180) * MIN;
    wake.push(w);
    let b = person.irregularSleep ? at(day0 + d, plan.uniform(20 * 60, 27 * 60)) : at(day0 + d, person.bedMin + plan.normal(0, person.bedSdMin));
    if (bad[d] === true) b -= plan.uniform(0, 60) * MIN;
    b = Math.max(b, w + 9 * HOUR);
    bed.push(b);
  }

  // 2. Nights away at a child's home: leave after breakfast, back after 1–3 nights.
  const status: ('home' | 'departs' | 'away' | 'returns')[] = new Array(nDays + 1).fill('home');
  for (let d = 1; d < nDays - 1; d++) {
    if (status[d] !== 'home' || status[d - 1] === 'returns') continue;
    if (!plan.chance(person.overnightPer30Days / 30)) continue;
    const nights = plan.int(1, 3);
    status[d] = 'departs';
    for (let k = 1; k < nights && d + k <= nDays; k++) status[d + k] = 'away';
    if (d + nights <= nDays) status[d + nights] = 'returns';
    d += nights;
  }

  const truth: RoutineTruth = { sleeps: [], outs: [], naps: [], badDays: [], usualWakeMin: 0, usualBedMin: 0 };
  const act = rng.fork(5);
  /** Out through the front door and back (the PIR by the door sees the person leave and come in). */
  const out = (from: number, to: number) => {
    house.trigger('tangwu', from - act.uniform(20, 60) * S);
    house.door(from);
    house.door(to);
    house.trigger('tangwu', to + act.uniform(15, 60) * S);
    truth.outs.push({ s: from, e: to, overnight: false });
  };

  const cook = (t: number, minutes: number, cookerProb: number): number => {
    const end = t + minutes * MIN;
    house.motion('kitchen', t, end, 0.6);
    house.water(t + act.uniform(1, 5) * MIN);
    if (act.chance(cookerProb)) house.appliance('p-cooker', t + act.uniform(2, 6) * MIN, t + act.uniform(35, 55) * MIN, true);
    return end;
  };
  const eat = (t: number, minutes: number): number => {
    const end = t + minutes * MIN;
    house.motion('tangwu', t, end, 0.2);
    return end;
  };
  const sit = (t: number, end: number, rate: number) => house.motion('tangwu', t, end, rate);
  const tv = (t: number, end: number, rate: number) => {
    house.appliance('p-tv', t + act.uniform(0, 2) * MIN, end - act.uniform(0, 2) * MIN, false);
    sit(t, end, rate);
  };

  /** Home life between two times: chores, sitting, television, trips, visitors. */
  const fill = (from: number, to: number, half: 'morning' | 'afternoon' | 'evening', badDay: boolean, marketDay: boolean) => {
    let t = from;
    // Nobody goes to the fields, the market or a neighbour in the dark, nor visits: 06:00–18:00.
    const daylight = (ms: number) => {
      const { minute } = localDayMinute(timeZone, ms);
      return minute >= 6 * 60 && minute < 18 * 60;
    };
    let visited = false;
    let hadVisitor = false;
    if (!badDay && half !== 'evening' && to - t > 2 * HOUR && daylight(t)) {
      // The big outing of the half day.
      if (half === 'morning' && marketDay && act.chance(person.marketProb)) {
        const leave = t + act.uniform(5, 30) * MIN;
        const back = Math.min(to - 15 * MIN, leave + act.uniform(2, 5) * HOUR);
        if (back > leave + 30 * MIN) {
          house.chores(t, leave - MIN);
          out(leave, back);
          t = back + MIN;
        }
      } else if (act.chance(person.fieldsProb)) {
        const leave = t + act.uniform(5, 30) * MIN;
        const back = Math.min(to - 15 * MIN, leave + act.uniform(2, 4.5) * HOUR);
        if (back > leave + 30 * MIN) {
          house.chores(t, leave - MIN);
          out(leave, back);
          t = back + MIN;
        }
      }
    }
    while (t < to - 5 * MIN) {
      const r = act.next();
      let end: number;
      const outAllowed = !badDay && half !== 'evening' && daylight(t);
      if (outAllowed && r < person.courtyardPerDay / 12) {
        const leave = t + act.uniform(1, 5) * MIN;
        end = Math.min(to, leave + act.uniform(10, 60) * MIN);
        if (end - leave > 5 * MIN) out(leave, end);
        end += MIN;
      } else if (outAllowed && !visited && r < person.courtyardPerDay / 12 + person.visitProb / 3) {
        visited = true;
        const leave = t + act.uniform(1, 5) * MIN;
        end = Math.min(to, leave + act.uniform(30, 150) * MIN);
        if (end - leave > 10 * MIN) out(leave, end);
        end += MIN;
      } else if (!hadVisitor && daylight(t) && r > 1 - person.visitorProb / 3) {
        hadVisitor = true;
        end = Math.min(to, t + act.uniform(20, 90) * MIN);
        house.door(t + 30 * S);
        house.motion('tangwu', t, end, 0.5);
        house.door(end - act.uniform(10, 60) * S);
      } else {
        const kind = act.next();
        if (badDay) {
          end = Math.min(to, t + act.uniform(20, 90) * MIN);
          if (kind < 0.3 && house.has.has('bed')) {
            house.trigger('bedroom', t);
            house.bed(t + 30 * S, 1);
            house.bed(end - 30 * S, 0);
            house.trigger('bedroom', end - 20 * S);
            truth.naps.push({ s: t, e: end });
          } else sit(t, end, act.uniform(0.03, 0.08));
        } else if (kind < 0.45) {
          end = Math.min(to, t + act.uniform(10, 45) * MIN);
          house.chores(t, end);
        } else if (kind < 0.85 || !house.has.has('p-tv') || half === 'morning') {
          end = Math.min(to, t + act.uniform(15, 75) * MIN);
          sit(t, end, act.uniform(0.04, 0.15));
        } else {
          end = Math.min(to, t + act.uniform(30, 120) * MIN);
          tv(t, end, 0.06);
        }
      }
      t = Math.max(end, t + MIN);
    }
  };

  const startMs = at(day0, 0);
  const endMs = at(day0 + nDays, 0);
  /** A departure for nights away, until its return day is simulated. */
  let pendingDeparture: number | undefined;
  const marketPhase = rng.fork(6).int(0, 4);
  for (let d = 0; d < nDays; d++) {
    const st = status[d];
    if (st === 'away') continue;
    const day = day0 + d;
    const badDay = bad[d] === true && st === 'home';
    if (badDay) truth.badDays.push(day);
    const marketDay = (day - marketPhase) % 5 === 0;
    const w = wake[d] ?? 0;
    const b = bed[d] ?? 0;
    let t: number;
    let lunch: number;
    if (st === 'returns') {
      // Back from a child's home.
      t = at(day, act.uniform(10 * 60, 16 * 60));
      house.door(t);
      house.trigger('tangwu', t + act.uniform(15, 60) * S);
      truth.outs.push({ s: pendingDeparture ?? startMs, e: t, overnight: true });
      pendingDeparture = undefined;
      lunch = t;
    } else {
      // Getting up.
      house.bed(w, 0);
      house.motion('bedroom', w, w + act.uniform(5, 12) * MIN, 0.5);
      t = w + act.uniform(5, 12) * MIN;
      sit(t, t + act.uniform(5, 10) * MIN, 0.4);
      house.water(t + MIN);
      t += act.uniform(5, 10) * MIN;
      t = cook(t, badDay && act.chance(0.5) ? 5 : act.uniform(15, 30), 0.4);
      t = eat(t, act.uniform(10, 20));
      if (person.checksIn && act.chance(0.85)) {
        t += act.uniform(1, 5) * MIN;
        house.button(t);
        t += MIN;
      }
      lunch = Math.max(at(day, 11 * 60 + 15 + act.normal(0, 20)), w + 3.5 * HOUR);
      if (st === 'departs') {
        // Off to a child's home in town for a few nights.
        const leave = t + act.uniform(10, 60) * MIN;
        house.chores(t, leave - MIN);
        house.trigger('tangwu', leave - 30 * S);
        house.door(leave);
        pendingDeparture = leave; // the trip is recorded when the return day is simulated
        continue;
      }
      fill(t, lunch, 'morning', badDay, marketDay);
    }
    // Lunch, nap, afternoon.
    if (lunch > t) t = lunch;
    if (t < b - 4 * HOUR) {
      t = cook(t, badDay && act.chance(0.5) ? 5 : act.uniform(25, 45), 0.7);
      t = eat(t, act.uniform(15, 25));
      if (badDay || act.chance(person.napProb)) {
        const napMin = Math.min(180, Math.max(20, act.normal(person.napMeanMin, person.napMeanMin / 3) + (badDay ? 40 : 0)));
        const inBed = house.has.has('bed') && act.chance(0.6);
        const end = t + napMin * MIN;
        if (inBed) {
          house.trigger('bedroom', t + 20 * S);
          house.bed(t + MIN, 1);
          house.bed(end, 0);
          house.trigger('bedroom', end + 20 * S);
        } else sit(t, end, 0.01);
        truth.naps.push({ s: t, e: end });
        t = end + MIN;
      }
    }
    const dinner = Math.min(Math.max(at(day, 17 * 60 + 30 + act.normal(0, 25)), lunch + 5 * HOUR), b - 2 * HOUR);
    if (dinner > t) {
      fill(t, dinner, 'afternoon', badDay, false);
      t = dinner;
    }
    t = cook(t, badDay && act.chance(0.5) ? 5 : act.uniform(25, 45), 0.3);
    t = eat(t, act.uniform(20, 30));
    // Evening: sitting, television, dozing in the chair, then to bed.
    const prep = b - act.uniform(10, 20) * MIN;
    if (act.chance(person.dozesInChair) && prep - t > 90 * MIN) {
      const dozeFrom = prep - act.uniform(30, 90) * MIN;
      fill(t, dozeFrom, 'evening', badDay, false);
      tv(dozeFrom, prep, 0.015);
    } else if (prep > t) fill(t, prep, 'evening', badDay, false);
    house.water(prep + MIN);
    house.motion('tangwu', prep, prep + 5 * MIN, 0.4);
    house.motion('bedroom', prep + 5 * MIN, b, 0.5);

    // The night at home (nights away begin on a departure day, which ended above).
    const nextWake = wake[d + 1] ?? b + 8 * HOUR;
    house.trigger('bedroom', b - 20 * S);
    house.bed(b, 1);
    truth.sleeps.push({ s: b, e: nextWake });
    const trips = act.poisson(person.toiletPerNight);
    const times: number[] = [];
    for (let k = 0; k < trips; k++) times.push(act.uniform(b + 40 * MIN, nextWake - 30 * MIN));
    times.sort((x, y) => x - y);
    let last = b;
    for (const tt of times) {
      if (tt < last + 20 * MIN) continue;
      house.bed(tt, 0);
      house.trigger('bedroom', tt + 10 * S);
      let back: number;
      if (person.outhouse) {
        const leave = tt + act.uniform(1, 2) * MIN;
        back = leave + act.uniform(3, 8) * MIN;
        house.trigger('tangwu', leave - 20 * S);
        house.door(leave);
        house.door(back);
        house.trigger('tangwu', back + 15 * S);
      } else {
        back = tt + act.uniform(2, 6) * MIN;
        house.motion('tangwu', tt + MIN, back, 0.8);
        house.trigger('tangwu', tt + 40 * S);
      }
      house.trigger('bedroom', back + MIN);
      house.bed(back + 90 * S, 1);
      last = back + 2 * MIN;
    }
  }
  house.flush();
  if (pendingDeparture !== undefined) truth.outs.push({ s: pendingDeparture, e: endMs, overnight: true });

  let events = house.events.filter((e) => e.atMs >= startMs && e.atMs < endMs);
  events.sort((a, b) => a.atMs - b.atMs);
  const incidents = [...(options.incidents ?? [])].sort((a, b) => a.atMs - b.atMs);
  events = applyIncidents(events, incidents, sensors, endMs, seed);

  const wakes = truth.sleeps.map((s) => localDayMinute(timeZone, s.e).minute).sort((a, b) => a - b);
  const beds = truth.sleeps.map((s) => (localDayMinute(timeZone, s.s).minute + 720) % 1440).sort((a, b) => a - b);
  truth.usualWakeMin = wakes[Math.floor(wakes.length / 2)] ?? Math.round(person.wakeMin);
  // Bedtimes as minutes after noon (no wrap at midnight), back to minutes after midnight (> 1440 after it).
  truth.usualBedMin = (beds[Math.floor(beds.length / 2)] ?? Math.round(person.bedMin) - 720) + 720;
  truth.outs.sort((a, b) => a.s - b.s);

  return {
    seed,
    timeZone,
    startMs,
    endMs,
    person,
    sensors,
    events,
    truth,
    incidents,
  };
}

/**
 * Applies the incidents to a sorted list of events: after an incapacitation
 * the person makes no more events; machines still switch themselves off and
 * PIRs still time out; a stuck sensor repeats "on".
 */
export function applyIncidents(events: SensorEvent[], incidents: Incident[], sensors: HouseholdSensor[], endMs: number, seed: number): SensorEvent[] {
  const first = [...incidents].sort((a, b) => a.atMs - b.atMs).find((i) => i.kind === 'incapacitation');
  if (first === undefined) return events;
  const cut = firstIndexAtOrAfter(events, first.atMs);
  return events.slice(0, cut).concat(incidentTail(events, first, sensors, endMs, seed));
}

/**
 * The events from the incident on (sorted), for a list of the ordinary life's
 * events: what the home's sensors report after the person is incapacitated.
 * Deterministic for a seed. Evaluators snapshot a detector at the incident and
 * replay only this tail.
 */
export function incidentTail(events: readonly SensorEvent[], incident: Incident, sensors: readonly HouseholdSensor[], endMs: number, seed: number): SensorEvent[] {
  const t = incident.atMs;
  const rng = new Prng(hashSeed(seed ^ 0x1c1d, Math.floor(t / 1000)));
  const cut = firstIndexAtOrAfter(events, t);
  // The state of every sensor at the incident (looking back at most two days).
  const lastValue = new Map<string, SensorEvent>();
  let lastMotion: string | undefined;
  for (let k = cut - 1; k >= 0; k--) {
    const e = events[k];
    if (e === undefined || e.atMs < t - 2 * DAY_MS) break;
    if (!lastValue.has(e.sensorId)) lastValue.set(e.sensorId, e);
    if (lastMotion === undefined && e.kind === 'motion' && e.value === 1) lastMotion = e.sensorId;
  }
  const tail: SensorEvent[] = [];
  for (const [id, e] of lastValue) {
    if (e.value !== 1) continue;
    if (e.kind === 'motion') tail.push({ atMs: Math.max(t, e.atMs + PIR_HOLD_MS), sensorId: id, kind: 'motion', value: 0, auto: true });
    if (e.kind === 'appliance') {
      // A machine that switches itself off still does (the rice cooker); a television stays on.
      for (let k = cut; k < events.length; k++) {
        const next = events[k];
        if (next === undefined || next.atMs > t + 6 * HOUR) break;
        if (next.sensorId === id) {
          if (next.auto === true) tail.push(next);
          break;
        }
      }
    }
  }
  const has = new Set(sensors.map((s) => s.id));
  if (incident.where === 'bed' && has.has('bed') && lastValue.get('bed')?.value !== 1) {
    tail.push({ atMs: t, sensorId: 'bed', kind: 'bed', value: 1 });
  }
  if (incident.stuckSensor === true) {
    const isBed = incident.where === 'bed' && has.has('bed');
    const id = isBed ? 'bed' : lastMotion;
    if (id !== undefined) {
      // The stuck sensor reports "on" and never "off" again.
      for (let k = tail.length - 1; k >= 0; k--) if (tail[k]?.sensorId === id) tail.splice(k, 1);
      const everyMs = isBed ? 30 * MIN : rng.uniform(5, 15) * MIN;
      const kind: SensorKind = isBed ? 'bed' : 'motion';
      for (let at = t + rng.uniform(0, 2) * MIN; at < endMs; at += everyMs) tail.push({ atMs: Math.round(at), sensorId: id, kind, value: 1, auto: true });
    }
  }
  tail.sort((a, b) => a.atMs - b.atMs);
  return tail.filter((e) => e.atMs < endMs);
}

/** Index of the first event at or after `t` in a time-ordered list (binary search). */
export function firstIndexAtOrAfter(events: readonly SensorEvent[], t: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((events[mid]?.atMs ?? Infinity) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Where the person was at `atMs` by the truth of a routine. */
export function stateAt(truth: RoutineTruth, atMs: number): 'asleep' | 'out' | 'home' {
  if (findInterval(truth.outs, atMs)) return 'out';
  if (findInterval(truth.sleeps, atMs)) return 'asleep';
  return 'home';
}

function findInterval(list: readonly Interval[], t: number): boolean {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const x = list[mid];
    if (x === undefined) return false;
    if (t < x.s) hi = mid - 1;
    else if (t >= x.e) lo = mid + 1;
    else return true;
  }
  return false;
}
