/**
 * `kanjia eval-falls`: replays every trial of a fall dataset
 * (../shared/datasets/FORMAT.md) through the live FallDetector, cut into the
 * accel windows a device would send, and prints sensitivity, specificity and
 * false alarms per hour of ADL data per body position and age group, then one
 * JSON summary on its last line.
 *
 * A trial counts as detected when the detector reports at least one fall
 * while its windows are pushed or when its stream is flushed at the end.
 *
 * `--loso` also measures how well the thresholds generalise to people the
 * detector has never seen: for each subject, the position's thresholds are
 * fitted (grid search) on every other subject's trials and the held-out
 * subject's trials are judged with them. The impacts are measured once by a
 * permissive detector and re-judged with fallCriteria(), the same rule the
 * live detector applies.
 */
import { basename, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import {
  FallDetector,
  fallCriteria,
  isFall,
  resolveFallConfig,
  type FallDetectorConfig,
  type FallDetectorOptions,
  type FallPositionParams,
  type ImpactFeatures,
} from '@kanjia/detection';
import { DEFAULT_WINDOW_MS, DatasetError, readTrials, trialDurationMs, trialWindows, type FallTrial } from '@kanjia/firmware-sim';
import { BODY_POSITIONS, type BodyPosition } from '@kanjia/protocol';

export interface EvalIo {
  stdout(line: string): void;
  stderr(line: string): void;
}

const processIo: EvalIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};

export const EVAL_FALLS_USAGE = `Usage: kanjia eval-falls --dataset FILE [--loso] [--limit N] [--window-ms MS] [--skip-invalid] [--verbose] [--json-only]

  --dataset FILE   a fall dataset (gzip JSON Lines, ../shared/datasets/FORMAT.md)
  --loso           also evaluate leaving whole subjects out (thresholds fitted on the others)
  --limit N        only the first N trials of each position and label (a quick run for CI)
  --window-ms MS   length of the accel windows the device sends (default ${DEFAULT_WINDOW_MS})
  --skip-invalid   skip invalid lines (counted in the summary) instead of stopping at the first
  --verbose        list every missed fall and every false alarm
  --json-only      print only the JSON summary line`;

/** Age groups of the report; age 0 in a dataset means unknown. */
export const AGE_GROUPS = ['<60', '>=60', 'unknown'] as const;
export type AgeGroup = (typeof AGE_GROUPS)[number];

