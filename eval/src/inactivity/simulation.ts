/**
 * Simulated person-months: the seeded routine generator's people (varied),
 * each run as a new installation learning from its first day. Every reminder
 * is answered by a button press 1–10 min later with probability 0.9 when the
 * person is up and at home, 0.8 when asleep (the beeping wakes them), never
 * when out. Alarms in this ordinary life are false alarms. Incapacitations
 * are injected at random moments (day and night, at home) after the first 14
 * days: the monitor's state is snapshotted at the moment (exportState),
 * restored in a fresh monitor (register with state) and fed only what the
 * sensors report afterwards (machines switching off, PIRs timing out, now
 * and then a stuck sensor repeating "on"), until the alarm. The baseline is
 * the programmes' rule: an alarm after 12 h without a sensor firing (its
 * reminders and answers are not simulated).
 *
 * People are drawn by the generator's PROFILE_WEIGHTS (a guess: mostly early
 * rising farmers, 8 % with no fixed sleep at all); figures are given per kind
 * too. A night incident is one while asleep before the usual getting-up time
 * (median of the person's actual getting-up times in the 4 weeks before); its
 * delay is counted from that time.
 */
import { resolveInactivityConfig, type InactivityConfig } from '@kanjia/detection';
import { generateRoutine, hashSeed, incidentTail, Prng, stateAt, type Routine } from '@kanjia/firmware-sim';
import { localDayMinute, nextLocalMinute } from '@kanjia/protocol';
import { baselineDetect, baselineSilences, DAY, detect, HOUR, MIN, runMonitor } from './monitor-replay.js';
import { delayFigures, percentile, type DelayFigures } from './statistics.js';

/** Incidents are placed after this much learning. */
export const WARMUP_DAYS = 14;
/** An incident not found within this long is a miss. */
export const SIM_GIVE_UP_MS = 48 * HOUR;

