/**
 * Environment hazards from a home's sensors: carbon monoxide (coal stoves in
 * winter), smoke, gas, water leak, a dangerously cold or hot room.
 *
 * - CO: the staged EN 50291-1 curve of co-stages.ts; `co`, critical.
 *   Cleared after 15 min below 30 ppm (EN 50291-1's "no alarm" level).
 * - Smoke, gas: the first `true` reading raises (the detector in the device
 *   has already debounced; a fire or a gas leak does not wait). Water leak:
 *   confirmed by a second `true` reading, or by `true` standing 5 min without
 *   a contrary report (sensors report on change, so a held value is the
 *   current state) — a wet-finger test or a splash is not a case.
 *   Each is cleared after 10 min of `false`.
 * - Cold: below 5 °C for 3 h (issue 3: an old person in an unheated house in
 *   winter, hypothermia; WHO Housing and Health Guidelines 2018 recommend
 *   ≥ 18 °C indoors in the cold season, so 5 °C is far past discomfort).
 *   Heat: at or above 35 °C for 3 h (the threshold of China's high-temperature
 *   warnings, 高温预警 ≥ 35 °C; old people's thermoregulation fails first).
 *   Hysteresis of 2 °C: a cold episode continues through readings below
 *   7 °C (so 4.9/5.1/4.9 does not restart the 3 hours) and is cleared only
 *   after 30 min at or above 7 °C; heat likewise with 33 °C. No calendar
 *   check for "winter": a room below 5 °C is dangerous in any month.
 *
 * Readings are held as the current state (sensors report on change) but only
 * for `staleAfterMs` (2 h): a sensor that stops reporting drops every
 * condition it was holding — an alarm already raised is not `cleared` (we do
 * not know it is over; device health reports the silent sensor), and if the
 * sensor comes back still in alarm that is a new occurrence with a new
 * eventId, so a case closed in the meantime is opened again.
 *
 * One timer per device: the next moment a held value changes something
 * (a clear, a water-leak confirmation, a cold/heat duration, staleness).
 * Time is the pipeline's `atMs` (server receive time), never the device's.
 */
import type { AlarmKind, Clock, Readings, TimerHandle } from '@kanjia/protocol';
import type { DetectorContext, Emit, Finding } from '../types.js';
import { derivedEventId } from '../check-in/event-id.js';
import { MonitorConfigError } from '../check-in/monitor-config-error.js';
import { formatMinuteOfDay, isValidTimeZone, localMinuteOfDay } from '../check-in/zoned-time.js';
import { accumulateCoSegment, CO_ALARM_STAGES_EN50291, triggeredCoStage, type CoAlarmStage } from './co-stages.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

type BooleanHazard = 'smoke' | 'gas' | 'waterLeak';
const BOOLEAN_HAZARDS: readonly BooleanHazard[] = ['smoke', 'gas', 'waterLeak'];

export interface EnvironmentThresholds {
  /** CO stages, EN 50291-1 (co-stages.ts). */
  coStages: readonly CoAlarmStage[];
  /** Fraction of the time below a stage that is taken off its accumulated time (0.5: pays back at half rate). */
  coRecoveryRate: number;
  /** Longest gap between two CO readings that is still counted (interpolated). Sensors must report at least every 15 min while CO ≥ 30 ppm. */
  coMaxGapMs: number;
  /** CO is back to normal below this (ppm)… */
  coClearBelowPpm: number;
  /** …for this long. */
  coClearAfterMs: number;
  /** Per hazard: readings in a row that raise it, and optionally how long a held `true` raises it without a second reading. */
  booleanConfirm: Readonly<Record<BooleanHazard, { readings: number; heldMs?: number }>>;
  /** Smoke, gas, water leak are over after this long `false`. */
  booleanClearAfterMs: number;
  /** Cold below this (°C)… */
  coldBelowC: number;
  /** …for this long… */
  coldAfterMs: number;
  /** …and over only at or above this (°C), for temperatureClearAfterMs. */
  coldClearAtC: number;
  /** Heat at or above this (°C)… */
  heatAtOrAboveC: number;
  heatAfterMs: number;
  /** …and over only at or below this (°C), for temperatureClearAfterMs. */
  heatClearAtC: number;
  temperatureClearAfterMs: number;
  /** A reading older than this no longer stands for the current state. */
  staleAfterMs: number;
}

