/**
 * Settings of the fall detector. Every duration is in ms and every
 * acceleration in g (1 g = 9.80665 m/s²), so the same numbers hold at any
 * sample rate between 20 and 200 Hz: the detector turns them into sample
 * counts for the rate of each stream.
 *
 * Where the defaults come from:
 * - The structure (impact, optionally preceded by a free-fall phase, then the
 *   posture after the fall) is that of A. K. Bourke, J. V. O'Brien, G. M. Lyons,
 *   "Evaluation of a threshold-based tri-axial accelerometer fall detection
 *   algorithm", Gait & Posture 26 (2007) 194–199 (upper and lower fall
 *   thresholds on the magnitude of acceleration, SVM), and of M. Kangas et al.,
 *   "Comparison of low-complexity fall detection algorithms for body attached
 *   accelerometers", Gait & Posture 28 (2008) 285–291 (start of fall, impact,
 *   and posture judged about 2 s after the impact; waist and head work, the
 *   wrist does not with simple thresholds).
 * - The values are lower than Bourke's 3.52 g trunk threshold because his
 *   sensors sampled at 100+ Hz while many wearables (and the UMAFall dataset,
 *   E. Casilari et al., Procedia Computer Science 110, 2017) sample at about
 *   20 Hz, which flattens the impact spike: in UMAFall the median fall peaks
 *   at 2.6 g on the chest and 3.5 g at the waist. The detector therefore
 *   averages the magnitude over 50 ms (one sample at 20 Hz, about a 10 Hz
 *   bandwidth) at every rate, so that a 200 Hz stream is judged at the same
 *   bandwidth as a 20 Hz one. Public datasets differ in rate, range and
 *   position (Casilari, Santoyo-Ramón, Cano-García, "Analysis of public
 *   datasets for wearable fall detection systems", Sensors 17(7):1513, 2017),
 *   which is why nothing here depends on one rate or on which axis is down.
 * - An impact alone is not a fall (sitting down hard, jumping, clapping): the
 *   decisive evidence is a changed posture held still for seconds afterwards,
 *   measured as the angle between the gravity vector before and after the
 *   event, which does not depend on how the device is worn.
 */
import { KanjiaError, type BodyPosition } from '@kanjia/protocol';

/** Thresholds that differ by where the device is worn. */
export interface FallPositionParams {
  /** An impact at least this strong (smoothed SVM peak, g) counts by itself. */
  impactThresholdG: number;
  /** A weaker impact, down to this (g), counts only after a free-fall phase (freeFallThresholdG). */
  lowImpactThresholdG: number;
  /** Free fall: the SVM dropped to this (g) or below within freeFallLookbackMs before the impact. */
  freeFallThresholdG: number;
  /**
   * Rhythmic-activity guard: if the SVM already peaked above this (g) in the
   * seconds before the fall phase, the impact is one of a series (clapping,
   * hopping, jogging), not a fall interrupting quiet standing or walking.
   */
  priorActivityMaxG: number;
  /** Angle between the gravity vector before and after the event, degrees. 90° = upright to lying. */
  postureChangeMinDeg: number;
  /** Lying still: standard deviation of the SVM over stillnessWindowMs at most this (g). */
  stillnessMaxSdG: number;
  /**
   * A soft impact (below impactThresholdG, accepted only after a free fall)
   * after which the trunk still turns by more than this (degrees, from the
   * posture just after the impact to the final one) is sitting down and then
   * lying back, not a fall: a fall ends where the floor stops it.
   */
  maxTurnAfterSoftImpactDeg: number;
}

