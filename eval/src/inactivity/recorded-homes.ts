/**
 * Recorded homes (EVENTS-FORMAT.md): each replayed through the monitor from
 * its first day (nobody answers a reminder in a recording, so an unanswered
 * reminder becomes an alarm); `cuts` cuts the recording at that many random
 * moments after the first week (no event after the cut) and measures how
 * long until an alarm or a not-back notice. A cut is missed when neither
 * follows within 24 h. The 12-hour rule is measured beside it on the same
 * events and cuts.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { DetectorOutput, InactivityConfig } from '@kanjia/detection';
import { hashSeed, Prng, readEventLog, type EventLogStats } from '@kanjia/firmware-sim';
import { KanjiaError, type CatalogCodes } from '@kanjia/protocol';
import { CUT_KINDS, cutKind, sleepWindow, type CutKind, type SleepWindow } from './cut-kind.js';
import { baselineDetect, baselineSilences, DAY, detect, HOUR, runMonitor } from './monitor-replay.js';
import type { ReminderAnswers } from './simulation.js';
import { countFindings, delayFigures, per30Days, type DelayFigures } from './statistics.js';

/** A cut with neither an alarm nor a notice within this long is missed. */
export const CUT_GIVE_UP_MS = 24 * HOUR;

/** Stable code of an error reading a folder of recordings. */
export type HomesErrorCode = CatalogCodes<'EVAL_LOGS_UNREADABLE' | 'EVAL_LOGS_EMPTY'>;

export class HomesError extends KanjiaError<HomesErrorCode> {
  override readonly name = 'HomesError';
}

/** Delays of the cuts, with the 12-hour rule's on the same cuts. */
export interface CutFigures extends DelayFigures {
  /** By the kind of silence the detector saw (its finding's context; `already alarmed` when an alarm was open). */
  byContext: Record<string, DelayFigures>;
  /** By what the cut falls in, judged from the recording (cut-kind.ts): day, night, out. */
  byKind: Record<CutKind, DelayFigures>;
  baseline12h: DelayFigures & { byKind: Record<CutKind, DelayFigures> };
}

/** The JSON summary of one home (the last line of `--log`; one entry of `--logs`). */
export interface HomeSummary {
  mode: 'log';
  home: string;
  file: string;
  timeZone: string;
  events: number;
  days: number;
  alarms: number;
  notices: number;
  reminders: number;
  /**
   * Reminders followed by a sign of life from a sensor within the grace period
   * (no alarm). A recording has no button: a reminder the person would have
   * answered by pressing it, without moving past a sensor, counts as unanswered
   * and becomes an alarm, so the alarm figures are pessimistic, never optimistic.
   */
  remindersAnsweredBySensor: number;
  /**
   * The alarms had the person answered the reminders no sensor answered as the
   * simulated people do (ReminderAnswers.buttonShare of the monitor's context
   * of each, measured on the simulator): an expected count, not a recorded
   * one. Absent when no shares were given.
   */
  ifAnsweredAsSimulated?: { alarms: number; per30Days: number; personMonths: number };
  /** Alarms and notices by finding kind. */
  findingsByKind: Record<string, number>;
  falseAlarmsPerDay: number;
  baseline12hAlarms: number;
  per30Days: { alarms: number; notices: number; reminders: number; baseline12hAlarms: number };
  sleepWindow: SleepWindow;
  cuts?: CutFigures;
}

/** One cut as the report lists it. */
export interface CutOutcome {
  atMs: number;
  kind: CutKind;
  delayMs: number | undefined;
  /** Kind of the finding that came first (`inactivity`, `notBack`); undefined: none within 24 h. */
  findingKind: string | undefined;
  /** The detector's context of it (`day`, `sleep`, `out`…; `already alarmed` when an alarm was open at the cut). */
  context: string | undefined;
  baselineDelayMs: number | undefined;
}

export interface HomeResult {
  summary: HomeSummary;
  stats: EventLogStats;
  sensors: number;
  firstMs: number;
  lastMs: number;
  /** Everything the monitor raised, in order. */
  outputs: DetectorOutput[];
  learnFromMs: number;
  cuts: CutOutcome[];
}

/** Replays one recorded home; throws EventLogError when the file cannot be read. */
/** Contexts with fewer simulated reminders that no sensor answered than this use the share of all contexts. */
const MIN_CONTEXT_ANSWERS = 20;

/** Share of the reminders no sensor answered that the simulated person answered by the button, for a context of silence. */
export function buttonShareFor(answers: ReminderAnswers, context: string): number {
  const c = answers.byContext[context];
  if (c !== undefined && c.buttonShare !== null && c.button + c.none >= MIN_CONTEXT_ANSWERS) return c.buttonShare;
  return answers.buttonShare ?? 0;
}

