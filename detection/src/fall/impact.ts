/**
 * What the detector measures around one impact, and the rule that turns those
 * figures into "fall" or "not a fall". Kept apart from the streaming code so
 * that an evaluator can re-judge the same impacts under other thresholds
 * (leave-one-subject-out fitting) with exactly the rule the live detector uses.
 */
import type { BodyPosition } from '@kanjia/protocol';
import type { FallPositionParams } from './config.js';

/** Figures measured around one impact (a local maximum of the smoothed SVM). */
export interface ImpactFeatures {
  /** Device time of the impact sample, ms since the epoch. */
  atMs: number;
  position: BodyPosition;
  hz: number;
  /** Smoothed SVM at the impact, g. */
  peakG: number;
  /** Lowest smoothed SVM in the free-fall lookback before the impact, g (1 when there was no data). */
  freeFallMinG: number;
  /** Highest smoothed SVM in the prior-activity span before the fall phase, g (0 when there was no data). */
  priorPeakG: number;
  /** Angle between the mean acceleration before and after the event, degrees; NaN when either could not be measured. */
  postureChangeDeg: number;
  /** Angle between the posture just after the impact (landingPosture…Ms) and the final posture, degrees; NaN when not measured. */
  turnAfterImpactDeg: number;
  /** Standard deviation of the SVM over the stillness window, g; NaN when not measured. */
  stillnessSdG: number;
  /** How much of the stillness window was observed, ms (less than configured only at the end of a stream). */
  stillnessObservedMs: number;
}

export interface ImpactVerdict {
  fall: boolean;
  /** 0..1; 0 when not a fall, 0.5 at the thresholds, 1 with a wide margin on every criterion. */
  confidence: number;
  /** The criteria that failed, in words (empty for a fall). */
  failed: string[];
}

const clamp01 = (x: number): number => Math.min(1, Math.max(0, x));

/** Which criteria of the fall rule an impact meets; a fall meets all six. */
export interface FallCriteria {
  /** Impact at least impactThresholdG, or at least lowImpactThresholdG after a free fall. */
  impact: boolean;
  /** No earlier impact above priorActivityMaxG (not one of a series). */
  calmBefore: boolean;
  postureChanged: boolean;
  /** The impact ended the descent: a strong impact, or a soft one after which the trunk turned at most maxTurnAfterSoftImpactDeg (else: sat down, then lay back). */
  landed: boolean;
  still: boolean;
  /** Enough of the stillness window was seen (only short at the end of a stream). */
  observed: boolean;
}

/** The fall rule's criteria, without words: cheap enough to re-judge thousands of impacts under other thresholds. */
export function fallCriteria(f: ImpactFeatures, p: FallPositionParams, minStillnessObservedMs: number): FallCriteria {
  return {
    impact: f.peakG >= p.impactThresholdG || (f.peakG >= p.lowImpactThresholdG && f.freeFallMinG <= p.freeFallThresholdG),
    calmBefore: f.priorPeakG <= p.priorActivityMaxG,
    postureChanged: f.postureChangeDeg >= p.postureChangeMinDeg,
    // Not measurable (NaN) counts as landed: no evidence of a recline is no reason to stay quiet.
    landed: f.peakG >= p.impactThresholdG || !(f.turnAfterImpactDeg > p.maxTurnAfterSoftImpactDeg),
    still: f.stillnessSdG <= p.stillnessMaxSdG || (isHardFall(f, p) && f.stillnessSdG <= 2 * p.stillnessMaxSdG),
    observed: f.stillnessObservedMs + 1e-6 >= minStillnessObservedMs,
  };
}

/**
 * A hard fall: an impact of twice the threshold after a real drop (the SVM
 * below half the free-fall threshold: the body fell freely). After such a
 * fall a person who is hurt and tries to get up moves: up to twice the
 * stillness spread still counts as lying (walking on after a stumble has no
 * free fall, and a jump lands upright: the posture criterion stays).
 */