export interface SimOptions {
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

/** The JSON summary of a simulated run (the last line of the output). */
export interface SimSummary {
  mode: 'simulated';
  persons: number;
  months: number;
  personMonths: number;
  seed: number;
  timeZone: string;
  seconds: number;
  learned: {
    falseAlarmsPerPersonMonth: number;
    falseAlarmsPerPersonMonthAfterWarmup: number;
    remindersPerPersonMonth: number;
    noticesPerPersonMonth: number;
    day: DelayFigures;
    night: DelayFigures;
    nightAfterUsualWake: DelayFigures & { over2h: number };
    nightAfterWholeRunUsualWake: DelayFigures;
    /** How the reminders of the ordinary life ended, by the monitor's context of the silence (see ReminderAnswers). */
    reminderAnswers: ReminderAnswers;
  };
  baseline12h: { falseAlarmsPerPersonMonth: number; day: DelayFigures; nightAfterUsualWake: DelayFigures };
  targets: { falseAlarmsPerPersonMonth: boolean; dayMedianUnder90Min: boolean; nightWithin2hOfUsualWake: boolean };
}

/** Reminders by how they ended: the button, a sign of life from a sensor, or nothing (the alarm). */
export interface AnswerCounts {
  reminders: number;
  button: number;
  sensor: number;
  none: number;
}

/**
 * The reminders of a simulated run by how they ended, in all and by the
 * monitor's context of the silence (`sleep`, `day`, `seated`, `rest`,
 * `nightAwake`). `buttonShare` is the share of the reminders no sensor
 * answered that the simulated person answered by the button: what a
 * recording (which has no button) leaves out. The simulated person presses
 * it with probability 0.9 when up, 0.8 asleep, never when out: an
 * assumption of the simulator, not a measurement of real people; the share
 * measured here is what that gives for the moments reminders actually come.
 */
export interface ReminderAnswers extends AnswerCounts {
  buttonShare: number | null;
  byContext: Record<string, AnswerCounts & { buttonShare: number | null }>;
}

/** Share of the reminders no sensor answered that the button answered (null: none). */
const buttonShareOf = (c: AnswerCounts): number | null => (c.button + c.none > 0 ? Math.round((c.button / (c.button + c.none)) * 1000) / 1000 : null);

/** A simulated run: the summary and what the report prints beside it. */
export interface SimResult {
  summary: SimSummary;
  events: number;
  falseAlarms: number;
  falseAlarmsLearned: number;
  remindGraceMin: number;
  falseAlarmsByContext: Map<string, number>;
  byProfile: Map<string, { persons: number; alarms: number; reminds: number }>;
}

/** Simulates the person-months and measures false alarms and detection delays against the 12-h rule. */
export function simulate(o: SimOptions): SimResult {
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
  const falseAlarmsByContext = new Map<string, number>();
  const answers: AnswerCounts = { reminders: 0, button: 0, sensor: 0, none: 0 };
  const answersByContext = new Map<string, AnswerCounts>();
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
    notices += run.notices.length;
    for (const a of run.alarms) falseAlarmsByContext.set(a.context, (falseAlarmsByContext.get(a.context) ?? 0) + 1);
    reminds += run.reminds.length;
    for (const r of run.reminderOutcomes) {
      const byContext = answersByContext.get(r.context) ?? { reminders: 0, button: 0, sensor: 0, none: 0 };
      for (const c of [answers, byContext]) {
        c.reminders++;
        c[r.answer]++;
      }
      answersByContext.set(r.context, byContext);
    }
    const prof = byProfile.get(routine.person.profile) ?? { persons: 0, alarms: 0, reminds: 0 };
    prof.persons++;
    prof.alarms += run.alarms.length;
    prof.reminds += run.reminds.length;
    byProfile.set(routine.person.profile, prof);
    baselineFalse += baselineSilences(routine.events, routine.startMs, routine.endMs).alarms;

    for (const c of cases) {
      const snap = run.snapshots.find((s) => s.atMs === c.atMs);
      if (snap === undefined) continue;
      const tail = incidentTail(routine.events, { kind: 'incapacitation', atMs: c.atMs, where: c.where, stuckSensor: c.stuck }, routine.sensors, c.atMs + SIM_GIVE_UP_MS, seed);
      // An alarm already open for this silence (a false one a moment ago) covers the incident at once.
      const found = snap.state.phase.kind === 'alarmed' || snap.state.phase.kind === 'noticed' ? { alarmAtMs: c.atMs } : detect(snap, tail, o.timeZone, o.config, SIM_GIVE_UP_MS);
      const delay = found.alarmAtMs === undefined ? undefined : found.alarmAtMs - c.atMs;
      const base = baselineDetect(routine.events, c.atMs, tail, SIM_GIVE_UP_MS);
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
  const seconds = (Date.now() - started) / 1000;
  const per = (n: number) => Math.round((n / personMonths) * 1000) / 1000;
  return {
    events,
    falseAlarms,
    falseAlarmsLearned,
    remindGraceMin: Math.round(resolveInactivityConfig(o.config).remindGraceMs / MIN),
    falseAlarmsByContext,
    byProfile,
    summary: {
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
        noticesPerPersonMonth: per(notices),
        day,
        night,
        nightAfterUsualWake: { ...nightWake, over2h: nightOver2h },
        nightAfterWholeRunUsualWake: nightWakeOverall,
        reminderAnswers: {
          ...answers,
          buttonShare: buttonShareOf(answers),
          byContext: Object.fromEntries([...answersByContext].sort().map(([k, c]) => [k, { ...c, buttonShare: buttonShareOf(c) }])),
        },
      },
      baseline12h: { falseAlarmsPerPersonMonth: per(baselineFalse), day: delayFigures(baseDay), nightAfterUsualWake: delayFigures(baseNightAfterWake) },
      targets: {
        falseAlarmsPerPersonMonth: per(falseAlarms) <= 1,
        dayMedianUnder90Min: day.medianMin !== null && day.medianMin < 90,
        nightWithin2hOfUsualWake: nightWake.missed === 0 && nightWake.maxMin !== null && nightWake.maxMin <= 120,
      },
    },
  };
}

/** Incapacitations at random moments when the person is at home, after the warm-up. */
function drawIncidents(routine: Routine, rng: Prng, count: number): IncidentCase[] {
  const from = routine.startMs + WARMUP_DAYS * DAY;
  const to = routine.endMs - SIM_GIVE_UP_MS;
  const cases: IncidentCase[] = [];
  if (to <= from) return cases;
  const wakeMinutes = routine.truth.sleeps.map((s) => localDayMinute(routine.timeZone, s.e).minute);
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