/** Answer shares measured on the simulator, with the size of the run they come from. */
export interface MeasuredAnswers {
  answers: ReminderAnswers;
  personMonths: number;
}

export async function evaluateHome(path: string, cuts: number, seed: number, config: Partial<InactivityConfig>, measure?: () => MeasuredAnswers): Promise<HomeResult> {
  const { header, events, stats } = await readEventLog(path);
  const tz = header.timezone;
  const first = events[0]?.atMs ?? 0;
  const last = events[events.length - 1]?.atMs ?? first;
  const days = (last - first) / DAY;
  const window = sleepWindow(events, tz);
  const summary: HomeSummary = {
    mode: 'log',
    home: header.home,
    file: path,
    timeZone: tz,
    events: events.length,
    days: Math.round(days * 100) / 100,
    alarms: 0,
    notices: 0,
    reminders: 0,
    remindersAnsweredBySensor: 0,
    findingsByKind: {},
    falseAlarmsPerDay: 0,
    baseline12hAlarms: 0,
    per30Days: { alarms: 0, notices: 0, reminders: 0, baseline12hAlarms: 0 },
    sleepWindow: window,
  };
  const result: HomeResult = { summary, stats, sensors: header.sensors.length, firstMs: first, lastMs: last, outputs: [], learnFromMs: first, cuts: [] };
  if (events.length === 0) return result;

  // The same seed gives a home the same cuts whether it is run alone (--log) or in a folder (--logs).
  const rng = new Prng(hashSeed(seed, 0xc07));
  const learnFrom = first + Math.min(7 * DAY, (days * DAY) / 2);
  result.learnFromMs = learnFrom;
  const cutTimes: number[] = [];
  for (let k = 0; k < cuts; k++) cutTimes.push(Math.round(rng.uniform(learnFrom, last)));
  cutTimes.sort((a, b) => a - b);

  const run = runMonitor({ events, timeZone: tz, startMs: first, endMs: last + 1, config, snapshotAt: cutTimes, onOutput: (o) => result.outputs.push(o) });
  const found = countFindings(result.outputs);
  const baselineAlarms = baselineSilences(events, first, last).alarms;
  Object.assign(summary, {
    alarms: found.alarms,
    notices: found.notices,
    reminders: run.reminds.length,
    remindersAnsweredBySensor: answeredBySensor(result.outputs),
    findingsByKind: found.byKind,
    falseAlarmsPerDay: days > 0 ? Math.round((found.alarms / days) * 10000) / 10000 : 0,
    baseline12hAlarms: baselineAlarms,
    per30Days: { alarms: per30Days(found.alarms, days), notices: per30Days(found.notices, days), reminders: per30Days(run.reminds.length, days), baseline12hAlarms: per30Days(baselineAlarms, days) },
  });
  const measured = measure?.();
  if (measured !== undefined) {
    const expected = run.reminderOutcomes.filter((r) => r.answer === 'none').reduce((sum, r) => sum + 1 - buttonShareFor(measured.answers, r.context), 0);
    summary.ifAnsweredAsSimulated = { alarms: Math.round(expected * 100) / 100, per30Days: per30Days(expected, days), personMonths: measured.personMonths };
  }
  if (cuts === 0) return result;

  for (const snap of run.snapshots) {
    // A case already open for this silence (an alarm, or a not-back notice for this absence) covers the cut at once.
    const phase = snap.state.phase.kind;
    const found =
      phase === 'alarmed' ? { alarmAtMs: snap.atMs, kind: 'inactivity', context: 'already alarmed' } : phase === 'noticed' ? { alarmAtMs: snap.atMs, kind: 'notBack', context: 'already noticed' } : detect(snap, [], tz, config, CUT_GIVE_UP_MS);
    const b = baselineDetect(events, snap.atMs, [], CUT_GIVE_UP_MS);
    result.cuts.push({
      atMs: snap.atMs,
      kind: cutKind(events, snap.atMs, window, tz),
      delayMs: found.alarmAtMs === undefined ? undefined : found.alarmAtMs - snap.atMs,
      findingKind: found.alarmAtMs === undefined ? undefined : found.kind,
      context: found.alarmAtMs === undefined ? undefined : found.context,
      baselineDelayMs: b === undefined ? undefined : b - snap.atMs,
    });
  }
  const contextOf = (c: CutOutcome) => c.context ?? 'none';
  const byContext: Record<string, DelayFigures> = {};
  for (const context of new Set(result.cuts.map(contextOf))) byContext[context] = delayFigures(result.cuts.filter((c) => contextOf(c) === context).map((c) => c.delayMs));
  const byKind = (delay: (c: CutOutcome) => number | undefined) =>
    Object.fromEntries(CUT_KINDS.map((k) => [k, delayFigures(result.cuts.filter((c) => c.kind === k).map(delay))])) as Record<CutKind, DelayFigures>;
  summary.cuts = {
    ...delayFigures(result.cuts.map((c) => c.delayMs)),
    byContext,
    byKind: byKind((c) => c.delayMs),
    baseline12h: { ...delayFigures(result.cuts.map((c) => c.baselineDelayMs)), byKind: byKind((c) => c.baselineDelayMs) },
  };
  return result;
}

