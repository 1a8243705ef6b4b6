/**
 * Carbon monoxide alarm stages and their accumulation over irregular samples.
 *
 * Source: EN 50291-1 (Gas detectors — Electrical apparatus for the detection
 * of carbon monoxide in domestic premises, test methods and performance
 * requirements; 2010, 2018 editions), the alarm-time requirements:
 *   - 30 ppm: no alarm before 120 min
 *   - 50 ppm: no alarm before 60 min, alarm before 90 min
 *   - 100 ppm: no alarm before 10 min, alarm before 40 min
 *   - 300 ppm: alarm within 3 min
 * Cross-check, UL 2034 (US): 70 ppm 60–240 min, 150 ppm 10–50 min,
 * 400 ppm 4–15 min (each ≈ 10 % COHb); our stages alarm inside every UL
 * window except 400 ppm, where we follow the stricter EN "within 3 min".
 * GB 15322.2-2019 (家用可燃气体探测器, which covers household CO detectors)
 * tests a device's own alarm set point; it gives no staged time curve, so the
 * curve here is EN 50291-1's.
 *
 * Where in each EN window we alarm:
 *   - 50 ppm at 60 min: the earliest the standard allows. Our alarm summons a
 *     helper who needs 10–30 min to reach a village house, and old people with
 *     heart disease tolerate less COHb than the healthy adults of the standard.
 *   - 100 ppm at 20 min, not the allowed 10: lighting or refuelling a coal
 *     stove pushes a room past 100 ppm for some minutes every day; alarming on
 *     that would teach the care team to ignore CO alarms. 20 min is still half
 *     the standard's latest point.
 *   - 300 ppm at the first reading (EN: within 3 min; our sensors report every
 *     minute or so while CO is high, so "within 3 min" means this reading).
 *
 * Accumulation: per stage, the time the concentration was at or above the
 * stage, between consecutive readings taken as a straight line (a slowly
 * changing gas), so irregular sampling is counted by its real durations and a
 * crossing between two readings is counted by its share. Time below a stage
 * pays back at half rate (COHb is cleared more slowly than it builds up, half-
 * life of hours breathing air), so a level hovering around 50 ppm is not reset
 * by every dip. A gap longer than `maxGapMs` between two readings is not
 * counted either way: unknown is neither dangerous nor safe.
 */

const MINUTE_MS = 60_000;

export interface CoAlarmStage {
  /** Concentration at or above which this stage counts, in ppm. */
  ppm: number;
  /** Time at or above `ppm` after which the alarm goes out; 0 = at the first reading. */
  afterMs: number;
}

/** The stages implemented, from EN 50291-1 (see the top of this file for the choice within each window). */
export const CO_ALARM_STAGES_EN50291: readonly CoAlarmStage[] = Object.freeze([
  Object.freeze({ ppm: 50, afterMs: 60 * MINUTE_MS }),
  Object.freeze({ ppm: 100, afterMs: 20 * MINUTE_MS }),
  Object.freeze({ ppm: 300, afterMs: 0 }),
]);

/** Time (ms) in a segment of `dtMs` from c0 to c1 ppm (straight line) during which the level was ≥ `thresholdPpm`. */
export function timeAtOrAboveMs(c0: number, c1: number, dtMs: number, thresholdPpm: number): number {
  const above0 = c0 >= thresholdPpm;
  const above1 = c1 >= thresholdPpm;
  if (above0 && above1) return dtMs;
  if (!above0 && !above1) return 0;
  // One end above, one below: the crossing splits the segment.
  return above1 ? ((c1 - thresholdPpm) / (c1 - c0)) * dtMs : ((c0 - thresholdPpm) / (c0 - c1)) * dtMs;
}

/**
 * Adds one segment to every stage's accumulated time (in place). Stages with
 * afterMs 0 are instantaneous and keep 0. Each total stays within [0, afterMs].
 */
export function accumulateCoSegment(stages: readonly CoAlarmStage[], accMs: number[], c0: number, c1: number, dtMs: number, recoveryRate: number): void {
  stages.forEach((stage, i) => {
    if (stage.afterMs <= 0) {
      accMs[i] = 0;
      return;
    }
    const above = timeAtOrAboveMs(c0, c1, dtMs, stage.ppm);
    const next = (accMs[i] ?? 0) + above - recoveryRate * (dtMs - above);
    accMs[i] = Math.min(stage.afterMs, Math.max(0, next));
  });
}

/** The highest stage whose condition is met by the accumulated times and the current reading, or undefined. */
export function triggeredCoStage(stages: readonly CoAlarmStage[], accMs: readonly number[], currentPpm: number): { stage: CoAlarmStage; index: number } | undefined {
  let found: { stage: CoAlarmStage; index: number } | undefined;
  stages.forEach((stage, index) => {
    const met = stage.afterMs <= 0 ? currentPpm >= stage.ppm : (accMs[index] ?? 0) >= stage.afterMs;
    if (met && (found === undefined || stage.ppm > found.stage.ppm)) found = { stage, index };
  });
  return found;
}
