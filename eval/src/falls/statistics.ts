/**
 * The figures of a fall evaluation: sensitivity, specificity and false alarms
 * per hour of ADL data (../shared/datasets/FORMAT.md), over any group of
 * judged trials.
 */
import type { ImpactFeatures } from '@kanjia/detection';
import type { BodyPosition } from '@kanjia/protocol';

/** Age groups of the report; age 0 in a dataset means unknown. */
export const AGE_GROUPS = ['<60', '>=60', 'unknown'] as const;
export type AgeGroup = (typeof AGE_GROUPS)[number];

/** The report's age group of an age in years (0 = unknown). */
export function ageGroup(age: number): AgeGroup {
  if (age <= 0) return 'unknown';
  return age < 60 ? '<60' : '>=60';
}

/** What happened to one trial. */
export interface TrialOutcome {
  id: string;
  subject: string;
  age: number;
  label: 'fall' | 'adl';
  activity: string;
  position: BodyPosition;
  durationMs: number;
  /** Falls the detector reported during the replay (0 = quiet). */
  detections: number;
  /** Reason of the first detection, if any. */
  firstReason: string | undefined;
  /** Median SVM far from 1 g: the recording's scale is suspect (a sensor at rest reads 1 g). */
  suspectCalibration: boolean;
  /** With `loso`: every impact the permissive probe measured, for re-judging under other thresholds. */
  impacts?: ImpactFeatures[];
}

/** Figures of one group of trials. Ratios are 0..1, null when the group has no trial of that label. */
export interface GroupFigures {
  trials: number;
  falls: number;
  detectedFalls: number;
  sensitivity: number | null;
  adls: number;
  falseAlarmTrials: number;
  specificity: number | null;
  adlHours: number;
  falseAlarms: number;
  falseAlarmsPerHour: number | null;
}

/** Tallies of a group of trials under one set of thresholds, from which GroupFigures follow. */
export interface Counts {
  falls: number;
  detectedFalls: number;
  adls: number;
  falseAlarmTrials: number;
  falseAlarms: number;
  adlMs: number;
}

/** A ratio rounded to 4 decimals; null for 0/0. */
export function ratio(numerator: number, denominator: number): number | null {
  return denominator === 0 ? null : Math.round((numerator / denominator) * 10_000) / 10_000;
}

/** Counts of no trial. */
export function emptyCounts(): Counts {
  return { falls: 0, detectedFalls: 0, adls: 0, falseAlarmTrials: 0, falseAlarms: 0, adlMs: 0 };
}

/** Adds one trial judged with `detections` falls reported. */
export function addTrial(c: Counts, o: Pick<TrialOutcome, 'label' | 'durationMs'>, detections: number): void {
  if (o.label === 'fall') {
    c.falls += 1;
    if (detections > 0) c.detectedFalls += 1;
  } else {
    c.adls += 1;
    c.adlMs += o.durationMs;
    c.falseAlarms += detections;
    if (detections > 0) c.falseAlarmTrials += 1;
  }
}

/** `into += c`. */
export function addCounts(into: Counts, c: Counts): void {
  into.falls += c.falls;
  into.detectedFalls += c.detectedFalls;
  into.adls += c.adls;
  into.falseAlarmTrials += c.falseAlarmTrials;
  into.falseAlarms += c.falseAlarms;
  into.adlMs += c.adlMs;
}

/** The sum of a list of counts. */
export function sumCounts(list: Counts[]): Counts {
  const total = emptyCounts();
  for (const c of list) addCounts(total, c);
  return total;
}

/** `a - b` (the training set of a fold: everything minus the held-out subject). */
export function subtractCounts(a: Counts, b: Counts): Counts {
  return {
    falls: a.falls - b.falls,
    detectedFalls: a.detectedFalls - b.detectedFalls,
    adls: a.adls - b.adls,
    falseAlarmTrials: a.falseAlarmTrials - b.falseAlarmTrials,
    falseAlarms: a.falseAlarms - b.falseAlarms,
    adlMs: a.adlMs - b.adlMs,
  };
}

/** The report's figures of a tally. */
export function countsToFigures(c: Counts): GroupFigures {
  const adlHours = c.adlMs / 3_600_000;
  return {
    trials: c.falls + c.adls,
    falls: c.falls,
    detectedFalls: c.detectedFalls,
    sensitivity: ratio(c.detectedFalls, c.falls),
    adls: c.adls,
    falseAlarmTrials: c.falseAlarmTrials,
    specificity: ratio(c.adls - c.falseAlarmTrials, c.adls),
    adlHours: Math.round(adlHours * 10_000) / 10_000,
    falseAlarms: c.falseAlarms,
    falseAlarmsPerHour: adlHours === 0 ? null : Math.round((c.falseAlarms / adlHours) * 100) / 100,
  };
}

/** The figures of a group of trials as the live detector judged them. */
export function figures(outcomes: readonly TrialOutcome[]): GroupFigures {
  const c = emptyCounts();
  for (const o of outcomes) addTrial(c, o, o.detections);
  return countsToFigures(c);
}
