/**
 * Fall detection from the accelerometer windows a wearable sends (`accel`
 * topic). Pure: windows in, detections out; no I/O, no timers, time is the
 * device time in the windows.
 *
 * Per device the detector keeps a short history of samples so that a fall
 * straddling two (or more) windows is seen whole:
 *
 *  1. The magnitude of acceleration (SVM = √(x²+y²+z²), orientation-free) is
 *     averaged over 50 ms, then every local maximum within ±0.5 s that reaches
 *     the position's low impact threshold is an impact candidate.
 *  2. Once the data up to 4.5 s after the impact has arrived (posture settles
 *     for 1.5 s, then 3 s of stillness), the candidate is measured: impact
 *     peak, lowest SVM in the second before it (free fall), highest SVM 1–4 s
 *     before it (a series of impacts means clapping or hopping), the angle
 *     between the mean acceleration (≈ gravity) 2.5–1 s before and in the
 *     stillness window after, the angle still turned after the landing
 *     (0.25–0.75 s after the impact to the stillness window), and the SVM
 *     spread in that window.
 *  3. judgeImpact() decides; a detection is reported at the impact's device
 *     time. Impacts within refractoryMs of a detection belong to the same fall.
 *
 * A stream restarts (history dropped, pending impacts judged on what was
 * seen) when a window does not continue the previous one in time, or changes
 * rate or position. A repeated window id (an MQTT QoS 1 redelivery) is ignored.
 */
import type { AccelWindow, BodyPosition } from '@kanjia/protocol';
import type { Finding } from '../types.js';
import { resolveFallConfig, type FallDetectorConfig, type FallDetectorOptions, type FallPositionParams } from './config.js';
import { describeImpact, judgeImpact, type ImpactFeatures, type ImpactVerdict } from './impact.js';

/** A fall found in one device's stream. */
export interface FallDetection {
  /** Device time of the impact, ms since the epoch: the window's ts + index / hz × 1000 (rounded to the ms). */
  atMs: number;
  /** 0..1: 0.5 when every criterion only just passed, 1 with a wide margin on each. */
  confidence: number;
  /** Short English reason with the figures (peak g, posture change °, stillness). */
  reason: string;
  details: {
    position: BodyPosition;
    hz: number;
    peakG: number;
    freeFallMinG: number;
    postureChangeDeg: number;
    stillnessSdG: number;
    stillnessObservedMs: number;
  };
}

/** Every impact candidate the detector judged, for evaluators and debugging. */
export interface JudgedImpact {
  deviceId: string;
  features: ImpactFeatures;
  verdict: ImpactVerdict;
  /** A fall by the rule, but within refractoryMs of the previous detection: not reported again. */
  suppressed: boolean;
}

export interface FallDetectorHooks {
  /** Called for every impact candidate once it has been judged (falls and non-falls). */
  onImpact?: (impact: JudgedImpact) => void;
}

/** Window and sample-count conversions of one stream's rate. */
interface SampleCounts {
  smooth: number;
  merge: number;
  freeFall: number;
  beforeStart: number;
  beforeEnd: number;
  priorStart: number;
  priorEnd: number;
  landingStart: number;
  landingEnd: number;
  afterDelay: number;
  still: number;
  minStill: number;
  /** Samples to keep before the oldest sample still to be scanned or judged. */
  history: number;
}

/** A contiguous run of samples at one rate and position. Arrays hold absolute indices base … base+length-1. */
interface Stream {
  position: BodyPosition;
  hz: number;
  params: FallPositionParams;
  n: SampleCounts;
  base: number;
  t: number[];
  x: number[];
  y: number[];
  z: number[];
  /** Raw SVM. */
  svm: number[];
  /** SVM averaged over the last n.smooth samples. */
  m: number[];
  /** Next absolute index to examine as an impact candidate. */
  scanIdx: number;
  /** Absolute indices of impact candidates not yet judged, ascending. */
  pending: number[];
}

