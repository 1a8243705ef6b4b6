import { describe, expect, it } from 'vitest';
import { DEFAULT_FALL_CONFIG, type ImpactFeatures } from '@kanjia/detection';
import { leaveOneSubjectOut, type TrialOutcome } from '../src/index.js';

// ——— judged trials made of measured impacts, as the permissive probe would report them ———

const impact = (postureChangeDeg: number): ImpactFeatures => ({
  atMs: 0,
  position: 'chest',
  hz: 20,
  peakG: 3,
  freeFallMinG: 0.3,
  priorPeakG: 1,
  postureChangeDeg,
  turnAfterImpactDeg: 5,
  stillnessSdG: 0.02,
  stillnessObservedMs: 3000,
});

let seq = 0;
function trial(subject: string, label: 'fall' | 'adl', impacts: ImpactFeatures[]): { outcome: TrialOutcome; impacts: ImpactFeatures[] } {
  seq += 1;
  const outcome: TrialOutcome = {
    id: `t${seq}`,
    subject,
    age: 30,
    label,
    activity: label === 'fall' ? 'forwardFall' : 'Walking',
    position: 'chest',
    durationMs: 15_000,
    detections: 0,
    firstReason: undefined,
    suspectCalibration: false,
  };
  return { outcome, impacts };
}

/** Per subject: `clear` falls ending 85° from upright, `shallow` falls ending only 35° from it (found only with a 30° posture threshold), 40 quiet ADLs. */
function subject(name: string, clear: number, shallow: number): Array<{ outcome: TrialOutcome; impacts: ImpactFeatures[] }> {
  return [
    ...Array.from({ length: clear }, () => trial(name, 'fall', [impact(85)])),
    ...Array.from({ length: shallow }, () => trial(name, 'fall', [impact(35)])),
    ...Array.from({ length: 40 }, () => trial(name, 'adl', [])),
  ];
}

const chestFits = (judged: ReturnType<typeof subject>) => leaveOneSubjectOut(judged, DEFAULT_FALL_CONFIG).fits.filter((f) => f.position === 'chest');

describe('leave one subject out: the one-standard-error rule', () => {
  it('keeps the defaults (posture 45°) when a looser 30° would catch only one more training fall, well within the sampling error', () => {
    const fits = chestFits([...subject('a', 30, 1), ...subject('b', 30, 0), ...subject('c', 30, 0)]);
    expect(fits.flatMap((f) => f.heldOutSubjects).sort()).toEqual(['a', 'b', 'c']);
    for (const fit of fits) expect(fit.params).toEqual(DEFAULT_FALL_CONFIG.positions.chest);
  });

  it('moves to the looser posture threshold when the training evidence is clear (a third of the falls end at 35°)', () => {
    const loso = leaveOneSubjectOut([...subject('a', 20, 10), ...subject('b', 20, 10), ...subject('c', 20, 10)], DEFAULT_FALL_CONFIG);
    const fits = loso.fits.filter((f) => f.position === 'chest');
    expect(fits).toHaveLength(1);
    // The nearest such point to the defaults: only the posture threshold moved.
    expect(fits[0]?.params).toEqual({ ...DEFAULT_FALL_CONFIG.positions.chest, postureChangeMinDeg: 30 });
    expect(loso.positions.chest).toMatchObject({ falls: 90, detectedFalls: 90, falseAlarmTrials: 0 });
  });
});