export function isHardFall(f: ImpactFeatures, p: FallPositionParams): boolean {
  return f.peakG >= 2 * p.impactThresholdG && f.freeFallMinG <= p.freeFallThresholdG / 2;
}

/** True when every criterion holds. */
export function isFall(c: FallCriteria): boolean {
  return c.impact && c.calmBefore && c.postureChanged && c.landed && c.still && c.observed;
}

/**
 * The fall rule: an impact (strong, or weaker after free fall), no series of
 * impacts before it, a changed posture reached by the impact (not after a soft
 * one) and held still for the stillness window.
 */
export function judgeImpact(f: ImpactFeatures, p: FallPositionParams, minStillnessObservedMs: number): ImpactVerdict {
  const c = fallCriteria(f, p, minStillnessObservedMs);
  const failed: string[] = [];
  if (!c.impact) {
    failed.push(
      `impact ${f.peakG.toFixed(2)} g below ${p.impactThresholdG} g (or ${p.lowImpactThresholdG} g after a free fall to ${p.freeFallThresholdG} g; lowest was ${f.freeFallMinG.toFixed(2)} g)`,
    );
  }
  if (!c.calmBefore) failed.push(`one of a series of impacts (${f.priorPeakG.toFixed(2)} g shortly before)`);
  if (!c.postureChanged) {
    failed.push(Number.isNaN(f.postureChangeDeg) ? 'posture change not measurable (too little data before the impact)' : `posture changed ${f.postureChangeDeg.toFixed(0)}° < ${p.postureChangeMinDeg}°`);
  }
  if (!c.landed) {
    failed.push(
      `soft impact ${f.peakG.toFixed(2)} g and the trunk still turned ${f.turnAfterImpactDeg.toFixed(0)}° > ${p.maxTurnAfterSoftImpactDeg}° after it (sat down, then lay back)`,
    );
  }
  if (!c.still) {
    failed.push(Number.isNaN(f.stillnessSdG) ? 'stillness not measurable' : `moving afterwards (SVM sd ${f.stillnessSdG.toFixed(2)} g > ${p.stillnessMaxSdG} g)`);
  }
  if (!c.observed) failed.push(`stream ended ${Math.round(f.stillnessObservedMs)} ms into the stillness window`);
  if (!isFall(c)) return { fall: false, confidence: 0, failed };

  // Each criterion scores 0.5 at its threshold and 1 with a margin as wide as the threshold's own distance from "nothing happened".
  const strong = f.peakG >= p.impactThresholdG;
  const impactThreshold = strong ? p.impactThresholdG : p.lowImpactThresholdG;
  const impactScore = clamp01(0.5 + (0.5 * (f.peakG - impactThreshold)) / Math.max(impactThreshold - 1, 0.1));
  const postureScore = clamp01(0.5 + (0.5 * (f.postureChangeDeg - p.postureChangeMinDeg)) / Math.max(90 - p.postureChangeMinDeg, 1));
  const stillScore = clamp01(0.5 + (0.5 * (p.stillnessMaxSdG - f.stillnessSdG)) / p.stillnessMaxSdG);
  const confidence = Math.round(((impactScore + postureScore + stillScore) / 3) * 100) / 100;
  return { fall: true, confidence, failed };
}

/** One line with the figures, for logs and the case history. */
export function describeImpact(f: ImpactFeatures, p: FallPositionParams): string {
  const freeFall = f.freeFallMinG <= p.freeFallThresholdG ? ` after free fall to ${f.freeFallMinG.toFixed(2)} g` : '';
  return (
    `fall at ${f.position}: impact ${f.peakG.toFixed(1)} g${freeFall}, posture changed ${f.postureChangeDeg.toFixed(0)}°, ` +
    `still for ${(f.stillnessObservedMs / 1000).toFixed(1)} s (SVM sd ${f.stillnessSdG.toFixed(2)} g)`
  );
}