export interface FallDetectorConfig {
  /** Moving average of the SVM before the impact thresholds: 50 ms = one sample at 20 Hz, the bandwidth the thresholds were set at. */
  smoothingMs: number;
  /** An impact is the highest smoothed SVM within ± this (ms); the bounces of one fall make one impact. */
  impactMergeMs: number;
  /** How far before the impact the free-fall phase is looked for (a fall from standing lasts about 0.5–1 s; Kangas 2008). */
  freeFallLookbackMs: number;
  /** Posture before the event: mean acceleration from this long before the impact … */
  postureBeforeStartMs: number;
  /** … to this long before it (the fall itself starts up to ~1 s before the impact). */
  postureBeforeEndMs: number;
  /** Rhythmic-activity guard looks at the SVM from this long before the impact … */
  priorActivityStartMs: number;
  /** … to this long before it. */
  priorActivityEndMs: number;
  /** The posture at landing (for maxTurnAfterSoftImpactDeg) is the mean acceleration from this long after the impact … */
  landingPostureStartMs: number;
  /** … to this long after it: past the impact pulse itself, well before the final posture is measured. */
  landingPostureEndMs: number;
  /** Posture after the event is measured from this long after the impact (Kangas 2008: about 2 s), letting bounces and rolling settle. */
  postureAfterDelayMs: number;
  /** How long the person must then lie still in the new posture. */
  stillnessWindowMs: number;
  /** flush() (end of a stream) judges an impact whose stillness window is cut short only if at least this much of it was seen. */
  minStillnessObservedMs: number;
  /** After a detection, impacts within this long are the same fall (a person on the floor who moves), not a new alarm. */
  refractoryMs: number;
  /** A window whose ts is further than this from where the previous one ended starts a new stream (lost window, clock jump). */
  gapToleranceMs: number;
  positions: Record<BodyPosition, FallPositionParams>;
}

/** Deep-partial settings accepted by the constructor; anything left out takes the default. */
export interface FallDetectorOptions extends Partial<Omit<FallDetectorConfig, 'positions'>> {
  positions?: Partial<Record<BodyPosition, Partial<FallPositionParams>>>;
}

/**
 * Trunk (chest pendant, belt clip). An impact of 2 g alone, or of 1.5 g after
 * the SVM fell to 0.6 g (free fall), follows the two-threshold structure of
 * Bourke 2007 and Kangas 2008 at a 20 Hz bandwidth: in UMAFall, 95 % of trunk
 * falls peak above 1.8 g and most go through a phase below 0.6 g, while
 * walking peaks at up to about 2 g but never ends in a changed posture, and
 * lying down on a bed changes the posture as much as a fall but rarely with
 * such an impact (it remains the main source of false alarms). 45° is half
 * way from upright to lying, so a fall that ends half reclined against
 * furniture still counts while sitting down (chest typically 10–30°) does not; Bourke & Lyons
 * 2008 (Med. Eng. Phys. 30:84–90) used a trunk-angle change of 0.59 rad
 * (34°). An SVM spread of 0.15 g over 3 s is "not walking" (walking is
 * 0.1–0.3 g at the trunk) yet allows the breathing, trembling and small
 * movements of a hurt person. 3 g before the fall phase marks hopping or
 * jogging.
 *
 * Lying down on a bed is the other trunk posture change of ordinary life, and
 * it is done in two stages: sit on the edge of the bed (the drop onto the
 * mattress unloads the sensor to about 0.6 g and lands at 1.5–2 g, the same
 * figures as a soft fall), then recline, so that most of the 70–90° turn of
 * the trunk comes after that landing. A fall is the other way round: the body
 * turns while it falls and the floor stops it, so at the impact the trunk
 * has (nearly) reached its final posture; what follows is a roll or a settle
 * (in UMAFall at most about 40° after the impact's first half second). So a
 * soft impact after which the trunk still turns by more than 45° (half way
 * from upright to lying, as for the posture change itself) is a sitting
 * down. The rule does not touch impacts above impactThresholdG (a fall onto
 * the knees that then goes down to the floor lands hard), and a fall that
 * goes down in two stages (knees or buttocks first, then the trunk) is still
 * found at its second impact, the trunk hitting the floor. These values were chosen with margin from those distributions,
 * not fitted trial by trial; `eval-falls --loso` shows how a fitted set
 * generalises to unseen subjects.
 */
const TRUNK: FallPositionParams = {
  impactThresholdG: 2.0,
  lowImpactThresholdG: 1.5,
  freeFallThresholdG: 0.6,
  priorActivityMaxG: 3.0,
  postureChangeMinDeg: 45,
  stillnessMaxSdG: 0.15,
  maxTurnAfterSoftImpactDeg: 45,
};

/**
 * Wrist: the arm swings, claps and waves with peaks of 3–7 g, and its
 * orientation changes whenever the hand moves, so a changed posture says
 * little (the wrist did worst of the three sites in Kangas 2008). The
 * wrist therefore needs a stronger impact (2.5 g; no low-impact path) and a
 * calm before it (no peak above 2.5 g in the 1–4 s before: clapping and
 * hopping are series of impacts). The forearm ends a fall at any angle, so
 * only 30° of posture change is asked (the turn after a soft impact does not
 * apply: the wrist has no soft-impact path). Expect clearly lower sensitivity than
 * at the trunk; see the evaluator's figures.
 */