export const DEFAULT_ENVIRONMENT_THRESHOLDS: Readonly<EnvironmentThresholds> = Object.freeze({
  coStages: CO_ALARM_STAGES_EN50291,
  coRecoveryRate: 0.5,
  coMaxGapMs: 30 * MINUTE_MS,
  coClearBelowPpm: 30,
  coClearAfterMs: 15 * MINUTE_MS,
  booleanConfirm: Object.freeze({
    smoke: { readings: 1 },
    gas: { readings: 1 },
    waterLeak: { readings: 2, heldMs: 5 * MINUTE_MS },
  }),
  booleanClearAfterMs: 10 * MINUTE_MS,
  coldBelowC: 5,
  coldAfterMs: 3 * HOUR_MS,
  coldClearAtC: 7,
  heatAtOrAboveC: 35,
  heatAfterMs: 3 * HOUR_MS,
  heatClearAtC: 33,
  temperatureClearAfterMs: 30 * MINUTE_MS,
  staleAfterMs: 2 * HOUR_MS,
});

export interface EnvironmentMonitorOptions extends DetectorContext {
  thresholds?: Partial<EnvironmentThresholds>;
}

export interface EnvironmentDeviceOptions {
  deviceId: string;
  subjectId: string;
  /** IANA zone of the village, for the local times in the details. */
  timeZone: string;
}

interface Active {
  eventId: string;
}

interface CoState {
  lastPpm: number | undefined;
  lastAtMs: number | undefined;
  accMs: number[];
  episodeStartMs: number | undefined;
  peakPpm: number;
  active: Active | undefined;
  belowSinceMs: number | undefined;
}

interface BooleanState {
  value: boolean | undefined;
  /** When the current value started. */
  sinceMs: number;
  readingsInRow: number;
  lastAtMs: number | undefined;
  active: Active | undefined;
}

interface Episode {
  /** First reading of the episode (below coldBelowC / at or above heatAtOrAboveC). */
  sinceMs: number | undefined;
  active: Active | undefined;
  /** First reading past the clear level since the alarm. */
  clearSinceMs: number | undefined;
}

interface TemperatureState {
  lastC: number | undefined;
  lastAtMs: number | undefined;
  cold: Episode;
  heat: Episode;
}

interface Device {
  options: EnvironmentDeviceOptions;
  co: CoState;
  bool: Record<BooleanHazard, BooleanState>;
  temp: TemperatureState;
  timer: TimerHandle | undefined;
}

const newCo = (stages: number): CoState => ({
  lastPpm: undefined,
  lastAtMs: undefined,
  accMs: new Array<number>(stages).fill(0),
  episodeStartMs: undefined,
  peakPpm: 0,
  active: undefined,
  belowSinceMs: undefined,
});
const newBool = (): BooleanState => ({ value: undefined, sinceMs: 0, readingsInRow: 0, lastAtMs: undefined, active: undefined });
const newEpisode = (): Episode => ({ sinceMs: undefined, active: undefined, clearSinceMs: undefined });
const newTemp = (): TemperatureState => ({ lastC: undefined, lastAtMs: undefined, cold: newEpisode(), heat: newEpisode() });

/** Watches CO, smoke, gas, water leak and room temperature of registered sensors. */
export class EnvironmentMonitor {
  private readonly clock: Clock;
  private readonly emit: Emit;
  private readonly t: EnvironmentThresholds;
  private readonly devices = new Map<string, Device>();
  private started = false;

  constructor(options: EnvironmentMonitorOptions) {
    this.clock = options.clock;
    this.emit = options.emit;
    this.t = { ...DEFAULT_ENVIRONMENT_THRESHOLDS, ...options.thresholds };
  }

