/**
 * Leave one subject out: how well the fall thresholds generalise to people the
 * detector has never seen. For each subject, the position's thresholds are
 * fitted (grid search) on every other subject's trials and the held-out
 * subject's trials are judged with them. The impacts were measured once by a
 * permissive detector (permissiveConfig) and are re-judged here with
 * fallCriteria(), the same rule the live detector applies.
 */
import { fallCriteria, isFall, type FallDetectorConfig, type FallDetectorOptions, type FallPositionParams, type ImpactFeatures } from '@kanjia/detection';
import { BODY_POSITIONS, type BodyPosition } from '@kanjia/protocol';
import { addCounts, addTrial, countsToFigures, emptyCounts, subtractCounts, sumCounts, type Counts, type GroupFigures, type TrialOutcome } from './statistics.js';

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

/** Grid searched per position; every value is physically plausible (see detection/src/fall/config.ts). */
const GRID = {
  impactThresholdG: [1.6, 1.8, 2.0, 2.2, 2.5, 3.0, 3.5, 4.0],
  lowImpactThresholdG: [1.4, 1.5, 1.6, 1.8, 2.0, 2.5, 3.0, 4.0],
  freeFallThresholdG: [0.4, 0.5, 0.6, 0.7],
  priorActivityMaxG: [2.0, 2.5, 3.0, 4.0],
  postureChangeMinDeg: [30, 45, 60],
  stillnessMaxSdG: [0.1, 0.15, 0.2],
  maxTurnAfterSoftImpactDeg: [45],
} as const satisfies Record<keyof FallPositionParams, readonly number[]>;

/** Specificity a fitted threshold set must reach on the training subjects (the project's target). */
const TARGET_SPECIFICITY = 0.985;

export const LOSO_RULE =
  `per position, among the grid points with training specificity >= ${TARGET_SPECIFICITY}, the one nearest the defaults whose training sensitivity ` +
  'is within one standard error of the best (the one-standard-error rule; if none reaches the specificity, the highest sensitivity + specificity)';

/** A detector configuration that measures every impact any grid point could accept (its own verdicts are not used). */
export function permissiveConfig(config: FallDetectorConfig): FallDetectorOptions {
  const floor = Math.min(...GRID.lowImpactThresholdG, ...GRID.impactThresholdG);
  const permissive: FallPositionParams = {
    impactThresholdG: floor,
    lowImpactThresholdG: floor,
    freeFallThresholdG: 1,
    priorActivityMaxG: 64,
    postureChangeMinDeg: 1,
    stillnessMaxSdG: 64,
    maxTurnAfterSoftImpactDeg: 180,
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
              for (const maxTurnAfterSoftImpactDeg of GRID.maxTurnAfterSoftImpactDeg)
                points.push({ impactThresholdG, lowImpactThresholdG, freeFallThresholdG, priorActivityMaxG, postureChangeMinDeg, stillnessMaxSdG, maxTurnAfterSoftImpactDeg });
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

/** Judges every trial once, with the thresholds fitted on the other subjects of its position. */
export function leaveOneSubjectOut(judged: Array<{ outcome: TrialOutcome; impacts: ImpactFeatures[] }>, config: FallDetectorConfig): LosoFigures {
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

/**
 * The fitted point of one fold. Maximising training sensitivity under the
 * specificity constraint alone picks, among hundreds of grid points, the one
 * that happens to catch one or two more training falls, usually by spending
 * the training specificity down to the constraint: on the held-out subject
 * that point then raises more false alarms and, on UMAFall, catches no more
 * falls. So the one-standard-error rule (Breiman et al., Classification and
 * Regression Trees, 1984; Hastie, Tibshirani & Friedman, The Elements of
 * Statistical Learning, 7.10) is applied: among the points that meet the
 * specificity target, any whose training sensitivity is within one binomial
 * standard error of the best (Agresti–Coull) is as good as the best on this
 * evidence, and the one nearest the physically reasoned defaults is taken.
 */
function pickBest(training: Counts[], distances: number[]): number {
  const rates = training.map((c) => ({
    sens: c.falls === 0 ? 0 : c.detectedFalls / c.falls,
    spec: c.adls === 0 ? 1 : 1 - c.falseAlarmTrials / c.adls,
    falls: c.falls,
  }));
  const eligible = rates.map((r, g) => (r.spec >= TARGET_SPECIFICITY ? g : -1)).filter((g) => g >= 0);
  if (eligible.length === 0) return argMax(rates.map((r, g) => [r.sens + r.spec, r.spec, -(distances[g] ?? 0)]));
  const bestSens = Math.max(...eligible.map((g) => rates[g]?.sens ?? 0));
  // Agresti–Coull (two added successes and failures): at 100 % training sensitivity the plain binomial error would be 0.
  const falls = rates[0]?.falls ?? 0;
  const adjusted = (bestSens * falls + 2) / (falls + 4);
  const se = Math.sqrt((adjusted * (1 - adjusted)) / (falls + 4));
  const within = new Set(eligible.filter((g) => (rates[g]?.sens ?? 0) >= bestSens - se - 1e-12));
  return argMax(rates.map((r, g) => (within.has(g) ? [1, -(distances[g] ?? 0), r.sens, r.spec] : [0, 0, 0, 0])));
}

function argMax(keys: number[][]): number {
  let best = 0;
  keys.forEach((key, g) => {
    if (compareKeys(key, keys[best] ?? []) > 0) best = g;
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