function ageGroup(age: number): AgeGroup {
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

export interface PositionFigures extends GroupFigures {
  byAge: Partial<Record<AgeGroup, GroupFigures>>;
}

/** Thresholds fitted in the folds of one position, with the held-out subjects they were fitted for. */
export interface LosoFit {
  position: BodyPosition;
  params: FallPositionParams;
  heldOutSubjects: string[];
}

export interface LosoFigures {
  rule: string;
  positions: Partial<Record<BodyPosition, GroupFigures>>;
  overall: GroupFigures;
  fits: LosoFit[];
}

export interface FallEvalSummary {
  dataset: string;
  file: string;
  trials: number;
  falls: number;
  adls: number;
  adlHours: number;
  windowMs: number;
  limitPerPositionAndLabel: number | null;
  positions: Partial<Record<BodyPosition, PositionFigures>>;
  overall: GroupFigures;
  loso: LosoFigures | null;
  params: FallDetectorConfig;
  dataQuality: { skippedLines: number; suspectCalibrationTrials: number };
}

export interface EvaluateFallsOptions {
  /** Shown in the summary; default: the last two parts of the path. */
  datasetName?: string;
  file?: string;
  detector?: FallDetectorOptions;
  windowMs?: number;
  limitPerPositionAndLabel?: number;
  loso?: boolean;
  skippedLines?: number;
}

export interface FallEvalResult {
  summary: FallEvalSummary;
  outcomes: TrialOutcome[];
}

/** Replays the trials through a FallDetector and computes every figure of the report. */
export async function evaluateFalls(trials: AsyncIterable<FallTrial> | Iterable<FallTrial>, options: EvaluateFallsOptions = {}): Promise<FallEvalResult> {
  const config = resolveFallConfig(options.detector);
  const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
  const detector = new FallDetector(config);
  // The probe measures every impact a fitted threshold could accept; its own verdicts are not used.
  let probeImpacts: ImpactFeatures[] = [];
  const probe = options.loso === true ? new FallDetector(permissiveConfig(config), { onImpact: (impact) => probeImpacts.push(impact.features) }) : undefined;

  const outcomes: TrialOutcome[] = [];
  const taken = new Map<string, number>();
  const limit = options.limitPerPositionAndLabel;
  let seq = 0;
  for await (const trial of trials) {
    const group = `${trial.position}/${trial.label}`;
    const count = taken.get(group) ?? 0;
    if (limit !== undefined && count >= limit) continue;
    taken.set(group, count + 1);
    seq += 1;

    const deviceId = `eval-${seq}`;
    const windows = trialWindows(trial, { windowMs, idPrefix: `t${seq.toString(36)}` });
    const detections = windows.flatMap((window) => detector.push(deviceId, window));
    detections.push(...detector.flush(deviceId));
    detector.reset(deviceId);
    if (probe !== undefined) {
      probeImpacts = [];
      for (const window of windows) probe.push(deviceId, window);
      probe.flush(deviceId);
      probe.reset(deviceId);
    }
    outcomes.push({
      id: trial.id,
      subject: trial.subject,
      age: trial.age,
      label: trial.label,
      activity: trial.activity,
      position: trial.position,
      durationMs: trialDurationMs(trial),
      detections: detections.length,
      firstReason: detections[0]?.reason,
      suspectCalibration: suspectCalibration(trial),
      ...(probe === undefined ? {} : { impacts: probeImpacts }),
    });
  }

  const positions: Partial<Record<BodyPosition, PositionFigures>> = {};
  for (const position of BODY_POSITIONS) {
    const ofPosition = outcomes.filter((o) => o.position === position);
    if (ofPosition.length === 0) continue;
    const byAge: Partial<Record<AgeGroup, GroupFigures>> = {};
    for (const group of AGE_GROUPS) {
      const ofAge = ofPosition.filter((o) => ageGroup(o.age) === group);
      if (ofAge.length > 0) byAge[group] = figures(ofAge);
    }
    positions[position] = { ...figures(ofPosition), byAge };
  }
  const overall = figures(outcomes);

  let loso: LosoFigures | null = null;
  if (probe !== undefined) {
    const judged = outcomes.map((outcome) => ({ outcome, impacts: outcome.impacts ?? [] }));
    loso = leaveOneSubjectOut(judged, config);
  }

  return {
    outcomes,
    summary: {
      dataset: options.datasetName ?? (options.file === undefined ? 'dataset' : datasetNameOf(options.file)),
      file: options.file ?? '',
      trials: outcomes.length,
      falls: overall.falls,
      adls: overall.adls,
      adlHours: overall.adlHours,
      windowMs,
      limitPerPositionAndLabel: limit ?? null,
      positions,
      overall,
      loso,
      params: config,
      dataQuality: { skippedLines: options.skippedLines ?? 0, suspectCalibrationTrials: outcomes.filter((o) => o.suspectCalibration).length },
    },
  };
}

/** `.../umafall/trials.jsonl.gz` → `umafall/trials.jsonl.gz`. */
function datasetNameOf(file: string): string {
  const parent = basename(dirname(file));
  return parent === '' || parent === '.' ? basename(file) : `${parent}/${basename(file)}`;
}

/**
 * A sensor at rest reads 1 g. The median SVM of the quiet seconds of a trial
 * (1 s blocks whose SVM varies by less than 0.05 g) far from 1 g means the
 * recording's scale is wrong (UMAFall has chest recordings at 0.25 g). Such
 * trials are still counted as they are; the report says how many there are.
 */
function suspectCalibration(trial: FallTrial): boolean {
  const block = Math.max(1, Math.round(trial.hz));
  const quietMeans: number[] = [];
  for (let start = 0; start + block <= trial.samples.length; start += block) {
    const svm = trial.samples.slice(start, start + block).map(([x, y, z]) => Math.sqrt(x * x + y * y + z * z));
    const mean = svm.reduce((a, b) => a + b, 0) / svm.length;
    const sd = Math.sqrt(svm.reduce((a, b) => a + (b - mean) ** 2, 0) / svm.length);
    if (sd < 0.05) quietMeans.push(mean);
  }
  if (quietMeans.length === 0) return false;
  quietMeans.sort((a, b) => a - b);
  const median = quietMeans[Math.floor(quietMeans.length / 2)] ?? 1;
  return median < 0.8 || median > 1.2;
}

function ratio(numerator: number, denominator: number): number | null {
  return denominator === 0 ? null : Math.round((numerator / denominator) * 10_000) / 10_000;
}

function figures(outcomes: TrialOutcome[]): GroupFigures {
  const falls = outcomes.filter((o) => o.label === 'fall');
  const adls = outcomes.filter((o) => o.label === 'adl');
  const detectedFalls = falls.filter((o) => o.detections > 0).length;
  const falseAlarmTrials = adls.filter((o) => o.detections > 0).length;
  const falseAlarms = adls.reduce((sum, o) => sum + o.detections, 0);
  const adlHours = adls.reduce((sum, o) => sum + o.durationMs, 0) / 3_600_000;
  return {
    trials: outcomes.length,
    falls: falls.length,
    detectedFalls,
    sensitivity: ratio(detectedFalls, falls.length),
    adls: adls.length,
    falseAlarmTrials,
    specificity: ratio(adls.length - falseAlarmTrials, adls.length),
    adlHours: Math.round(adlHours * 10_000) / 10_000,
    falseAlarms,
    falseAlarmsPerHour: adlHours === 0 ? null : Math.round((falseAlarms / adlHours) * 100) / 100,
  };
}

// ——— leave one subject out ———

/** Grid searched per position; every value is physically plausible (see detection/src/fall/config.ts). */
const GRID = {
  impactThresholdG: [1.6, 1.8, 2.0, 2.2, 2.5, 3.0, 3.5, 4.0],
  lowImpactThresholdG: [1.4, 1.5, 1.6, 1.8, 2.0, 2.5, 3.0, 4.0],
  freeFallThresholdG: [0.4, 0.5, 0.6, 0.7],
  priorActivityMaxG: [2.0, 2.5, 3.0, 4.0],
  postureChangeMinDeg: [30, 45, 60],
  stillnessMaxSdG: [0.1, 0.15, 0.2],
} as const satisfies Record<keyof FallPositionParams, readonly number[]>;

/** Specificity a fitted threshold set must reach on the training subjects (the project's target). */
const TARGET_SPECIFICITY = 0.985;

export const LOSO_RULE =
  `per position, the grid point with the highest training sensitivity among those with training specificity >= ${TARGET_SPECIFICITY} ` +
  '(else the highest sensitivity + specificity); ties go to the point nearest the defaults';

function permissiveConfig(config: FallDetectorConfig): FallDetectorOptions {
  const floor = Math.min(...GRID.lowImpactThresholdG, ...GRID.impactThresholdG);
  const permissive: FallPositionParams = {
    impactThresholdG: floor,
    lowImpactThresholdG: floor,
    freeFallThresholdG: 1,
    priorActivityMaxG: 64,
    postureChangeMinDeg: 1,
    stillnessMaxSdG: 64,
  };
  return { ...config, positions: { chest: permissive, waist: permissive, wrist: permissive } };
}

function gridPoints(): FallPositionParams[] {
  const points: FallPositionParams[] = [];
  for (const impactThresholdG of GRID.impactThresholdG)
    for (const lowImpactThresholdG of GRID.lowImpactThresholdG) {
      if (lowImpactThresholdG > impactThresholdG) continue;
      for (const freeFallThresholdG of GRID.freeFallThresholdG)
        for (const priorActivityMaxG of GRID.priorActivityMaxG)
          for (const postureChangeMinDeg of GRID.postureChangeMinDeg)
            for (const stillnessMaxSdG of GRID.stillnessMaxSdG)
              points.push({ impactThresholdG, lowImpactThresholdG, freeFallThresholdG, priorActivityMaxG, postureChangeMinDeg, stillnessMaxSdG });
    }
  return points;
}

/** Distance of a grid point from the defaults, each parameter scaled by its grid's span. */
function distanceFromDefaults(p: FallPositionParams, d: FallPositionParams): number {
  let distance = 0;
  for (const key of Object.keys(GRID) as Array<keyof FallPositionParams>) {
    const values = GRID[key];
    const span = Math.max(...values) - Math.min(...values) || 1;
    distance += Math.abs(p[key] - d[key]) / span;
  }
  return distance;
}

interface Counts {
  falls: number;
  detectedFalls: number;
  adls: number;
  falseAlarmTrials: number;
  falseAlarms: number;
  adlMs: number;
}

function leaveOneSubjectOut(judged: Array<{ outcome: TrialOutcome; impacts: ImpactFeatures[] }>, config: FallDetectorConfig): LosoFigures {
  const points = gridPoints();
  const fits: LosoFit[] = [];
  const positions: Partial<Record<BodyPosition, GroupFigures>> = {};
  const all: Counts = emptyCounts();
  for (const position of BODY_POSITIONS) {
    const trials = judged.filter((j) => j.outcome.position === position);
    if (trials.length === 0) continue;
    const subjects = [...new Set(trials.map((t) => t.outcome.subject))].sort();
    // counts[subject][point]
    const counts = new Map<string, Counts[]>(subjects.map((s) => [s, points.map(emptyCounts)]));
    for (const { outcome, impacts } of trials) {
      const row = counts.get(outcome.subject) as Counts[];
      points.forEach((p, g) => addTrial(row[g] as Counts, outcome, countDetections(impacts, p, config)));
    }
    const totals = points.map((_, g) => sumCounts(subjects.map((s) => (counts.get(s) as Counts[])[g] as Counts)));
    const defaults = config.positions[position];
    const distances = points.map((p) => distanceFromDefaults(p, defaults));
    const tested = emptyCounts();
    for (const subject of subjects) {
      const own = counts.get(subject) as Counts[];
      const training = totals.map((total, g) => subtractCounts(total, own[g] as Counts));
      const best = pickBest(training, distances);
      const test = own[best] as Counts;
      addCounts(tested, test);
      const params = points[best] as FallPositionParams;
      const fit = fits.find((f) => f.position === position && f.params === params);
      if (fit === undefined) fits.push({ position, params, heldOutSubjects: [subject] });
      else fit.heldOutSubjects.push(subject);
    }
    positions[position] = countsToFigures(tested);
    addCounts(all, tested);
  }
  return { rule: LOSO_RULE, positions, overall: countsToFigures(all), fits };
}

/** Detections the live detector would report in a trial with these thresholds (impacts within refractoryMs of a detection are the same fall). */
export function countDetections(impacts: ImpactFeatures[], p: FallPositionParams, config: FallDetectorConfig): number {
  let count = 0;
  let last = Number.NEGATIVE_INFINITY;
  for (const f of impacts) {
    if (!isFall(fallCriteria(f, p, config.minStillnessObservedMs))) continue;
    if (Math.abs(f.atMs - last) < config.refractoryMs) continue;
    last = f.atMs;
    count += 1;
  }
  return count;
}

function pickBest(training: Counts[], distances: number[]): number {
  let best = -1;
  let bestKey: [number, number, number, number] = [-1, -1, -1, 0];
  training.forEach((c, g) => {
    const sens = c.falls === 0 ? 0 : c.detectedFalls / c.falls;
    const spec = c.adls === 0 ? 1 : 1 - c.falseAlarmTrials / c.adls;
    const meets = spec >= TARGET_SPECIFICITY ? 1 : 0;
    const key: [number, number, number, number] = meets === 1 ? [1, sens, spec, -(distances[g] ?? 0)] : [0, sens + spec, spec, -(distances[g] ?? 0)];
    if (best === -1 || compareKeys(key, bestKey) > 0) {
      best = g;
      bestKey = key;
    }
  });
  return best;
}

function compareKeys(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (Math.abs(d) > 1e-12) return d;
  }
  return 0;
}