  /** Validates the thresholds and arms the timers of devices holding a condition. Idempotent. */
  start(): void {
    if (this.started) return;
    const t = this.t;
    if (t.coStages.length === 0 || t.coStages.some((s) => !(s.ppm > 0) || !(s.afterMs >= 0))) {
      throw new MonitorConfigError('MONITOR_BAD_THRESHOLD', 'environment: coStages needs at least one stage with ppm > 0 and afterMs ≥ 0');
    }
    if (!(t.coldClearAtC > t.coldBelowC) || !(t.heatClearAtC < t.heatAtOrAboveC)) {
      throw new MonitorConfigError('MONITOR_BAD_THRESHOLD', 'environment: the clear levels of cold and heat must lie on the safe side of their alarm levels (hysteresis)');
    }
    this.started = true;
    for (const d of this.devices.values()) {
      this.evaluate(d, this.clock.nowMs());
      this.arm(d);
    }
  }

  /** Clears every timer. Idempotent. */
  stop(): void {
    this.started = false;
    for (const d of this.devices.values()) this.disarm(d);
  }

  /** Starts (or updates) watching a sensor device; throws MonitorConfigError on an unknown time zone. */
  register(options: EnvironmentDeviceOptions): void {
    if (!isValidTimeZone(options.timeZone)) {
      throw new MonitorConfigError('MONITOR_BAD_TIME_ZONE', `environment ${options.deviceId}: unknown IANA time zone "${options.timeZone}"`);
    }
    const previous = this.devices.get(options.deviceId);
    if (previous !== undefined) {
      previous.options = { ...options };
      return;
    }
    this.devices.set(options.deviceId, {
      options: { ...options },
      co: newCo(this.t.coStages.length),
      bool: { smoke: newBool(), gas: newBool(), waterLeak: newBool() },
      temp: newTemp(),
      timer: undefined,
    });
  }

  /** Stops watching a device and clears its timer. */
  unregister(deviceId: string): void {
    const d = this.devices.get(deviceId);
    if (d === undefined) return;
    this.disarm(d);
    this.devices.delete(deviceId);
  }

  /** One telemetry message's readings at server receive time `atMs`. Returns false for an unknown device. */
  reading(deviceId: string, readings: Readings, atMs: number): boolean {
    const d = this.devices.get(deviceId);
    if (d === undefined) return false;
    const t = Math.min(atMs, this.clock.nowMs());
    // Conditions held so far are judged up to this moment first (staleness).
    this.evaluate(d, t);
    if (readings.coPpm !== undefined) this.onCo(d, readings.coPpm, t);
    for (const hazard of BOOLEAN_HAZARDS) {
      const v = readings[hazard];
      if (v !== undefined) this.onBoolean(d, hazard, v, t);
    }
    if (readings.temperatureC !== undefined) this.onTemperature(d, readings.temperatureC, t);
    this.evaluate(d, t);
    if (this.started) this.arm(d);
    return true;
  }

  // ── CO ──────────────────────────────────────────────────────────────────