interface DeviceState {
  stream: Stream | undefined;
  lastWindowId: string | undefined;
  lastDetectionAtMs: number;
}

/** Detects falls in accelerometer windows, per device; see the file comment for the method. */
export class FallDetector {
  readonly config: Readonly<FallDetectorConfig>;
  private readonly devices = new Map<string, DeviceState>();
  private readonly hooks: FallDetectorHooks;

  constructor(options: FallDetectorOptions = {}, hooks: FallDetectorHooks = {}) {
    this.config = resolveFallConfig(options);
    this.hooks = hooks;
  }

  /** Feeds one window of a device; returns the falls whose evidence is now complete (usually none). */
  push(deviceId: string, window: AccelWindow): FallDetection[] {
    const state = this.stateOf(deviceId);
    if (window.samples.length === 0) return [];
    if (state.lastWindowId !== undefined && window.id === state.lastWindowId) return []; // QoS 1 redelivery
    state.lastWindowId = window.id;

    const out: FallDetection[] = [];
    let stream = state.stream;
    if (stream !== undefined && !this.continues(stream, window)) {
      out.push(...this.process(deviceId, state, stream, true));
      stream = undefined;
    }
    stream ??= this.newStream(window.position, window.hz);
    state.stream = stream;
    this.append(stream, window);
    out.push(...this.process(deviceId, state, stream, false));
    return out;
  }

  /**
   * The device's stream has ended (end of a replayed recording, device gone):
   * judges the impacts still waiting for data on what was seen (at least
   * minStillnessObservedMs of stillness), then forgets the samples.
   */
  flush(deviceId: string): FallDetection[] {
    const state = this.devices.get(deviceId);
    const stream = state?.stream;
    if (state === undefined || stream === undefined) return [];
    state.stream = undefined;
    return this.process(deviceId, state, stream, true);
  }

  /** Forgets everything about a device (its history, pending impacts and last detection). */
  reset(deviceId: string): void {
    this.devices.delete(deviceId);
  }

  private stateOf(deviceId: string): DeviceState {
    let state = this.devices.get(deviceId);
    if (state === undefined) {
      state = { stream: undefined, lastWindowId: undefined, lastDetectionAtMs: Number.NEGATIVE_INFINITY };
      this.devices.set(deviceId, state);
    }
    return state;
  }

  private continues(stream: Stream, window: AccelWindow): boolean {
    if (stream.hz !== window.hz || stream.position !== window.position) return false;
    const lastT = stream.t[stream.t.length - 1];
    if (lastT === undefined) return false;
    const expected = lastT + 1000 / stream.hz;
    return Math.abs(window.ts - expected) <= this.config.gapToleranceMs;
  }

  private newStream(position: BodyPosition, hz: number): Stream {
    const c = this.config;
    const samples = (ms: number): number => Math.max(1, Math.round((ms * hz) / 1000));
    const n: SampleCounts = {
      smooth: samples(c.smoothingMs),
      merge: samples(c.impactMergeMs),
      freeFall: samples(c.freeFallLookbackMs),
      beforeStart: samples(c.postureBeforeStartMs),
      beforeEnd: samples(c.postureBeforeEndMs),
      priorStart: samples(c.priorActivityStartMs),
      priorEnd: samples(c.priorActivityEndMs),
      landingStart: samples(c.landingPostureStartMs),
      landingEnd: samples(c.landingPostureEndMs),
      afterDelay: samples(c.postureAfterDelayMs),
      still: samples(c.stillnessWindowMs),
      minStill: samples(c.minStillnessObservedMs),
      history: 0,
    };
    n.history = Math.max(n.beforeStart, n.priorStart, n.freeFall, n.merge) + n.smooth;
    return { position, hz, params: c.positions[position], n, base: 0, t: [], x: [], y: [], z: [], svm: [], m: [], scanIdx: 0, pending: [] };
  }