/** Reminders whose next output is not the inactivity alarm (a sign of life came within the grace period). */
function answeredBySensor(outputs: readonly DetectorOutput[]): number {
  let answered = 0;
  outputs.forEach((o, i) => {
    if (o.type !== 'remind') return;
    const next = outputs[i + 1];
    if (!(next?.type === 'alarm' && next.finding.kind === 'inactivity')) answered += 1;
  });
  return answered;
}

/** The recordings of a folder (`*.jsonl`, `*.jsonl.gz`), sorted by name; throws HomesError. */
export async function recordingsIn(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new HomesError('EVAL_LOGS_UNREADABLE', `${dir}: cannot list the folder: ${(err as Error).message}`);
  }
  const files = names.filter((n) => n.endsWith('.jsonl') || n.endsWith('.jsonl.gz')).sort();
  if (files.length === 0) throw new HomesError('EVAL_LOGS_EMPTY', `${dir}: no recordings (*.jsonl or *.jsonl.gz) in this folder`);
  return files.map((n) => join(dir, n));
}

/** The JSON summary of a folder of homes: one entry per home, and the totals. */
export interface HomesSummary {
  mode: 'logs';
  dir: string;
  homes: HomeSummary[];
  total: {
    homes: number;
    days: number;
    alarms: number;
    notices: number;
    reminders: number;
    baseline12hAlarms: number;
    per30Days: { alarms: number; notices: number; reminders: number; baseline12hAlarms: number };
    /** HomeSummary.ifAnsweredAsSimulated, summed. */
    ifAnsweredAsSimulated?: { alarms: number; per30Days: number };
    /** Every home's cuts pooled. */
    cuts?: DelayFigures & { byKind: Record<CutKind, DelayFigures>; baseline12h: DelayFigures & { byKind: Record<CutKind, DelayFigures> } };
  };
}

/** Replays every recording of a folder. */
export async function evaluateHomes(dir: string, cuts: number, seed: number, config: Partial<InactivityConfig>, measure?: () => MeasuredAnswers): Promise<{ results: HomeResult[]; summary: HomesSummary }> {
  const results: HomeResult[] = [];
  for (const file of await recordingsIn(dir)) results.push(await evaluateHome(file, cuts, seed, config, measure));
  const homes = results.map((r) => r.summary);
  const sum = (f: (h: HomeSummary) => number) => homes.reduce((a, h) => a + f(h), 0);
  const days = sum((h) => h.days);
  const total: HomesSummary['total'] = {
    homes: homes.length,
    days: Math.round(days * 100) / 100,
    alarms: sum((h) => h.alarms),
    notices: sum((h) => h.notices),
    reminders: sum((h) => h.reminders),
    baseline12hAlarms: sum((h) => h.baseline12hAlarms),
    per30Days: { alarms: 0, notices: 0, reminders: 0, baseline12hAlarms: 0 },
  };
  if (measure !== undefined) {
    const expected = sum((h) => h.ifAnsweredAsSimulated?.alarms ?? 0);
    total.ifAnsweredAsSimulated = { alarms: Math.round(expected * 100) / 100, per30Days: per30Days(expected, days) };
  }
  total.per30Days = { alarms: per30Days(total.alarms, days), notices: per30Days(total.notices, days), reminders: per30Days(total.reminders, days), baseline12hAlarms: per30Days(total.baseline12hAlarms, days) };
  const all = results.flatMap((r) => r.cuts);
  if (cuts > 0) {
    const byKind = (delay: (c: CutOutcome) => number | undefined) =>
      Object.fromEntries(CUT_KINDS.map((k) => [k, delayFigures(all.filter((c) => c.kind === k).map(delay))])) as Record<CutKind, DelayFigures>;
    total.cuts = {
      ...delayFigures(all.map((c) => c.delayMs)),
      byKind: byKind((c) => c.delayMs),
      baseline12h: { ...delayFigures(all.map((c) => c.baselineDelayMs)), byKind: byKind((c) => c.baselineDelayMs) },
    };
  }
  return { results, summary: { mode: 'logs', dir, homes, total } };
}