const WRIST: FallPositionParams = {
  impactThresholdG: 2.5,
  lowImpactThresholdG: 2.5,
  freeFallThresholdG: 0.6,
  priorActivityMaxG: 2.5,
  postureChangeMinDeg: 30,
  stillnessMaxSdG: 0.15,
  maxTurnAfterSoftImpactDeg: 45,
};

export const DEFAULT_FALL_CONFIG: Readonly<FallDetectorConfig> = Object.freeze({
  smoothingMs: 50,
  impactMergeMs: 500,
  freeFallLookbackMs: 1000,
  postureBeforeStartMs: 2500,
  postureBeforeEndMs: 1000,
  priorActivityStartMs: 4000,
  priorActivityEndMs: 1000,
  landingPostureStartMs: 250,
  landingPostureEndMs: 750,
  postureAfterDelayMs: 1500,
  stillnessWindowMs: 3000,
  minStillnessObservedMs: 1500,
  refractoryMs: 30_000,
  gapToleranceMs: 500,
  positions: Object.freeze({
    chest: Object.freeze({ ...TRUNK }),
    waist: Object.freeze({ ...TRUNK }),
    wrist: Object.freeze({ ...WRIST }),
  }),
});

export class FallConfigError extends KanjiaError<'FALL_CONFIG_INVALID'> {
  override readonly name = 'FallConfigError';
  constructor(readonly problems: string[]) {
    super('FALL_CONFIG_INVALID', `fall detector settings: ${problems.join('; ')}`);
  }
}

const POSITIONS: readonly BodyPosition[] = ['chest', 'waist', 'wrist'];

/** Merges options over the defaults and checks them; throws FallConfigError listing every problem. */
export function resolveFallConfig(options: FallDetectorOptions = {}): Readonly<FallDetectorConfig> {
  const { positions: positionOptions, ...timing } = options;
  const defined = <T extends object>(o: T): Partial<T> =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  const positions = {} as Record<BodyPosition, FallPositionParams>;
  for (const position of POSITIONS) {
    positions[position] = Object.freeze({ ...DEFAULT_FALL_CONFIG.positions[position], ...defined(positionOptions?.[position] ?? {}) });
  }
  const config: FallDetectorConfig = { ...DEFAULT_FALL_CONFIG, ...defined(timing), positions: Object.freeze(positions) };

  const problems: string[] = [];
  const positive = (name: string, value: unknown): void => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) problems.push(`${name}: must be a positive number, got ${String(value)}`);
  };
  for (const key of Object.keys(DEFAULT_FALL_CONFIG) as Array<keyof FallDetectorConfig>) {
    if (key !== 'positions') positive(key, config[key]);
  }
  if (config.postureBeforeEndMs >= config.postureBeforeStartMs) problems.push('postureBeforeEndMs: must be less than postureBeforeStartMs');
  if (config.priorActivityEndMs >= config.priorActivityStartMs) problems.push('priorActivityEndMs: must be less than priorActivityStartMs');
  if (config.landingPostureEndMs <= config.landingPostureStartMs) problems.push('landingPostureEndMs: must be more than landingPostureStartMs');
  if (config.landingPostureEndMs > config.postureAfterDelayMs) problems.push('landingPostureEndMs: must not exceed postureAfterDelayMs');
  if (config.minStillnessObservedMs > config.stillnessWindowMs) problems.push('minStillnessObservedMs: must not exceed stillnessWindowMs');
  for (const position of POSITIONS) {
    const p = positions[position];
    for (const key of Object.keys(TRUNK) as Array<keyof FallPositionParams>) positive(`positions.${position}.${key}`, p[key]);
    if (p.lowImpactThresholdG > p.impactThresholdG) problems.push(`positions.${position}.lowImpactThresholdG: must not exceed impactThresholdG`);
    if (p.postureChangeMinDeg > 180) problems.push(`positions.${position}.postureChangeMinDeg: must be at most 180`);
    if (p.maxTurnAfterSoftImpactDeg > 180) problems.push(`positions.${position}.maxTurnAfterSoftImpactDeg: must be at most 180 (180 = rule off)`);
  }
  if (problems.length > 0) throw new FallConfigError(problems);
  return Object.freeze(config);
}
