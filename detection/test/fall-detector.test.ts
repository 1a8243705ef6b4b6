import { describe, expect, it } from 'vitest';
import { AccelWindow, type BodyPosition } from '@kanjia/protocol';
import { FallConfigError, FallDetector, fallFinding, judgeImpact, DEFAULT_FALL_CONFIG, type FallDetection, type JudgedImpact } from '@kanjia/detection';

type Vec = [number, number, number];
const T0 = Date.UTC(2026, 0, 15, 2, 0, 0);

// ——— synthetic signals, in a body frame where standing reads +1 g along z ———

/** Deterministic noise so that every run sees the same signal. */
function noise(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/** Gravity reading for a trunk tilted by `deg` from upright (about the y axis). */
function tilt(deg: number, g = 1): Vec {
  const r = (deg * Math.PI) / 180;
  return [Math.sin(r) * g, 0, Math.cos(r) * g];
}

/** A signal described piecewise in time: each segment gives the reading at t ms from its start. */
type Segment = { ms: number; at: (t: number, ms: number) => Vec };

function render(hz: number, segments: Segment[], seed = 1): Vec[] {
  const rnd = noise(seed);
  const out: Vec[] = [];
  let start = 0;
  let k = 0;
  for (const seg of segments) {
    const end = start + seg.ms;
    for (; (k * 1000) / hz < end; k++) {
      const v = seg.at((k * 1000) / hz - start, seg.ms);
      out.push([v[0] + 0.01 * rnd(), v[1] + 0.01 * rnd(), v[2] + 0.01 * rnd()]);
    }
    start = end;
  }
  return out;
}

const still = (ms: number, deg: number): Segment => ({ ms, at: () => tilt(deg) });

/** Free fall: the reading shrinks to `minG` while the trunk starts to rotate. */
const freeFall = (ms: number, minG: number, toDeg: number): Segment => ({
  ms,
  at: (t, len) => tilt((toDeg * t) / len / 2, 1 - (1 - minG) * Math.sin((Math.PI * t) / len) ** 0.5),
});

/** Impact: a half-sine pulse of `peakG` over `ms`, along the direction the trunk is turning to. */
const impact = (ms: number, peakG: number, fromDeg: number, toDeg: number): Segment => ({
  ms,
  at: (t, len) => tilt(fromDeg + ((toDeg - fromDeg) * t) / len, 0.5 + (peakG - 0.5) * Math.sin((Math.PI * t) / len)),
});

/** Walking: the vertical reading oscillates ±amp at 2 steps/s with a sharp heel strike. */
const walking = (ms: number, amp: number, deg = 0): Segment => ({
  ms,
  at: (t) => {
    const phase = ((t / 500) % 1) * 2 * Math.PI;
    const g = 1 + amp * Math.max(0, Math.sin(phase)) ** 9 - 0.15 * Math.sin(phase * 2);
    return tilt(deg + 3 * Math.sin(phase), g);
  },
});

/** Standing 4 s, free fall 0.3 g for 500 ms, a 3 g impact over 150 ms, then lying still at `postureDeg` for `lyingMs`. */
function fallSignal(hz: number, opts: { postureDeg?: number; impactG?: number; lyingMs?: number; standMs?: number } = {}): { samples: Vec[]; impactMs: number } {
  const standMs = opts.standMs ?? 4000;
  const posture = opts.postureDeg ?? 90;
  const samples = render(hz, [
    still(standMs, 0),
    freeFall(500, 0.3, posture),
    impact(150, opts.impactG ?? 3, posture / 2, posture),
    still(opts.lyingMs ?? 8000, posture),
  ]);
  return { samples, impactMs: standMs + 500 + 75 };
}

const ORIENTATIONS: Record<string, [Vec, Vec, Vec]> = {
  'z up': [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
  'z down': [[1, 0, 0], [0, -1, 0], [0, 0, -1]],
  'x up': [[0, 0, 1], [0, 1, 0], [-1, 0, 0]],
  'x down': [[0, 0, -1], [0, 1, 0], [1, 0, 0]],
  'y up': [[1, 0, 0], [0, 0, 1], [0, -1, 0]],
  'y down': [[1, 0, 0], [0, 0, -1], [0, 1, 0]],
};

function rotate(samples: Vec[], m: [Vec, Vec, Vec]): Vec[] {
  return samples.map((s) => m.map((row) => row[0] * s[0] + row[1] * s[1] + row[2] * s[2]) as Vec);
}

/** Cuts samples into contract-valid windows of `windowMs`, as a device sends them. */
function windows(samples: Vec[], hz: number, position: BodyPosition = 'chest', windowMs = 2000, startTs = T0, idPrefix = 'w'): AccelWindow[] {
  const per = Math.round((hz * windowMs) / 1000);
  const out: AccelWindow[] = [];
  for (let i = 0, seq = 1; i < samples.length; i += per, seq++) {
    out.push(AccelWindow.parse({ id: `${idPrefix}-${seq}`, ts: startTs + Math.round((i * 1000) / hz), hz, position, samples: samples.slice(i, i + per) }));
  }
  return out;
}

function replay(detector: FallDetector, deviceId: string, ws: AccelWindow[], flush = true): FallDetection[] {
  const found = ws.flatMap((w) => detector.push(deviceId, w));
  if (flush) found.push(...detector.flush(deviceId));
  return found;
}

describe('FallDetector: falls', () => {
  for (const hz of [20, 50, 200]) {
    it(`detects a fall (free fall 0.3 g, 3 g impact, 90° posture change, still 8 s) at ${hz} Hz, at the impact time ±50 ms`, () => {
      const { samples, impactMs } = fallSignal(hz);
      const found = replay(new FallDetector(), 'pendant-1', windows(samples, hz));
      expect(found).toHaveLength(1);
      const [fall] = found as [FallDetection];
      expect(Math.abs(fall.atMs - (T0 + impactMs))).toBeLessThanOrEqual(50);
      expect(fall.confidence).toBeGreaterThanOrEqual(0.5);
      expect(fall.confidence).toBeLessThanOrEqual(1);
      expect(fall.details.postureChangeDeg).toBeGreaterThan(80);
      expect(fall.details.peakG).toBeGreaterThan(2.5);
      expect(fall.reason).toMatch(/impact \d\.\d g.*posture changed \d+°.*still for 3\.0 s/);
    });
  }

  for (const [name, m] of Object.entries(ORIENTATIONS)) {
    it(`detects the same 50 Hz fall with the device worn ${name} (orientation-free: |a| and the angle between gravity vectors)`, () => {
      const { samples } = fallSignal(50);
      const reference = replay(new FallDetector(), 'd1', windows(samples, 50));
      const rotated = replay(new FallDetector(), 'd1', windows(rotate(samples, m), 50));
      expect(rotated).toHaveLength(1);
      expect(rotated[0]?.atMs).toBe(reference[0]?.atMs);
      expect(rotated[0]?.details.postureChangeDeg).toBeCloseTo(reference[0]?.details.postureChangeDeg ?? 0, 0);
    });
  }

  it('detects a fall on the waist and on the wrist (wrist needs ≥ 2.5 g: a 3 g impact passes)', () => {
    const { samples } = fallSignal(50);
    expect(replay(new FallDetector(), 'belt', windows(samples, 50, 'waist'))).toHaveLength(1);
    expect(replay(new FallDetector(), 'watch', windows(samples, 50, 'wrist'))).toHaveLength(1);
  });

  it('detects a fall whose impact straddles two 2 s windows exactly once', () => {
    // The impact's centre is 575 ms after standing ends: 3425 ms of standing puts it at 4.0 s, the boundary of windows 2 and 3.
    const { samples, impactMs } = fallSignal(50, { standMs: 3425 });
    expect(impactMs).toBe(4000);
    const ws = windows(samples, 50);
    const detector = new FallDetector();
    const perWindow = ws.map((w) => detector.push('d1', w).length);
    expect(perWindow.reduce((a, b) => a + b, 0) + detector.flush('d1').length).toBe(1);
  });

  it('reports one fall, not several, when the person moves on the floor within 30 s (refractory)', () => {
    const first = fallSignal(50);
    // After 8 s on the floor, a second bump of 2.5 g and a roll by 60°, still again.
    const more = render(50, [impact(150, 2.5, 90, 150), still(8000, 150)], 7);
    const found = replay(new FallDetector(), 'd1', windows([...first.samples, ...more], 50));
    expect(found).toHaveLength(1);
  });

  it('judges a fall at the end of a stream on flush() when ≥ 1.5 s of the 3 s stillness window was seen, not with 1 s', () => {
    const enough = fallSignal(50, { lyingMs: 1500 + 2000 }); // 1.5 s settling + 2 s still
    expect(replay(new FallDetector(), 'd1', windows(enough.samples, 50))).toHaveLength(1);
    const cut = fallSignal(50, { lyingMs: 1500 + 1000 });
    expect(replay(new FallDetector(), 'd1', windows(cut.samples, 50))).toHaveLength(0);
    // Without flush the detector keeps waiting for the rest of the stillness window.
    expect(replay(new FallDetector(), 'd1', windows(enough.samples, 50), false)).toHaveLength(0);
  });
});

describe('FallDetector: no alarm', () => {
  it('stays quiet when sitting down hard (2.8 g impact, trunk leans back 20°, then sits still 8 s)', () => {
    const samples = render(50, [still(4000, 0), freeFall(400, 0.5, 20), impact(150, 2.8, 10, 20), still(8000, 20)]);
    const impacts: JudgedImpact[] = [];
    const found = replay(new FallDetector({}, { onImpact: (i) => impacts.push(i) }), 'd1', windows(samples, 50));
    expect(found).toHaveLength(0);
    expect(impacts.some((i) => i.verdict.failed.some((f) => f.startsWith('posture changed')))).toBe(true);
  });

  it('stays quiet during 60 s of walking with 1.9 g heel strikes', () => {
    const samples = render(50, [walking(60_000, 0.9)]);
    expect(Math.max(...samples.map((s) => Math.hypot(...s)))).toBeGreaterThan(1.8);
    expect(replay(new FallDetector(), 'd1', windows(samples, 50))).toHaveLength(0);
  });

  it('stays quiet during 10 jumps (0.05 g flight, 4 g landings), then standing still', () => {
    const jumps: Segment[] = [];
    for (let i = 0; i < 10; i++) jumps.push(freeFall(300, 0.05, 0), impact(120, 4, 0, 0), still(500, 0));
    const samples = render(50, [still(3000, 0), ...jumps, still(8000, 0)]);
    expect(replay(new FallDetector(), 'd1', windows(samples, 50))).toHaveLength(0);
  });

  it('stays quiet after a fall-like impact (3 g, 90°) when the person gets up within 1 s and walks away', () => {
    const samples = render(50, [
      still(4000, 0),
      freeFall(500, 0.3, 90),
      impact(150, 3, 45, 90),
      still(1000, 90),
      { ms: 1500, at: (t, len) => tilt(90 - (90 * t) / len) }, // getting up
      walking(10_000, 0.6),
    ]);
    expect(replay(new FallDetector(), 'd1', windows(samples, 50))).toHaveLength(0);
  });

  it('stays quiet when lying down on a bed slowly (90° over 3 s, 1.3 g bump)', () => {
    const samples = render(50, [still(4000, 0), { ms: 3000, at: (t, len) => tilt((90 * t) / len) }, impact(200, 1.3, 90, 90), still(10_000, 90)]);
    expect(replay(new FallDetector(), 'd1', windows(samples, 50))).toHaveLength(0);
  });

  it('stays quiet when lying down on a bed in two stages: sits on the edge (drop to 0.55 g, soft 1.7 g landing), then reclines 70° (soft impact, turn after it)', () => {
    const samples = render(50, [
      still(4000, 0),
      freeFall(400, 0.55, 20),
      impact(150, 1.7, 10, 20),
      still(600, 20), // seated on the edge of the bed
      { ms: 1000, at: (t, len) => tilt(20 + (70 * t) / len) }, // lying back onto the mattress
      still(8000, 90),
    ]);
    const impacts: JudgedImpact[] = [];
    expect(replay(new FallDetector({}, { onImpact: (i) => impacts.push(i) }), 'd1', windows(samples, 50))).toHaveLength(0);
    const landing = impacts.find((i) => i.features.peakG > 1.5);
    expect(landing?.features.postureChangeDeg).toBeGreaterThan(80); // as much as a fall: only the turn after the landing tells them apart
    expect(landing?.features.turnAfterImpactDeg).toBeGreaterThan(55);
    expect(landing?.verdict.failed).toEqual([expect.stringMatching(/^soft impact 1\.\d\d g and the trunk still turned \d+° > 45° after it/)]);
  });

  it('still detects a soft fall (drop to 0.3 g, 1.7 g onto a mat) whose trunk is down at the impact, and a two-stage fall onto the knees (soft) then the floor (2.4 g)', () => {
    const soft = render(50, [still(4000, 0), freeFall(500, 0.3, 90), impact(150, 1.7, 60, 90), still(8000, 90)]);
    const impacts: JudgedImpact[] = [];
    expect(replay(new FallDetector({}, { onImpact: (i) => impacts.push(i) }), 'd1', windows(soft, 50))).toHaveLength(1);
    expect(impacts.find((i) => i.verdict.fall)?.features.turnAfterImpactDeg).toBeLessThan(15);
    const twoStage = render(50, [
      still(4000, 0),
      freeFall(400, 0.3, 20),
      impact(150, 1.7, 10, 20), // knees on the floor, trunk still upright
      still(300, 20),
      freeFall(400, 0.5, 90), // the trunk goes down …
      impact(150, 2.4, 60, 90), // … and hits the floor
      still(8000, 90),
    ]);
    const found = replay(new FallDetector(), 'd1', windows(twoStage, 50));
    expect(found).toHaveLength(1);
    expect(found[0]?.details.peakG).toBeGreaterThan(2);
  });

  it('still detects fainting forward from a chair: seated, a slump with a drop to 0.5 g, a soft 1.7 g landing face down, no turn after it', () => {
    const samples = render(50, [still(4000, 10), freeFall(600, 0.5, 100), impact(150, 1.7, 60, 95), still(8000, 95)]);
    const found = replay(new FallDetector(), 'd1', windows(samples, 50));
    expect(found).toHaveLength(1);
    expect(found[0]?.details.peakG).toBeLessThan(2); // found by the soft-impact path, which the new rule narrows
  });

  it('stays quiet for a 3 g wrist impact that is one of a series (clapping, 3.5 g claps in the 3 s before)', () => {
    const claps: Segment[] = [];
    for (let i = 0; i < 6; i++) claps.push(impact(100, 3.5, 30, 30), still(400, 30));
    const samples = render(50, [still(3000, 0), ...claps, impact(150, 3, 30, 100), still(8000, 100)]);
    expect(replay(new FallDetector(), 'watch', windows(samples, 50, 'wrist'))).toHaveLength(0);
    // The same final impact without the claps before it is a fall.
    const alone = render(50, [still(6000, 0), freeFall(500, 0.3, 100), impact(150, 3, 30, 100), still(8000, 100)]);
    expect(replay(new FallDetector(), 'watch', windows(alone, 50, 'wrist'))).toHaveLength(1);
  });
});

describe('FallDetector: streams', () => {
  it('keeps the windows of two devices apart: interleaved, the falling one alarms once and the walking one never', () => {
    const fall = windows(fallSignal(50).samples, 50, 'chest', 2000, T0, 'a');
    const walk = windows(render(50, [walking(fall.length * 2000, 0.9)]), 50, 'chest', 2000, T0, 'b');
    const detector = new FallDetector();
    const found: Array<{ device: string; d: FallDetection }> = [];
    for (let i = 0; i < fall.length; i++) {
      for (const d of detector.push('pendant-a', fall[i] as AccelWindow)) found.push({ device: 'pendant-a', d });
      for (const d of detector.push('pendant-b', walk[i] as AccelWindow)) found.push({ device: 'pendant-b', d });
    }
    for (const device of ['pendant-a', 'pendant-b']) for (const d of detector.flush(device)) found.push({ device, d });
    expect(found.map((f) => f.device)).toEqual(['pendant-a']);
  });

  it('ignores a window delivered twice with the same id (MQTT QoS 1 redelivery)', () => {
    const ws = windows(fallSignal(50).samples, 50);
    const detector = new FallDetector();
    const found = ws.flatMap((w) => [...detector.push('d1', w), ...detector.push('d1', w)]);
    found.push(...detector.flush('d1'));
    expect(found).toHaveLength(1);
  });

  it('restarts the stream after a 5 s gap: an impact 1.2 s into the new stream has no posture before it and raises nothing', () => {
    const fall = windows(fallSignal(50, { standMs: 600 }).samples, 50, 'chest', 2000, T0, 'f');
    // Continuous: 4 s of standing right before the fall give the posture before it, and the fall is found.
    const standingJustBefore = windows(render(50, [still(4000, 0)]), 50, 'chest', 2000, T0 - 4000, 's');
    expect(replay(new FallDetector(), 'd1', [...standingJustBefore, ...fall])).toHaveLength(1);
    // The same standing ending 5 s before the fall is another stream.
    const standingLongBefore = windows(render(50, [still(4000, 0)]), 50, 'chest', 2000, T0 - 9000, 's');
    expect(replay(new FallDetector(), 'd1', [...standingLongBefore, ...fall])).toHaveLength(0);
  });

  it('detects a second fall after the device clock jumped back 1 h (the refractory 30 s does not swallow it)', () => {
    const detector = new FallDetector();
    const first = replay(detector, 'd1', windows(fallSignal(50).samples, 50, 'chest', 2000, T0, 'a'), false);
    const second = replay(detector, 'd1', windows(fallSignal(50).samples, 50, 'chest', 2000, T0 - 3_600_000, 'b'));
    expect(first).toHaveLength(1);
    expect(second).toHaveLength(1);
    expect(second[0]?.atMs).toBe((first[0]?.atMs ?? 0) - 3_600_000);
  });

  it('reset(deviceId) forgets the pending impact of a device', () => {
    const ws = windows(fallSignal(50).samples, 50);
    const detector = new FallDetector();
    const firstHalf = ws.slice(0, 3).flatMap((w) => detector.push('d1', w));
    detector.reset('d1');
    const rest = ws.slice(3).flatMap((w) => detector.push('d1', w));
    expect([...firstHalf, ...rest, ...detector.flush('d1')]).toHaveLength(0);
  });

  it('turns a detection into a fall finding keyed by device and impact time', () => {
    const [fall] = replay(new FallDetector(), 'pendant-7', windows(fallSignal(20).samples, 20));
    expect(fall).toBeDefined();
    const finding = fallFinding('pendant-7', fall as FallDetection);
    expect(finding).toMatchObject({ kind: 'fall', deviceId: 'pendant-7', eventId: `fall:pendant-7:${fall?.atMs}`, eventTs: fall?.atMs });
    expect(finding.details?.position).toBe('chest');
  });
});

describe('FallDetector: settings', () => {
  it('lists every bad setting at once', () => {
    let error: unknown;
    try {
      new FallDetector({ stillnessWindowMs: 0, landingPostureEndMs: 200, positions: { wrist: { impactThresholdG: 2, lowImpactThresholdG: 3, postureChangeMinDeg: 200, maxTurnAfterSoftImpactDeg: 181 } } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FallConfigError);
    // stillnessWindowMs, minStillness > window, landing end ≤ start, low > impact, posture > 180°, turn > 180°
    expect((error as FallConfigError).problems).toHaveLength(6);
  });

  it('takes per-position overrides and keeps the other defaults', () => {
    const detector = new FallDetector({ positions: { chest: { impactThresholdG: 2.4 } } });
    expect(detector.config.positions.chest.impactThresholdG).toBe(2.4);
    expect(detector.config.positions.chest.postureChangeMinDeg).toBe(DEFAULT_FALL_CONFIG.positions.chest.postureChangeMinDeg);
    expect(detector.config.positions.waist).toEqual(DEFAULT_FALL_CONFIG.positions.waist);
  });

  it('judgeImpact gives confidence 0.5 at the thresholds and 1 with wide margins', () => {
    const p = DEFAULT_FALL_CONFIG.positions.chest;
    const base = { atMs: 0, position: 'chest' as const, hz: 20, freeFallMinG: 1, priorPeakG: 1, stillnessObservedMs: 3000, turnAfterImpactDeg: 5 };
    const edge = judgeImpact({ ...base, peakG: p.impactThresholdG, postureChangeDeg: p.postureChangeMinDeg, stillnessSdG: p.stillnessMaxSdG }, p, 1500);
    expect(edge).toEqual({ fall: true, confidence: 0.5, failed: [] });
    const clear = judgeImpact({ ...base, peakG: 2 * p.impactThresholdG, postureChangeDeg: 90, stillnessSdG: 0 }, p, 1500);
    expect(clear.confidence).toBe(1);
    const weak = judgeImpact({ ...base, peakG: 1.7, postureChangeDeg: 90, stillnessSdG: 0 }, p, 1500);
    expect(weak.fall).toBe(false);
    expect(weak.failed[0]).toMatch(/impact 1\.70 g below 2 g/);
  });

  it('a soft impact (1.7 g after a free fall) after which the trunk turned 60° is sitting down then lying back; 40°, not measurable, or a strong 2.2 g impact is a fall', () => {
    const p = DEFAULT_FALL_CONFIG.positions.chest;
    const base = { atMs: 0, position: 'chest' as const, hz: 20, freeFallMinG: 0.5, priorPeakG: 1, stillnessObservedMs: 3000, postureChangeDeg: 85, stillnessSdG: 0.03 };
    const reclined = judgeImpact({ ...base, peakG: 1.7, turnAfterImpactDeg: 60 }, p, 1500);
    expect(reclined.fall).toBe(false);
    expect(reclined.failed).toEqual([expect.stringMatching(/soft impact 1\.70 g and the trunk still turned 60° > 45°/)]);
    expect(judgeImpact({ ...base, peakG: 1.7, turnAfterImpactDeg: 40 }, p, 1500).fall).toBe(true); // a roll after a fall
    expect(judgeImpact({ ...base, peakG: 1.7, turnAfterImpactDeg: Number.NaN }, p, 1500).fall).toBe(true);
    expect(judgeImpact({ ...base, peakG: 2.2, turnAfterImpactDeg: 60 }, p, 1500).fall).toBe(true); // onto the knees, then down: landed hard
  });

  it('a hard fall (5 g after a drop to 0.1 g) followed by struggling to get up (SVM sd 0.25 g) is a fall; the same movement after a 3 g impact, or after a hard landing upright (a jump), is not', () => {
    const p = DEFAULT_FALL_CONFIG.positions.chest;
    const base = { atMs: 0, position: 'chest' as const, hz: 20, priorPeakG: 1, stillnessObservedMs: 3000, turnAfterImpactDeg: 5 };
    expect(judgeImpact({ ...base, peakG: 5, freeFallMinG: 0.1, postureChangeDeg: 70, stillnessSdG: 0.25 }, p, 1500).fall).toBe(true);
    expect(judgeImpact({ ...base, peakG: 5, freeFallMinG: 0.1, postureChangeDeg: 70, stillnessSdG: 0.35 }, p, 1500).fall).toBe(false); // walking about
    const ordinary = judgeImpact({ ...base, peakG: 3, freeFallMinG: 0.1, postureChangeDeg: 70, stillnessSdG: 0.25 }, p, 1500);
    expect(ordinary.failed).toEqual([expect.stringMatching(/moving afterwards/)]);
    expect(judgeImpact({ ...base, peakG: 5, freeFallMinG: 0.5, postureChangeDeg: 70, stillnessSdG: 0.25 }, p, 1500).fall).toBe(false); // no real drop
    expect(judgeImpact({ ...base, peakG: 5, freeFallMinG: 0.1, postureChangeDeg: 10, stillnessSdG: 0.25 }, p, 1500).fall).toBe(false); // landed upright
  });
});