  private onCo(d: Device, ppm: number, t: number): void {
    const co = d.co;
    const stages = this.t.coStages;
    if (co.lastAtMs !== undefined && co.lastPpm !== undefined) {
      // Out of order: the newer value stands. Two readings in the same millisecond: the later one
      // replaces the earlier (no time passed to accumulate), and still counts for the immediate stage.
      if (t < co.lastAtMs) return;
      const dt = t - co.lastAtMs;
      if (dt === 0) {
        // nothing to accumulate
      } else if (dt <= this.t.coMaxGapMs) {
        accumulateCoSegment(stages, co.accMs, co.lastPpm, ppm, dt, this.t.coRecoveryRate);
      } else {
        co.belowSinceMs = undefined; // below before and after a long gap is not "below throughout"
      }
    }
    co.lastPpm = ppm;
    co.lastAtMs = t;
    const lowestPpm = Math.min(...stages.map((s) => s.ppm));
    if (ppm >= lowestPpm) co.episodeStartMs ??= t;
    co.peakPpm = Math.max(co.peakPpm, ppm);

    if (co.active === undefined) {
      const hit = triggeredCoStage(stages, co.accMs, ppm);
      if (hit !== undefined) {
        const startMs = co.episodeStartMs ?? t;
        const eventId = derivedEventId('co', d.options.deviceId, startMs);
        co.active = { eventId };
        co.belowSinceMs = undefined;
        const atStageMin = Math.round(((co.accMs[hit.index] ?? 0) / MINUTE_MS) * 10) / 10;
        const reason =
          hit.stage.afterMs <= 0
            ? `CO ${ppm} ppm, at or above ${hit.stage.ppm} ppm: immediate alarm (EN 50291-1 stage ${hit.stage.ppm} ppm)`
            : `CO at or above ${hit.stage.ppm} ppm for ${atStageMin} min, now ${ppm} ppm (EN 50291-1 stage ${hit.stage.ppm} ppm / ${hit.stage.afterMs / MINUTE_MS} min)`;
        this.raise(d, 'co', eventId, t, reason, {
          coPpm: ppm,
          peakPpm: co.peakPpm,
          stagePpm: hit.stage.ppm,
          stageMin: hit.stage.afterMs / MINUTE_MS,
          minutesAtStage: atStageMin,
          startMs,
          localStart: this.localTime(d, startMs),
          standard: 'EN 50291-1',
        });
      } else if (ppm < lowestPpm && co.accMs.every((a) => a === 0)) {
        co.episodeStartMs = undefined;
        co.peakPpm = 0;
      }
    } else if (ppm < this.t.coClearBelowPpm) {
      co.belowSinceMs ??= t;
    } else {
      co.belowSinceMs = undefined;
    }
  }

  // ── smoke, gas, water leak ──────────────────────────────────────────────

  private onBoolean(d: Device, hazard: BooleanHazard, value: boolean, t: number): void {
    const b = d.bool[hazard];
    if (b.lastAtMs !== undefined && t <= b.lastAtMs) return;
    if (b.value === value) {
      b.readingsInRow += 1;
    } else {
      b.value = value;
      b.sinceMs = t;
      b.readingsInRow = 1;
    }
    b.lastAtMs = t;
  }

  // ── temperature ─────────────────────────────────────────────────────────

  private onTemperature(d: Device, c: number, t: number): void {
    const s = d.temp;
    if (s.lastAtMs !== undefined && t <= s.lastAtMs) return;
    s.lastC = c;
    s.lastAtMs = t;
    const { coldBelowC, coldClearAtC, heatAtOrAboveC, heatClearAtC } = this.t;
    // Cold: starts below coldBelowC, continues through the hysteresis band, ends at coldClearAtC.
    if (c < coldBelowC) s.cold.sinceMs ??= t;
    else if (c >= coldClearAtC && s.cold.active === undefined) s.cold.sinceMs = undefined;
    if (s.cold.active !== undefined) s.cold.clearSinceMs = c >= coldClearAtC ? (s.cold.clearSinceMs ?? t) : undefined;
    // Heat, mirrored.
    if (c >= heatAtOrAboveC) s.heat.sinceMs ??= t;
    else if (c <= heatClearAtC && s.heat.active === undefined) s.heat.sinceMs = undefined;
    if (s.heat.active !== undefined) s.heat.clearSinceMs = c <= heatClearAtC ? (s.heat.clearSinceMs ?? t) : undefined;
  }

  // ── held values over time ───────────────────────────────────────────────

