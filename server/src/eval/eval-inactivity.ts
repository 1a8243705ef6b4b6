/**
 * `kanjia eval-inactivity`: how often the inactivity monitor cries wolf and
 * how fast it finds a person who cannot get up, in accelerated time with the
 * very detector code of the live pipeline (InactivityMonitor on a FakeClock).
 *
 * Simulation (default): many person-months of the seeded routine generator
 * (varied people), each run as a new installation learning from its first
 * day. Every reminder is answered by a button press 1–10 min later with
 * probability 0.9 when the person is up and at home, 0.8 when asleep (the
 * beeping wakes them), never when out. Alarms in this ordinary life are false
 * alarms. Incapacitations are injected at random moments (day and night, at
 * home) after the first 14 days: the monitor's state is snapshotted at the
 * moment (exportState), restored in a fresh monitor (register with state) and
 * fed only what the sensors report afterwards (machines switching off, PIRs
 * timing out, now and then a stuck sensor repeating "on"), until the alarm.
 * The baseline is the programmes' rule: an alarm after 12 h without a sensor
 * firing (its reminders and answers are not simulated).
 *
 * People are drawn by the generator's PROFILE_WEIGHTS (a guess: mostly early
 * rising farmers, 8 % with no fixed sleep at all); figures are printed per
 * kind too. A night incident is one while asleep before the usual getting-up
 * time (median of the person's actual getting-up times in the 4 weeks
 * before); its delay is counted from that time. Full run (the defaults, 200
 * persons × 6 months = 1,200 person-months) ≈ 40–55 s; CI size
 * `--persons 20 --months 2` ≈ 3 s.
 *
 * Log replay (`--log FILE`): a recorded home (EVENTS-FORMAT.md) from its first
 * day; every reminder and alarm is printed (nobody answers reminders in a
 * recording, so an unanswered reminder becomes an alarm); `--cut N` cuts the
 * log at N random moments and reports the delays.
 */
import { InactivityMonitor, resolveInactivityConfig, InactivityError, type DetectorOutput, type InactivityConfig, type InactivityState } from '@kanjia/detection';
import {
  EventLogError,
  firstIndexAtOrAfter,
  generateRoutine,
  hashSeed,
  incidentTail,
  Prng,
  readEventLog,
  stateAt,
  toActivity,
  type Routine,
  type SensorEvent,
} from '@kanjia/firmware-sim';
import { FakeClock } from '@kanjia/protocol';
import { parseArgs } from 'node:util';

export interface EvalIo {
  stdout(line: string): void;
  stderr(line: string): void;
}

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Incidents and cuts are placed after this much learning. */
const WARMUP_DAYS = 14;
/** An incident not found within this long is a miss. */
const GIVE_UP_MS = 48 * HOUR;
const BASELINE_SILENCE_MS = 12 * HOUR;
const SUBJECT = 'p';
const BUTTON = 'btn';

const USAGE = `Usage: kanjia eval-inactivity [--persons N] [--months M] [--seed S] [--tz ZONE] [--incidents-per-month K] [--config JSON]
       kanjia eval-inactivity --log FILE [--cut N] [--seed S] [--config JSON]

  Simulated (default 200 persons × 6 months, Asia/Shanghai, 4 incidents per person-month):
  false alarms per person-month and detection delays for day and night incapacitations,
  against the fixed 12 h rule. CI size: --persons 20 --months 2.
  --config JSON overrides InactivityConfig settings (e.g. '{"remindGraceMs":1200000}').
  --log FILE replays a recorded home (shared/datasets/EVENTS-FORMAT.md) through the same
  detector from its first day; --cut N also cuts it at N random moments.
  The last line of the output is a JSON summary.`;

const defaultIo: EvalIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};