  private append(s: Stream, window: AccelWindow): void {
    const stepMs = 1000 / window.hz;
    window.samples.forEach(([x, y, z], j) => {
      const svm = Math.sqrt(x * x + y * y + z * z);
      s.t.push(window.ts + j * stepMs);
      s.x.push(x);
      s.y.push(y);
      s.z.push(z);
      s.svm.push(svm);
      const k = s.svm.length - 1;
      const from = Math.max(0, k - s.n.smooth + 1);
      let sum = 0;
      for (let i = from; i <= k; i++) sum += s.svm[i] ?? 0;
      s.m.push(sum / (k - from + 1));
    });
  }

  /** Finds new impact candidates, judges those whose data is complete (all of them when `final`), trims the history. */
  private process(deviceId: string, state: DeviceState, s: Stream, final: boolean): FallDetection[] {
    const out: FallDetection[] = [];
    const end = s.base + s.m.length; // one past the last absolute index
    const floor = Math.min(s.params.lowImpactThresholdG, s.params.impactThresholdG);
    while (s.scanIdx < end && (final || s.scanIdx + s.n.merge < end)) {
      if (this.isImpact(s, s.scanIdx, floor, end)) s.pending.push(s.scanIdx);
      s.scanIdx += 1;
    }
    while (s.pending.length > 0) {
      const c = s.pending[0] as number;
      const complete = c + s.n.afterDelay + s.n.still <= end;
      if (!complete && !final) break;
      s.pending.shift();
      const detection = this.judge(deviceId, state, s, c, end);
      if (detection !== undefined) out.push(detection);
    }
    this.trim(s);
    return out;
  }

  private at(arr: number[], s: Stream, abs: number): number {
    return arr[abs - s.base] ?? Number.NaN;
  }

  private isImpact(s: Stream, i: number, floor: number, end: number): boolean {
    const v = this.at(s.m, s, i);
    if (!(v >= floor)) return false;
    for (let j = Math.max(s.base, i - s.n.merge); j < i; j++) if (this.at(s.m, s, j) >= v) return false;
    for (let j = i + 1; j <= Math.min(end - 1, i + s.n.merge); j++) if (this.at(s.m, s, j) > v) return false;
    return true;
  }

  private judge(deviceId: string, state: DeviceState, s: Stream, c: number, end: number): FallDetection | undefined {
    const features = this.measure(s, c, end);
    const verdict = judgeImpact(features, s.params, this.config.minStillnessObservedMs);
    // Absolute difference: a device clock that jumped back must not silence the next hour of falls.
    const suppressed = verdict.fall && Math.abs(features.atMs - state.lastDetectionAtMs) < this.config.refractoryMs;
    this.hooks.onImpact?.({ deviceId, features, verdict, suppressed });
    if (!verdict.fall || suppressed) return undefined;
    state.lastDetectionAtMs = features.atMs;
    return {
      atMs: features.atMs,
      confidence: verdict.confidence,
      reason: describeImpact(features, s.params),
      details: {
        position: features.position,
        hz: features.hz,
        peakG: round(features.peakG, 2),
        freeFallMinG: round(features.freeFallMinG, 2),
        postureChangeDeg: round(features.postureChangeDeg, 0),
        stillnessSdG: round(features.stillnessSdG, 3),
        stillnessObservedMs: Math.round(features.stillnessObservedMs),
      },
    };
  }