function emptyCounts(): Counts {
  return { falls: 0, detectedFalls: 0, adls: 0, falseAlarmTrials: 0, falseAlarms: 0, adlMs: 0 };
}

function addTrial(c: Counts, o: TrialOutcome, detections: number): void {
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

function addCounts(into: Counts, c: Counts): void {
  into.falls += c.falls;
  into.detectedFalls += c.detectedFalls;
  into.adls += c.adls;
  into.falseAlarmTrials += c.falseAlarmTrials;
  into.falseAlarms += c.falseAlarms;
  into.adlMs += c.adlMs;
}

function sumCounts(list: Counts[]): Counts {
  const total = emptyCounts();
  for (const c of list) addCounts(total, c);
  return total;
}

function subtractCounts(a: Counts, b: Counts): Counts {
  return {
    falls: a.falls - b.falls,
    detectedFalls: a.detectedFalls - b.detectedFalls,
    adls: a.adls - b.adls,
    falseAlarmTrials: a.falseAlarmTrials - b.falseAlarmTrials,
    falseAlarms: a.falseAlarms - b.falseAlarms,
    adlMs: a.adlMs - b.adlMs,
  };
}

function countsToFigures(c: Counts): GroupFigures {
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

// ——— command line ———

class UsageError extends Error {}

interface EvalArgs {
  dataset: string;
  loso: boolean;
  limit: number | undefined;
  windowMs: number;
  skipInvalid: boolean;
  verbose: boolean;
  jsonOnly: boolean;
}

function parseEvalArgs(argv: string[]): EvalArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        dataset: { type: 'string' },
        loso: { type: 'boolean', default: false },
        limit: { type: 'string' },
        'window-ms': { type: 'string' },
        'skip-invalid': { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        'json-only': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) throw new UsageError('');
  if (values.dataset === undefined || values.dataset === '') throw new UsageError('--dataset FILE is required');
  const whole = (name: string, text: string | undefined, min: number, max: number): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name}: expected a whole number ${min}–${max}, got "${text}"`);
    return n;
  };
  return {
    dataset: values.dataset,
    loso: values.loso === true,
    limit: whole('--limit', values.limit, 1, 1_000_000),
    windowMs: whole('--window-ms', values['window-ms'], 50, 10_000) ?? DEFAULT_WINDOW_MS,
    skipInvalid: values['skip-invalid'] === true,
    verbose: values.verbose === true,
    jsonOnly: values['json-only'] === true,
  };
}

/** `kanjia eval-falls …`; returns the exit code (0 done, 1 the dataset could not be read, 2 usage). */
export async function runEvalFalls(argv: string[], io: EvalIo = processIo): Promise<number> {
  let args: EvalArgs;
  try {
    args = parseEvalArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      if (error.message !== '') io.stderr(`kanjia eval-falls: ${error.message}`);
      io.stderr(EVAL_FALLS_USAGE);
      return error.message === '' ? 0 : 2;
    }
    throw error;
  }

  let skippedLines = 0;
  const skipped: string[] = [];
  let result: FallEvalResult;
  try {
    const trials = readTrials(args.dataset, {
      invalidLines: args.skipInvalid ? 'skip' : 'fail',
      onSkipped: (problem) => {
        skippedLines += 1;
        skipped.push(problem.message);
      },
    });
    result = await evaluateFalls(trials, {
      file: args.dataset,
      windowMs: args.windowMs,
      loso: args.loso,
      ...(args.limit === undefined ? {} : { limitPerPositionAndLabel: args.limit }),
    });
  } catch (error) {
    if (error instanceof DatasetError) {
      io.stderr(`kanjia eval-falls: ${error.code}: ${error.message}`);
      return 1;
    }
    throw error;
  }
  result.summary.dataQuality.skippedLines = skippedLines;

  if (!args.jsonOnly) {
    for (const line of skipped) io.stderr(`skipped ${line}`);
    for (const line of report(result, args.verbose)) io.stdout(line);
  }
  io.stdout(JSON.stringify(result.summary));
  return 0;
}

const pct = (x: number | null): string => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);
const num = (x: number | null, digits: number): string => (x === null ? '—' : x.toFixed(digits));

function tableRows(rows: Array<{ position: string; age: string; f: GroupFigures }>): string[] {
  const header = ['position', 'age', 'falls', 'detected', 'sensitivity', 'ADLs', 'false-alarm ADLs', 'specificity', 'ADL h', 'false alarms/h'];
  const body = rows.map(({ position, age, f }) => [
    position,
    age,
    String(f.falls),
    String(f.detectedFalls),
    pct(f.sensitivity),
    String(f.adls),
    String(f.falseAlarmTrials),
    pct(f.specificity),
    num(f.adlHours, 2),
    num(f.falseAlarmsPerHour, 2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), ...body.map(line)];
}

function report({ summary, outcomes }: FallEvalResult, verbose: boolean): string[] {
  const lines: string[] = [];
  if (verbose) {
    for (const o of outcomes) {
      if (o.label === 'fall' && o.detections === 0) lines.push(`missed fall   ${o.id} (${o.activity}, subject ${o.subject})`);
      if (o.label === 'adl' && o.detections > 0) lines.push(`false alarm   ${o.id} (${o.activity}, subject ${o.subject}): ${o.firstReason ?? ''}`);
    }
    for (const o of outcomes.filter((x) => x.suspectCalibration)) lines.push(`suspect scale ${o.id}: median |a| is not about 1 g`);
    lines.push('');
  }
  lines.push(
    `eval-falls ${summary.dataset}: ${summary.trials} trials (${summary.falls} falls, ${summary.adls} ADLs, ${summary.adlHours.toFixed(2)} h of ADL), ` +
      `${summary.windowMs} ms windows${summary.limitPerPositionAndLabel === null ? '' : `, first ${summary.limitPerPositionAndLabel} per position and label`}`,
  );
  const rows: Array<{ position: string; age: string; f: GroupFigures }> = [];
  for (const position of BODY_POSITIONS) {
    const p = summary.positions[position];
    if (p === undefined) continue;
    rows.push({ position, age: 'all', f: p });
    for (const group of AGE_GROUPS) {
      const f = p.byAge[group];
      if (f !== undefined) rows.push({ position, age: group, f });
    }
  }
  rows.push({ position: 'all', age: 'all', f: summary.overall });
  lines.push(...tableRows(rows));
  if (summary.dataQuality.suspectCalibrationTrials > 0) {
    lines.push(`${summary.dataQuality.suspectCalibrationTrials} trial(s) have a median |a| outside 0.8–1.2 g (suspect sensor scale); they are counted as they are.`);
  }
  if (summary.loso !== null) {
    lines.push('', `leave one subject out (${summary.loso.rule}):`);
    const losoRows: Array<{ position: string; age: string; f: GroupFigures }> = [];
    for (const position of BODY_POSITIONS) {
      const f = summary.loso.positions[position];
      if (f !== undefined) losoRows.push({ position, age: 'all', f });
    }
    losoRows.push({ position: 'all', age: 'all', f: summary.loso.overall });
    lines.push(...tableRows(losoRows));
    for (const fit of summary.loso.fits) {
      const p = fit.params;
      lines.push(
        `  ${fit.position}: impact ${p.impactThresholdG} g (${p.lowImpactThresholdG} g after free fall to ${p.freeFallThresholdG} g), ` +
          `calm below ${p.priorActivityMaxG} g, posture ${p.postureChangeMinDeg}°, still sd ${p.stillnessMaxSdG} g — fitted for ${fit.heldOutSubjects.length} held-out subject(s)`,
      );
    }
  }
  return lines;
}