  /** Applies what the held values mean at `now`: staleness, confirmations, durations, clears. */
  private evaluate(d: Device, now: number): void {
    const t = this.t;
    const fresh = (lastAtMs: number | undefined): boolean => lastAtMs !== undefined && now - lastAtMs < t.staleAfterMs;

    // CO
    const co = d.co;
    if (co.lastAtMs !== undefined && !fresh(co.lastAtMs)) d.co = newCo(t.coStages.length);
    else if (co.active !== undefined && co.lastPpm !== undefined && co.lastPpm < t.coClearBelowPpm && co.belowSinceMs !== undefined && now - co.belowSinceMs >= t.coClearAfterMs) {
      this.clear(d, 'co', now, `CO below ${t.coClearBelowPpm} ppm for ${Math.round((now - co.belowSinceMs) / MINUTE_MS)} min (peak ${co.peakPpm} ppm)`);
      co.active = undefined;
      co.belowSinceMs = undefined;
      co.episodeStartMs = undefined;
      co.peakPpm = 0;
    }

    // Smoke, gas, water leak
    for (const hazard of BOOLEAN_HAZARDS) {
      const b = d.bool[hazard];
      if (b.lastAtMs !== undefined && !fresh(b.lastAtMs)) {
        d.bool[hazard] = newBool();
        continue;
      }
      const confirm = t.booleanConfirm[hazard];
      if (b.value === true && b.active === undefined) {
        const byReadings = b.readingsInRow >= confirm.readings;
        const byHeld = confirm.heldMs !== undefined && now - b.sinceMs >= confirm.heldMs;
        if (byReadings || byHeld) {
          const eventId = derivedEventId(hazard, d.options.deviceId, b.sinceMs);
          b.active = { eventId };
          const how = confirm.readings <= 1 ? 'reported' : byReadings ? `reported ${b.readingsInRow} times in a row` : `reported and standing for ${Math.round((now - b.sinceMs) / MINUTE_MS)} min`;
          this.raise(d, hazard, eventId, now, `${HAZARD_WORDS[hazard]} ${how}`, {
            [hazard]: true,
            readingsInRow: b.readingsInRow,
            startMs: b.sinceMs,
            localStart: this.localTime(d, b.sinceMs),
          });
        }
      } else if (b.value === false && b.active !== undefined && now - b.sinceMs >= t.booleanClearAfterMs) {
        b.active = undefined;
        this.clear(d, hazard, now, `no ${HAZARD_WORDS[hazard]} for ${Math.round((now - b.sinceMs) / MINUTE_MS)} min`);
      }
    }

    // Cold and heat
    const temp = d.temp;
    if (temp.lastAtMs !== undefined && !fresh(temp.lastAtMs)) {
      d.temp = newTemp();
    } else if (temp.lastC !== undefined) {
      this.evaluateEpisode(d, 'cold', temp.cold, temp.lastC, temp.lastC < t.coldBelowC, t.coldAfterMs, now);
      this.evaluateEpisode(d, 'heat', temp.heat, temp.lastC, temp.lastC >= t.heatAtOrAboveC, t.heatAfterMs, now);
    }
  }

  private evaluateEpisode(d: Device, kind: 'cold' | 'heat', e: Episode, lastC: number, pastThreshold: boolean, afterMs: number, now: number): void {
    const t = this.t;
    if (e.active === undefined && e.sinceMs !== undefined && pastThreshold && now - e.sinceMs >= afterMs) {
      const eventId = derivedEventId(kind, d.options.deviceId, e.sinceMs);
      e.active = { eventId };
      e.clearSinceMs = undefined;
      const minutes = Math.round((now - e.sinceMs) / MINUTE_MS);
      const thresholdC = kind === 'cold' ? t.coldBelowC : t.heatAtOrAboveC;
      const reason =
        kind === 'cold'
          ? `room below ${thresholdC} °C for ${minutes} min, now ${lastC} °C`
          : `room at or above ${thresholdC} °C for ${minutes} min, now ${lastC} °C`;
      this.raise(d, kind, eventId, now, reason, {
        temperatureC: lastC,
        thresholdC,
        minutes,
        startMs: e.sinceMs,
        localStart: this.localTime(d, e.sinceMs),
      });
    } else if (e.active !== undefined && e.clearSinceMs !== undefined && now - e.clearSinceMs >= t.temperatureClearAfterMs) {
      const clearC = kind === 'cold' ? t.coldClearAtC : t.heatClearAtC;
      this.clear(d, kind, now, `room ${kind === 'cold' ? 'at or above' : 'at or below'} ${clearC} °C for ${Math.round((now - e.clearSinceMs) / MINUTE_MS)} min, now ${lastC} °C`);
      e.active = undefined;
      e.sinceMs = undefined;
      e.clearSinceMs = undefined;
    }
  }