  private measure(s: Stream, c: number, end: number): ImpactFeatures {
    const n = s.n;
    const first = s.base;
    // The impact's time: the strongest raw sample inside the smoothing span that produced the peak.
    let impactIdx = c;
    for (let j = Math.max(first, c - n.smooth + 1); j <= c; j++) if (this.at(s.svm, s, j) > this.at(s.svm, s, impactIdx)) impactIdx = j;

    let freeFallMinG = Number.POSITIVE_INFINITY;
    for (let j = Math.max(first, c - n.freeFall); j <= c; j++) freeFallMinG = Math.min(freeFallMinG, this.at(s.m, s, j));
    let priorPeakG = 0;
    for (let j = Math.max(first, c - n.priorStart); j < c - n.priorEnd; j++) priorPeakG = Math.max(priorPeakG, this.at(s.m, s, j));

    const beforeFrom = Math.max(first, c - n.beforeStart);
    const beforeTo = c - n.beforeEnd; // exclusive
    const before = beforeTo - beforeFrom >= Math.ceil((n.beforeStart - n.beforeEnd) / 2) ? this.meanVector(s, beforeFrom, beforeTo) : undefined;
    const afterFrom = c + n.afterDelay;
    const afterTo = Math.min(end, c + n.afterDelay + n.still);
    const observed = Math.max(0, afterTo - afterFrom);
    const after = observed >= 2 ? this.meanVector(s, afterFrom, afterTo) : undefined;
    const landingFrom = c + n.landingStart;
    const landingTo = Math.min(end, c + Math.max(n.landingEnd, n.landingStart + 1));
    const landing = landingTo > landingFrom ? this.meanVector(s, landingFrom, landingTo) : undefined;

    let stillnessSdG = Number.NaN;
    if (observed >= 2) {
      let sum = 0;
      for (let j = afterFrom; j < afterTo; j++) sum += this.at(s.m, s, j);
      const mean = sum / observed;
      let sq = 0;
      for (let j = afterFrom; j < afterTo; j++) sq += (this.at(s.m, s, j) - mean) ** 2;
      stillnessSdG = Math.sqrt(sq / observed);
    }
    return {
      atMs: Math.round(this.at(s.t, s, impactIdx)),
      position: s.position,
      hz: s.hz,
      peakG: this.at(s.m, s, c),
      freeFallMinG: Number.isFinite(freeFallMinG) ? freeFallMinG : 1,
      priorPeakG,
      postureChangeDeg: before !== undefined && after !== undefined ? angleDeg(before, after) : Number.NaN,
      turnAfterImpactDeg: landing !== undefined && after !== undefined ? angleDeg(landing, after) : Number.NaN,
      stillnessSdG,
      stillnessObservedMs: (observed * 1000) / s.hz,
    };
  }

  private meanVector(s: Stream, from: number, to: number): [number, number, number] {
    let x = 0;
    let y = 0;
    let z = 0;
    for (let j = from; j < to; j++) {
      x += this.at(s.x, s, j);
      y += this.at(s.y, s, j);
      z += this.at(s.z, s, j);
    }
    const count = to - from;
    return [x / count, y / count, z / count];
  }

  /** Drops samples no pending or future candidate can look back to; in chunks, so trimming stays O(1) per sample. */
  private trim(s: Stream): void {
    const oldestNeeded = Math.min(s.scanIdx, s.pending[0] ?? Number.POSITIVE_INFINITY) - s.n.history;
    const drop = oldestNeeded - s.base;
    if (drop <= 0 || drop < Math.max(256, s.m.length / 2)) return;
    for (const arr of [s.t, s.x, s.y, s.z, s.svm, s.m]) arr.splice(0, drop);
    s.base += drop;
  }
}

/** The alarm finding of a detection: one case per (device, impact time), so a replayed window cannot open a second one. */
export function fallFinding(deviceId: string, detection: FallDetection): Finding {
  return {
    kind: 'fall',
    deviceId,
    eventId: `fall:${deviceId}:${detection.atMs}`,
    eventTs: detection.atMs,
    reason: detection.reason,
    details: { confidence: detection.confidence, ...detection.details },
  };
}

function angleDeg(a: [number, number, number], b: [number, number, number]): number {
  const na = Math.hypot(a[0], a[1], a[2]);
  const nb = Math.hypot(b[0], b[1], b[2]);
  if (na === 0 || nb === 0) return Number.NaN;
  const cos = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / (na * nb);
  return (Math.acos(Math.min(1, Math.max(-1, cos))) * 180) / Math.PI;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
