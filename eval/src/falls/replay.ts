/**
 * Replays every trial of a fall dataset (../shared/datasets/FORMAT.md) through
 * the live FallDetector, cut into the accel windows a device would send, and
 * computes every figure of the report. A trial counts as detected when the
 * detector reports at least one fall while its windows are pushed or when its
 * stream is flushed at the end.
 */
import { basename, dirname } from 'node:path';
import { FallDetector, resolveFallConfig, type FallDetectorConfig, type FallDetectorOptions, type ImpactFeatures } from '@kanjia/detection';
import { DEFAULT_WINDOW_MS, trialDurationMs, trialWindows, type FallTrial } from '@kanjia/firmware-sim';
import { BODY_POSITIONS, type BodyPosition } from '@kanjia/protocol';
import { leaveOneSubjectOut, permissiveConfig, type LosoFigures } from './loso.js';
import { AGE_GROUPS, ageGroup, figures, type AgeGroup, type GroupFigures, type TrialOutcome } from './statistics.js';

export interface PositionFigures extends GroupFigures {
  byAge: Partial<Record<AgeGroup, GroupFigures>>;
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
  const loso = probe === undefined ? null : leaveOneSubjectOut(outcomes.map((outcome) => ({ outcome, impacts: outcome.impacts ?? [] })), config);

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