  /** The next moment a held value changes something, or undefined. */
  private nextDueMs(d: Device): number | undefined {
    const t = this.t;
    const due: number[] = [];
    const co = d.co;
    if (co.lastAtMs !== undefined && (co.active !== undefined || co.episodeStartMs !== undefined || co.accMs.some((a) => a > 0))) {
      due.push(co.lastAtMs + t.staleAfterMs);
      if (co.active !== undefined && co.belowSinceMs !== undefined) due.push(co.belowSinceMs + t.coClearAfterMs);
    }
    for (const hazard of BOOLEAN_HAZARDS) {
      const b = d.bool[hazard];
      if (b.lastAtMs === undefined || (b.value !== true && b.active === undefined)) continue;
      due.push(b.lastAtMs + t.staleAfterMs);
      const heldMs = t.booleanConfirm[hazard].heldMs;
      if (b.value === true && b.active === undefined && heldMs !== undefined) due.push(b.sinceMs + heldMs);
      if (b.value === false && b.active !== undefined) due.push(b.sinceMs + t.booleanClearAfterMs);
    }
    const temp = d.temp;
    if (temp.lastAtMs !== undefined) {
      for (const [e, afterMs] of [
        [temp.cold, t.coldAfterMs],
        [temp.heat, t.heatAfterMs],
      ] as const) {
        if (e.sinceMs === undefined && e.active === undefined) continue;
        due.push(temp.lastAtMs + t.staleAfterMs);
        const pastThreshold = e === temp.cold ? (temp.lastC ?? Infinity) < t.coldBelowC : (temp.lastC ?? -Infinity) >= t.heatAtOrAboveC;
        // In the hysteresis band the duration is judged at the next reading past the threshold.
        if (e.active === undefined && e.sinceMs !== undefined && pastThreshold) due.push(e.sinceMs + afterMs);
        if (e.active !== undefined && e.clearSinceMs !== undefined) due.push(e.clearSinceMs + t.temperatureClearAfterMs);
      }
    }
    // Deadlines at or before now were just evaluated; re-arming them would spin.
    const now = this.clock.nowMs();
    const future = due.filter((ms) => ms > now);
    return future.length === 0 ? undefined : Math.min(...future);
  }

  private arm(d: Device): void {
    this.disarm(d);
    if (!this.started) return;
    const dueMs = this.nextDueMs(d);
    if (dueMs === undefined) return;
    d.timer = this.clock.setTimeout(() => {
      d.timer = undefined;
      this.evaluate(d, this.clock.nowMs());
      this.arm(d);
    }, Math.max(0, dueMs - this.clock.nowMs()));
  }

  private disarm(d: Device): void {
    this.clock.clearTimeout(d.timer);
    d.timer = undefined;
  }

  private raise(d: Device, kind: AlarmKind, eventId: string, atMs: number, reason: string, details: NonNullable<Finding['details']>): void {
    this.emit({ type: 'alarm', finding: { kind, deviceId: d.options.deviceId, subjectId: d.options.subjectId, eventId, eventTs: atMs, reason, details } });
  }

  private clear(d: Device, kind: AlarmKind, atMs: number, reason: string): void {
    this.emit({ type: 'cleared', kind, deviceId: d.options.deviceId, subjectId: d.options.subjectId, atMs, reason });
  }

  private localTime(d: Device, ms: number): string {
    return formatMinuteOfDay(localMinuteOfDay(ms, d.options.timeZone));
  }
}

const HAZARD_WORDS: Readonly<Record<BooleanHazard, string>> = { smoke: 'smoke', gas: 'gas', waterLeak: 'water leak' };