/** Runs the evaluator; returns the exit code (0 ok, 1 unreadable log, 2 bad arguments). */
export async function runEvalInactivity(argv: string[], io: EvalIo = defaultIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        persons: { type: 'string' },
        months: { type: 'string' },
        seed: { type: 'string' },
        tz: { type: 'string' },
        'incidents-per-month': { type: 'string' },
        log: { type: 'string' },
        cut: { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.stderr(`eval-inactivity: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    io.stdout(USAGE);
    return 0;
  }
  const problems: string[] = [];
  const int = (name: string, def: number, min: number): number => {
    const raw = values[name];
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) problems.push(`--${name}: an integer ≥ ${min} (got "${String(raw)}")`);
    return n;
  };
  const seed = int('seed', 1, 0);
  let config: Partial<InactivityConfig> = {};
  if (typeof values.config === 'string') {
    try {
      config = JSON.parse(values.config) as Partial<InactivityConfig>;
      resolveInactivityConfig(config);
    } catch (err) {
      problems.push(`--config: ${err instanceof InactivityError ? err.message : `not JSON (${(err as Error).message})`}`);
    }
  }
  if (typeof values.log === 'string') {
    for (const k of ['persons', 'months', 'tz', 'incidents-per-month']) if (values[k] !== undefined) problems.push(`--${k}: not with --log`);
    const cuts = int('cut', 0, 0);
    if (problems.length > 0) return usageError(io, problems);
    try {
      return await evalLog(values.log, cuts, seed, config, io);
    } catch (err) {
      if (err instanceof EventLogError) {
        io.stderr(`eval-inactivity: ${err.code}: ${err.message}`);
        return 1;
      }
      throw err;
    }
  }
  if (values.cut !== undefined) problems.push('--cut: only with --log');
  const persons = int('persons', 200, 1);
  const months = int('months', 6, 1);
  const perMonth = int('incidents-per-month', 4, 0);
  const timeZone = typeof values.tz === 'string' ? values.tz : 'Asia/Shanghai';
  if (!isZone(timeZone)) problems.push(`--tz: not an IANA time zone ("${timeZone}")`);
  if (problems.length > 0) return usageError(io, problems);
  evalSimulated({ persons, months, seed, timeZone, perMonth, config }, io);
  return 0;
}

function usageError(io: EvalIo, problems: string[]): number {
  io.stderr(`eval-inactivity: ${problems.join('; ')}\n${USAGE}`);
  return 2;
}

function isZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Running the monitor over a stream of events

interface Snapshot {
  atMs: number;
  state: InactivityState;
}

interface RunResult {
  alarms: { atMs: number; reason: string; context: string }[];
  /** Not-back-home notices (kind notBack), counted apart from the alarms. */
  notices: { atMs: number; reason: string }[];
  reminds: number[];
  snapshots: Snapshot[];
}

/**
 * Feeds events through a new monitor in accelerated time. `answer` may return
 * the time of a button press answering a reminder; `snapshotAt` (sorted) are
 * moments at which the monitor's state is exported.
 */
function runMonitor(opts: {
  events: readonly SensorEvent[];
  timeZone: string;
  startMs: number;
  endMs: number;
  answer?: (remindAtMs: number) => number | undefined;
  snapshotAt?: readonly number[];
  onOutput?: (o: DetectorOutput) => void;
  config: Partial<InactivityConfig>;
}): RunResult {
  const clock = new FakeClock(opts.startMs);
  const result: RunResult = { alarms: [], notices: [], reminds: [], snapshots: [] };
  const monitor: InactivityMonitor = new InactivityMonitor({
    clock,
    config: opts.config,
    emit: (o) => {
      opts.onOutput?.(o);
      if (o.type === 'remind') {
        result.reminds.push(o.atMs);
        const at = opts.answer?.(o.atMs);
        // The person answers on the same clock, so the answer lands inside the grace period.
        if (at !== undefined) clock.setTimeout(() => monitor.observe(SUBJECT, { atMs: at, source: 'button', sensorId: BUTTON }), at - o.atMs);
      } else if (o.type === 'alarm' && o.finding.kind === 'notBack') {
        result.notices.push({ atMs: o.finding.eventTs, reason: o.finding.reason });
      } else if (o.type === 'alarm') {
        result.alarms.push({ atMs: o.finding.eventTs, reason: o.finding.reason, context: String(o.finding.details?.context ?? '') });
      }
    },
  });
  monitor.register({ subjectId: SUBJECT, timeZone: opts.timeZone, deviceIds: [BUTTON] });
  monitor.start();
  const snaps = opts.snapshotAt ?? [];
  let si = 0;
  for (const e of opts.events) {
    if (e.atMs >= opts.endMs) break;
    // Snapshots due before this event.
    while (si < snaps.length && (snaps[si] ?? Infinity) <= e.atMs) {
      const at = snaps[si++] ?? 0;
      clock.set(at);
      const state = monitor.exportState(SUBJECT);
      if (state !== undefined) result.snapshots.push({ atMs: at, state });
    }
    clock.set(e.atMs);
    monitor.observe(SUBJECT, toActivity(e));
  }
  for (; si < snaps.length && (snaps[si] ?? Infinity) < opts.endMs; si++) {
    clock.set(snaps[si] ?? 0);
    const state = monitor.exportState(SUBJECT);
    if (state !== undefined) result.snapshots.push({ atMs: snaps[si] ?? 0, state });
  }
  clock.set(opts.endMs);
  monitor.stop();
  return result;
}

/** From a snapshot, with only `tail` happening afterwards: when the alarm comes (undefined: not within 48 h). */
function detect(snapshot: Snapshot, tail: readonly SensorEvent[], timeZone: string, config: Partial<InactivityConfig>): { alarmAtMs?: number; context?: string } {
  const clock = new FakeClock(snapshot.atMs);
  let found: { alarmAtMs?: number; context?: string } = {};
  const monitor = new InactivityMonitor({
    clock,
    config,
    emit: (o) => {
      // A not-back-home notice finds the person too (someone is asked to call).
      if (o.type === 'alarm' && found.alarmAtMs === undefined) found = { alarmAtMs: o.finding.eventTs, context: o.finding.kind === 'notBack' ? 'notBack' : String(o.finding.details?.context ?? '') };
    },
  });
  monitor.register({ subjectId: SUBJECT, timeZone, deviceIds: [BUTTON], state: snapshot.state });
  monitor.start();
  const giveUp = snapshot.atMs + GIVE_UP_MS;
  for (const e of tail) {
    if (found.alarmAtMs !== undefined || e.atMs > giveUp) break;
    clock.set(Math.max(e.atMs, snapshot.atMs));
    monitor.observe(SUBJECT, toActivity(e));
  }
  if (found.alarmAtMs === undefined) clock.set(giveUp);
  monitor.stop();
  return found;
}

/** The baseline: an alarm after 12 h without a sensor firing (any "on", any door or bed change). */
function baselineSilences(events: readonly SensorEvent[], fromMs: number, toMs: number): { alarms: number } {
  let last = fromMs;
  let alarms = 0;
  for (const e of events) {
    if (e.atMs >= toMs) break;
    if (!isBaselineActivity(e)) continue;
    if (e.atMs - last >= BASELINE_SILENCE_MS) alarms++;
    last = e.atMs;
  }
  if (toMs - last >= BASELINE_SILENCE_MS) alarms++;
  return { alarms };
}

function isBaselineActivity(e: SensorEvent): boolean {
  return e.value === 1 || e.kind === 'door' || e.kind === 'bed' || e.kind === 'chair' || e.kind === 'cupboard';
}

/** When the baseline finds an incident at `t`: 12 h after the last sensor firing (before or after t, stuck sensors included). */
function baselineDetect(events: readonly SensorEvent[], t: number, tail: readonly SensorEvent[]): number | undefined {
  let last = t;
  for (let k = firstIndexAtOrAfter(events, t) - 1; k >= 0; k--) {
    const e = events[k];
    if (e !== undefined && isBaselineActivity(e)) {
      last = e.atMs;
      break;
    }
  }
  for (const e of tail) {
    if (e.atMs - last >= BASELINE_SILENCE_MS) break;
    if (isBaselineActivity(e)) last = e.atMs;
  }
  const alarm = last + BASELINE_SILENCE_MS;
  return alarm - t <= GIVE_UP_MS ? alarm : undefined;
}


// ---------------------------------------------------------------------------
// Figures

function percentile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const a = sorted[lo] ?? 0;
  const b = sorted[Math.min(sorted.length - 1, lo + 1)] ?? a;
  return a + (b - a) * (pos - lo);
}

interface DelayFigures {
  n: number;
  found: number;
  missed: number;
  medianMin: number | null;
  p95Min: number | null;
  maxMin: number | null;
}

function delayFigures(delaysMs: (number | undefined)[]): DelayFigures {
  const found = delaysMs.filter((d): d is number => d !== undefined).map((d) => d / MIN);
  const r = (v: number | null) => (v === null ? null : Math.round(v));
  return {
    n: delaysMs.length,
    found: found.length,
    missed: delaysMs.length - found.length,
    medianMin: r(percentile(found, 0.5)),
    p95Min: r(percentile(found, 0.95)),
    maxMin: r(found.length === 0 ? null : Math.max(...found)),
  };
}

const fmtMinutes = (v: number | null) => (v === null ? '—' : v >= 120 || v <= -120 ? `${(v / 60).toFixed(1)} h` : `${v} min`);
const describeDelays = (f: DelayFigures) =>
  `n=${f.n} median ${fmtMinutes(f.medianMin)}, p95 ${fmtMinutes(f.p95Min)}, max ${fmtMinutes(f.maxMin)}${f.missed > 0 ? `, missed (>48 h) ${f.missed}` : ''}`;

// ---------------------------------------------------------------------------
// Simulated person-months

interface SimOptions {
  persons: number;
  months: number;
  seed: number;
  timeZone: string;
  perMonth: number;
  config: Partial<InactivityConfig>;
}

interface IncidentCase {
  atMs: number;
  night: boolean;
  where: 'bed' | 'floor';
  stuck: boolean;
  /** The usual getting-up time ending the night of the incident (4-week median; and whole-run median). */
  usualWakeMs: number;
  usualWakeOverallMs: number;
}

function evalSimulated(o: SimOptions, io: EvalIo): void {
  const started = Date.now();
  const days = o.months * 30;
  let falseAlarms = 0;
  let falseAlarmsLearned = 0;
  let reminds = 0;
  let notices = 0;
  let baselineFalse = 0;
  const byProfile = new Map<string, { persons: number; alarms: number; reminds: number }>();
  const dayDelays: (number | undefined)[] = [];
  const nightDelays: (number | undefined)[] = [];
  const nightAfterWake: (number | undefined)[] = [];
  const nightAfterWakeOverall: (number | undefined)[] = [];
  const baseDay: (number | undefined)[] = [];
  const baseNightAfterWake: (number | undefined)[] = [];
  const falseReasons = new Map<string, number>();
  let events = 0;

  for (let p = 0; p < o.persons; p++) {
    const seed = hashSeed(o.seed, p);
    const start = new Date(Date.UTC(2026, 0, 1) + (seed % 365) * DAY).toISOString().slice(0, 10);
    const routine = generateRoutine({ seed, startDate: start, days, timeZone: o.timeZone });
    events += routine.events.length;
    const rng = new Prng(hashSeed(seed, 0xe7a1));
    const cases = drawIncidents(routine, rng, Math.round(o.perMonth * o.months));
    const learnedFrom = routine.startMs + WARMUP_DAYS * DAY;
    const run = runMonitor({
      events: routine.events,
      timeZone: o.timeZone,
      startMs: routine.startMs,
      endMs: routine.endMs,
      config: o.config,
      snapshotAt: cases.map((c) => c.atMs),
      answer: (atMs) => {
        const where = stateAt(routine.truth, atMs);
        if (where === 'out') return undefined;
        return rng.chance(where === 'asleep' ? 0.8 : 0.9) ? atMs + Math.round(rng.uniform(1, 10) * MIN) : undefined;
      },
    });
    falseAlarms += run.alarms.length;
    falseAlarmsLearned += run.alarms.filter((a) => a.atMs >= learnedFrom).length;
    for (const a of run.alarms) falseReasons.set(a.context, (falseReasons.get(a.context) ?? 0) + 1);
    reminds += run.reminds.length;
    notices += run.notices.length;
    const prof = byProfile.get(routine.person.profile) ?? { persons: 0, alarms: 0, reminds: 0 };
    prof.persons++;
    prof.alarms += run.alarms.length;
    prof.reminds += run.reminds.length;
    byProfile.set(routine.person.profile, prof);
    baselineFalse += baselineSilences(routine.events, routine.startMs, routine.endMs).alarms;

    for (const c of cases) {
      const snap = run.snapshots.find((s) => s.atMs === c.atMs);
      if (snap === undefined) continue;
      const tail = incidentTail(routine.events, { kind: 'incapacitation', atMs: c.atMs, where: c.where, stuckSensor: c.stuck }, routine.sensors, c.atMs + GIVE_UP_MS, seed);
      // An alarm already open for this silence (a false one a moment ago) covers the incident at once.
      const found = snap.state.phase.kind === 'alarmed' || snap.state.phase.kind === 'noticed' ? { alarmAtMs: c.atMs } : detect(snap, tail, o.timeZone, o.config);
      const delay = found.alarmAtMs === undefined ? undefined : found.alarmAtMs - c.atMs;
      const base = baselineDetect(routine.events, c.atMs, tail);
      if (c.night) {
        nightDelays.push(delay);
        nightAfterWake.push(found.alarmAtMs === undefined ? undefined : found.alarmAtMs - c.usualWakeMs);
        nightAfterWakeOverall.push(found.alarmAtMs === undefined ? undefined : found.alarmAtMs - c.usualWakeOverallMs);
        baseNightAfterWake.push(base === undefined ? undefined : base - c.usualWakeMs);
      } else {
        dayDelays.push(delay);
        baseDay.push(base === undefined ? undefined : base - c.atMs);
      }
    }
  }

  const personMonths = o.persons * o.months;
  const day = delayFigures(dayDelays);
  const night = delayFigures(nightDelays);
  const nightWake = delayFigures(nightAfterWake);
  const nightWakeOverall = delayFigures(nightAfterWakeOverall);
  const nightOver2h = nightAfterWake.filter((d) => d === undefined || d > 2 * HOUR).length;
  const bDay = delayFigures(baseDay);
  const bNightWake = delayFigures(baseNightAfterWake);
  const seconds = (Date.now() - started) / 1000;
  const per = (n: number) => Math.round((n / personMonths) * 1000) / 1000;

  io.stdout(`eval-inactivity: ${o.persons} simulated persons × ${o.months} months (${personMonths} person-months, ${o.timeZone}, seed ${o.seed}), ${events} sensor events, ${seconds.toFixed(1)} s`);
  io.stdout('');
  io.stdout(`Learned routine (InactivityMonitor, reminder then alarm ${Math.round(resolveInactivityConfig(o.config).remindGraceMs / MIN)} min later):`);
  io.stdout(`  false alarms per person-month: ${per(falseAlarms)} (${falseAlarms} in all; after the first ${WARMUP_DAYS} days ${falseAlarmsLearned})`);
  io.stdout(`  not-back-home notices per person-month (apart from alarms): ${per(notices)}`);
  io.stdout(`  reminders per person-month:    ${per(reminds)} (answered by the simulated person 90 % of the time when up, 80 % asleep)`);
  io.stdout(`  false alarms by kind of silence: ${[...falseReasons].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
  io.stdout(`  day incapacitation → alarm:             ${describeDelays(day)}`);
  io.stdout(`  night incapacitation → alarm:           ${describeDelays(night)}`);
  io.stdout(`  night: delay after usual wake-up:       ${describeDelays(nightWake)}; over 2 h: ${nightOver2h} of ${nightWake.n}`);
  io.stdout(`    (usual = median of the person's getting-up times in the 4 weeks before; over the whole run instead: ${describeDelays(nightWakeOverall)})`);
  io.stdout('  (night: asleep before the usual getting-up time, in bed; day: up, or sleeping in after that time; a quarter with a sensor stuck "on")');
  io.stdout('Baseline (alarm after 12 h without a sensor firing):');
  io.stdout(`  false alarms per person-month: ${per(baselineFalse)}`);
  io.stdout(`  day incapacitation → alarm:             ${describeDelays(bDay)}`);
  io.stdout(`  night: delay after usual wake-up:       ${describeDelays(bNightWake)}`);
  io.stdout('By kind of person (false alarms / reminders per person-month):');
  for (const [name, f] of [...byProfile].sort()) {
    io.stdout(`  ${name.padEnd(13)} ${String(f.persons).padStart(4)} persons  ${(f.alarms / (f.persons * o.months)).toFixed(2)} / ${(f.reminds / (f.persons * o.months)).toFixed(1)}`);
  }
  const targets = {
    falseAlarmsPerPersonMonth: per(falseAlarms) <= 1,
    dayMedianUnder90Min: day.medianMin !== null && day.medianMin < 90,
    nightWithin2hOfUsualWake: nightWake.missed === 0 && nightWake.maxMin !== null && nightWake.maxMin <= 120,
  };
  io.stdout(`Targets: ≤ 1 false alarm per person-month ${ok(targets.falseAlarmsPerPersonMonth)}; daytime median < 90 min ${ok(targets.dayMedianUnder90Min)}; night within 2 h of usual wake-up (max) ${ok(targets.nightWithin2hOfUsualWake)}`);
  io.stdout(
    JSON.stringify({
      mode: 'simulated',
      persons: o.persons,
      months: o.months,
      personMonths,
      seed: o.seed,
      timeZone: o.timeZone,
      seconds: Math.round(seconds * 10) / 10,
      learned: {
        falseAlarmsPerPersonMonth: per(falseAlarms),
        falseAlarmsPerPersonMonthAfterWarmup: Math.round((falseAlarmsLearned / (o.persons * Math.max(1, o.months - WARMUP_DAYS / 30))) * 1000) / 1000,
        remindersPerPersonMonth: per(reminds),
        notBackPerPersonMonth: per(notices),
        day,
        night,
        nightAfterUsualWake: { ...nightWake, over2h: nightOver2h },
        nightAfterWholeRunUsualWake: nightWakeOverall,
      },
      baseline12h: { falseAlarmsPerPersonMonth: per(baselineFalse), day: bDay, nightAfterUsualWake: bNightWake },
      targets,
    }),
  );
}

const ok = (b: boolean) => (b ? '✓' : '✗');

/** Incapacitations at random moments when the person is at home, after the warm-up. */
function drawIncidents(routine: Routine, rng: Prng, count: number): IncidentCase[] {
  const from = routine.startMs + WARMUP_DAYS * DAY;
  const to = routine.endMs - GIVE_UP_MS;
  const cases: IncidentCase[] = [];
  if (to <= from) return cases;
  const wakeMinutes = routine.truth.sleeps.map((s) => localMinute(routine.timeZone, s.e));
  for (let tries = 0; cases.length < count && tries < count * 20; tries++) {
    const atMs = Math.round(rng.uniform(from, to));
    const where = stateAt(routine.truth, atMs);
    if (where === 'out') continue;
    const usualWakeMs = usualWakeFor(routine, wakeMinutes, atMs);
    const usualWakeOverallMs = usualWakeFor(routine, wakeMinutes, atMs, true);
    cases.push({
      atMs,
      // Asleep before the usual getting-up time; sleeping in after it is judged as a day incident.
      night: where === 'asleep' && atMs < usualWakeMs,
      where: where === 'asleep' ? 'bed' : 'floor',
      stuck: rng.chance(0.25),
      usualWakeMs,
      usualWakeOverallMs,
    });
  }
  return cases.sort((a, b) => a.atMs - b.atMs);
}

// ---------------------------------------------------------------------------
// A recorded home

async function evalLog(path: string, cuts: number, seed: number, config: Partial<InactivityConfig>, io: EvalIo): Promise<number> {
  const { header, events, stats } = await readEventLog(path);
  const tz = header.timezone;
  if (events.length === 0) {
    io.stdout(`eval-inactivity: ${path}: no events`);
    io.stdout(JSON.stringify({ mode: 'log', home: header.home, days: 0, events: 0, alarms: 0, falseAlarmsPerDay: 0 }));
    return 0;
  }
  const first = events[0]?.atMs ?? 0;
  const last = events[events.length - 1]?.atMs ?? first;
  const days = (last - first) / DAY;
  const rng = new Prng(hashSeed(seed, 0xc07));
  const learnFrom = first + Math.min(7 * DAY, days * DAY / 2);
  const cutTimes: number[] = [];
  for (let k = 0; k < cuts; k++) cutTimes.push(Math.round(rng.uniform(learnFrom, last)));
  cutTimes.sort((a, b) => a - b);

  io.stdout(`eval-inactivity: ${header.home} (${tz}), ${events.length} events, ${header.sensors.length} sensors, ${days.toFixed(1)} days from ${localTime(first, tz)} to ${localTime(last, tz)}`);
  if (stats.skippedUnknownKind > 0) io.stdout(`  skipped ${stats.skippedUnknownKind} events of sensors of unknown kinds`);
  if (stats.outOfOrder > 0) io.stdout(`  ${stats.outOfOrder} events out of time order (sorted)`);
  io.stdout('');
  io.stdout('What the monitor would have raised (local time; no reminder is answered in a recording):');
  const run = runMonitor({
    events,
    timeZone: tz,
    startMs: first,
    endMs: last + 1,
    config,
    snapshotAt: cutTimes,
    onOutput: (o) => {
      if (o.type === 'remind') io.stdout(`  ${localTime(o.atMs, tz)}  remind  on the device: "are you all right? press the button"`);
      else if (o.type === 'alarm' && o.finding.kind === 'notBack') io.stdout(`  ${localTime(o.finding.eventTs, tz)}  NOTICE  ${o.finding.reason}`);
      else if (o.type === 'alarm') io.stdout(`  ${localTime(o.finding.eventTs, tz)}  ALARM   ${o.finding.reason}`);
      else if (o.type === 'cleared') io.stdout(`  ${localTime(o.atMs, tz)}  cleared ${o.reason}`);
    },
  });
  if (run.reminds.length === 0 && run.alarms.length === 0) io.stdout('  nothing');
  const perDay = days > 0 ? run.alarms.length / days : 0;
  io.stdout('');
  io.stdout(`${run.alarms.length} alarms (all false in an ordinary life) in ${days.toFixed(1)} days: ${perDay.toFixed(3)} per day (${(perDay * 30).toFixed(2)} per 30 days); ${run.reminds.length} reminders`);
  const noticesPer30 = days > 0 ? (run.notices.length / days) * 30 : 0;
  io.stdout(`${run.notices.length} not-back-home notices (counted apart from alarms): ${noticesPer30.toFixed(2)} per 30 days`);

  const summary: Record<string, unknown> = {
    mode: 'log',
    home: header.home,
    timeZone: tz,
    events: events.length,
    days: Math.round(days * 100) / 100,
    alarms: run.alarms.length,
    reminders: run.reminds.length,
    falseAlarmsPerDay: Math.round(perDay * 10000) / 10000,
    alarmsPer30Days: Math.round(perDay * 30 * 100) / 100,
    notBackNotices: run.notices.length,
    notBackPer30Days: Math.round(noticesPer30 * 100) / 100,
    baseline12hAlarms: baselineSilences(events, first, last).alarms,
  };
  if (cuts > 0) {
    io.stdout('');
    io.stdout(`Cut at ${cuts} random moments after ${localTime(learnFrom, tz)} (no event after the cut):`);
    const delays: (number | undefined)[] = [];
    const byContext = new Map<string, (number | undefined)[]>();
    const baseline: (number | undefined)[] = [];
    for (const snap of run.snapshots) {
      const context = snap.state.passage?.kind === 'departure' ? 'out' : 'home';
      const phase = snap.state.phase.kind;
      const found = phase === 'alarmed' || phase === 'noticed' ? { alarmAtMs: snap.atMs, context: `already ${phase}` } : detect(snap, [], tz, config);
      const d = found.alarmAtMs === undefined ? undefined : found.alarmAtMs - snap.atMs;
      delays.push(d);
      const key = found.context ?? context;
      byContext.set(key, [...(byContext.get(key) ?? []), d]);
      const b = baselineDetect(events, snap.atMs, []);
      baseline.push(b === undefined ? undefined : b - snap.atMs);
      io.stdout(`  cut ${localTime(snap.atMs, tz)} → ${d === undefined ? 'no alarm within 48 h' : `alarm after ${fmtMinutes(Math.round(d / MIN))} (${found.context})`}`);
    }
    const all = delayFigures(delays);
    const missed24h = delays.filter((d) => d === undefined || d > 24 * HOUR).length;
    io.stdout(`  detection delay (alarm or not-back notice): ${describeDelays(all)}; not found within 24 h: ${missed24h}`);
    for (const [k, v] of byContext) io.stdout(`    ${k}: ${describeDelays(delayFigures(v))}`);
    const b = delayFigures(baseline);
    io.stdout(`  baseline 12 h: ${describeDelays(b)}`);
    summary.cuts = { ...all, missed24h, byContext: Object.fromEntries([...byContext].map(([k, v]) => [k, delayFigures(v)])), baseline12h: b };
  }
  io.stdout(JSON.stringify(summary));
  return 0;
}

function localTime(ms: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }).formatToParts(new Date(ms));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`;
}

/**
 * The usual getting-up time of the night an incident falls in (the first
 * after the person went to bed): by default the median of their actual
 * getting-up times in the 4 weeks before (what "usual" meant for them then);
 * `overall`: the median over the whole simulated run. `wakeMinutes[i]` is the
 * local minute of `truth.sleeps[i].e`.
 */
function usualWakeFor(routine: Routine, wakeMinutes: readonly number[], atMs: number, overall = false): number {
  const sleeps = routine.truth.sleeps;
  const sleep = sleeps.find((s) => s.s <= atMs && atMs < s.e);
  const bedtime = sleep?.s ?? atMs;
  let minute = routine.truth.usualWakeMin;
  if (!overall) {
    const recent: number[] = [];
    sleeps.forEach((s, i) => {
      if (s.e <= bedtime && s.e > bedtime - 28 * DAY) recent.push(wakeMinutes[i] ?? minute);
    });
    const m = percentile(recent, 0.5);
    if (m !== null) minute = Math.round(m);
  }
  return nextLocalMinute(routine.timeZone, bedtime, minute);
}

const hourMinute = new Map<string, Intl.DateTimeFormat>();

/** Local minute of the day (0–1439). */
function localMinute(timeZone: string, ms: number): number {
  let f = hourMinute.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit' });
    hourMinute.set(timeZone, f);
  }
  const [h = '0', m = '0'] = f.format(new Date(ms)).split(':');
  return Number(h) * 60 + Number(m);
}

/** First instant after `afterMs` at which the local clock of `timeZone` reads `minuteOfDay` (DST-safe). */
function nextLocalMinute(timeZone: string, afterMs: number, minuteOfDay: number): number {
  const now = localMinute(timeZone, afterMs);
  let guess = afterMs + ((((minuteOfDay - now) % 1440) + 1440) % 1440 || 1440) * MIN;
  // A DST change in between moves the local clock: correct by the difference.
  for (let k = 0; k < 3; k++) {
    const diff = ((((minuteOfDay - localMinute(timeZone, guess)) % 1440) + 2160) % 1440) - 720;
    if (diff === 0) break;
    guess += diff * MIN;
  }
  return guess;
}
