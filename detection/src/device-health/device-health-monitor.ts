/**
 * Device health: a device offline past its heartbeat (or after its last will),
 * a low battery, a device never seen since installation. These are
 * maintenance findings for the village duty staff during the working day —
 * except when the device is the resident's only emergency button: then the
 * resident cannot call for help and the finding is urgent.
 *
 * Severity is decided here and carried in `details.severity` ('urgent' or
 * 'maintenance') and `details.urgent`, because the policy table of
 * alerts/src/policy.ts has one severity per kind and `deviceOffline` is
 * maintenance there. The server must take `details.severity`, when present,
 * over the kind's default.
 *
 * Night hold: a maintenance finding found at night (20:00–08:00 village time
 * by default) is held and raised at 08:00, unless the condition is over by
 * then (a device back online at 05:00 raises nothing). Urgent findings are
 * never held. Nobody should be texted at 3 a.m. about a motion sensor.
 *
 * Heartbeat: one timer per device, reset whenever the device is seen — the
 * zigbee2mqtt availability pattern. The pipeline calls seen() for every
 * message from the device (any channel); presence('online') and battery()
 * count as seen. A last will (presence 'offline') starts a short grace
 * (default 10 min: a router restart or a short power cut is not worth a
 * case); the device is reported offline if it is not back by then.
 */
import type { Clock, DeviceKind, Severity, TimerHandle } from '@kanjia/protocol';
import type { DetectorContext, Emit, Finding } from '../types.js';
import { derivedEventId } from '../check-in/event-id.js';
import { MonitorConfigError } from '../check-in/monitor-config-error.js';
import { formatMinuteOfDay, isValidTimeZone, localMinuteOfDay, nextLocalTime, parseHhMm } from '../check-in/zoned-time.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/**
 * No message for this long → offline, by device kind. Rule: two missed
 * reports plus an hour of slack, so one lost report (QoS 0 telemetry, a radio
 * hiccup) is never an alarm.
 * - Buttons and pendants sleep to save their battery and report status every
 *   4 h (the firmware contract to follow): 2 × 4 h + 1 h = 9 h.
 * - Battery sensors report state and battery at least hourly (Aqara-style
 *   Zigbee sensors check in every 50–60 min): 2 × 1 h + 1 h = 3 h.
 * - Mains devices keep their connection and report every few minutes:
 *   the hub 10 min (zigbee2mqtt's default for active devices), a power meter 30 min.
 * zigbee2mqtt's default for sleepy devices (25 h) is not used: a silent CO or
 * smoke sensor leaves the resident unprotected, a day is too long.
 */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS: Readonly<Record<DeviceKind, number>> = Object.freeze({
  sosButton: 9 * HOUR_MS,
  pendant: 9 * HOUR_MS,
  checkInButton: 9 * HOUR_MS,
  motionSensor: 3 * HOUR_MS,
  doorSensor: 3 * HOUR_MS,
  coSensor: 3 * HOUR_MS,
  smokeSensor: 3 * HOUR_MS,
  thermometer: 3 * HOUR_MS,
  waterLeakSensor: 3 * HOUR_MS,
  bedSensor: 3 * HOUR_MS,
  powerMeter: 30 * MINUTE_MS,
  hub: 10 * MINUTE_MS,
});

export interface DeviceHealthSettings {
  /** A device never heard from this long after installation is reported (installers test on the day; sleepy devices report within hours). */
  neverSeenAfterMs: number;
  /** After a last will, how long the device may take to come back before it is reported. */
  offlineGraceMs: number;
  /** Battery at or below this (%) is low. */
  lowBatteryPct: number;
  /**
   * A low battery is over only at or above this (%). 10 points of hysteresis:
   * coin cells read several points lower in a cold room and recover when it
   * warms, and a percentage computed from voltage jitters by a few points, so
   * 19/21/19 must not open and close cases; a new battery reads ~100.
   */
  batteryClearPct: number;
  /** Local `HH:MM` from which maintenance findings go out (the duty room opens). */
  dayStart: string;
  /** Local `HH:MM` from which maintenance findings are held until dayStart. */
  nightStart: string;
}

export const DEFAULT_DEVICE_HEALTH_SETTINGS: Readonly<DeviceHealthSettings> = Object.freeze({
  neverSeenAfterMs: 24 * HOUR_MS,
  offlineGraceMs: 10 * MINUTE_MS,
  lowBatteryPct: 20,
  batteryClearPct: 30,
  dayStart: '08:00',
  nightStart: '20:00',
});

export interface DeviceHealthMonitorOptions extends DetectorContext {
  settings?: Partial<DeviceHealthSettings>;
}

export interface DeviceHealthDeviceOptions {
  deviceId: string;
  kind: DeviceKind;
  subjectId: string;
  /** IANA zone of the village, for the night hold. */
  timeZone: string;
  /** When the device was installed (registered); the never-seen clock starts here. */
  installedAtMs: number;
  /** Override of DEFAULT_HEARTBEAT_TIMEOUT_MS[kind]. */
  heartbeatTimeoutMs?: number;
  /** The resident's only SOS button or pendant: offline is urgent, day or night. */
  isOnlyEmergencyButton: boolean;
  /** Restart: last message the server recorded from the device. Without it the device counts as never seen. */
  lastSeenMs?: number;
}

/** Severity of a device-health finding: maintenance, but urgent when the resident's only emergency button is offline. */
export function deviceHealthSeverity(kind: 'deviceOffline' | 'lowBattery', isOnlyEmergencyButton: boolean): Severity {
  return kind === 'deviceOffline' && isOnlyEmergencyButton ? 'urgent' : 'maintenance';
}

type HealthKind = 'deviceOffline' | 'lowBattery';

interface Problem {
  eventId: string;
  /** Raised to the system; false while held for the morning. */
  raised: boolean;
  foundAtMs: number;
}

interface Device {
  options: DeviceHealthDeviceOptions;
  heartbeatTimeoutMs: number;
  lastSeenMs: number | undefined;
  /** Last will received and not followed by a message yet. */
  lastWillAtMs: number | undefined;
  offline: Problem | undefined;
  lowBattery: (Problem & { pct: number }) | undefined;
  timer: TimerHandle | undefined;
}

interface Held {
  deviceId: string;
  kind: HealthKind;
  releaseAtMs: number;
  finding: Finding;
}

/** Watches heartbeats, last wills and batteries of registered devices. */
export class DeviceHealthMonitor {
  private readonly clock: Clock;
  private readonly emit: Emit;
  private readonly settings: DeviceHealthSettings;
  private readonly devices = new Map<string, Device>();
  /** Maintenance findings found at night, by eventId, waiting for the morning. */
  private readonly held = new Map<string, Held>();
  private releaseTimer: TimerHandle | undefined;
  private started = false;

  constructor(options: DeviceHealthMonitorOptions) {
    this.clock = options.clock;
    this.emit = options.emit;
    this.settings = { ...DEFAULT_DEVICE_HEALTH_SETTINGS, ...options.settings };
  }

  /** Arms the heartbeat timer of every registered device. Idempotent. */
  start(): void {
    if (this.started) return;
    const s = this.settings;
    if (parseHhMm(s.dayStart) === undefined || parseHhMm(s.nightStart) === undefined) {
      throw new MonitorConfigError('MONITOR_BAD_TIME_OF_DAY', 'device health: dayStart and nightStart are HH:MM, 00:00–23:59');
    }
    if (!(s.batteryClearPct > s.lowBatteryPct)) {
      throw new MonitorConfigError('MONITOR_BAD_THRESHOLD', 'device health: batteryClearPct must be above lowBatteryPct (hysteresis)');
    }
    this.started = true;
    for (const d of this.devices.values()) this.arm(d);
    this.armRelease();
  }

  /** Clears every timer (heartbeats and the morning release). Idempotent; held findings are kept for the next start(). */
  stop(): void {
    this.started = false;
    for (const d of this.devices.values()) this.disarm(d);
    this.clock.clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
  }

  /** Starts (or updates) watching a device; throws MonitorConfigError on unusable options. */
  register(options: DeviceHealthDeviceOptions): void {
    if (!isValidTimeZone(options.timeZone)) {
      throw new MonitorConfigError('MONITOR_BAD_TIME_ZONE', `device health ${options.deviceId}: unknown IANA time zone "${options.timeZone}"`);
    }
    const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS[options.kind];
    if (!(heartbeatTimeoutMs > 0)) {
      throw new MonitorConfigError('MONITOR_BAD_DURATION', `device health ${options.deviceId}: heartbeatTimeoutMs must be > 0`);
    }
    const previous = this.devices.get(options.deviceId);
    if (previous !== undefined) this.disarm(previous);
    const d: Device = {
      options: { ...options },
      heartbeatTimeoutMs,
      lastSeenMs: maxDefined(previous?.lastSeenMs, options.lastSeenMs),
      lastWillAtMs: previous?.lastWillAtMs,
      offline: previous?.offline,
      lowBattery: previous?.lowBattery,
      timer: undefined,
    };
    this.devices.set(options.deviceId, d);
    if (this.started) this.arm(d);
  }

  /** Stops watching a device (removed from the household); its held findings are dropped. */
  unregister(deviceId: string): void {
    const d = this.devices.get(deviceId);
    if (d === undefined) return;
    this.disarm(d);
    this.devices.delete(deviceId);
    for (const [key, h] of this.held) if (h.deviceId === deviceId) this.held.delete(key);
    this.armRelease();
  }

  /** Any message from the device, at server receive time `atMs`. Returns false for an unknown device. */
  seen(deviceId: string, atMs: number): boolean {
    const d = this.devices.get(deviceId);
    if (d === undefined) return false;
    const t = Math.min(atMs, this.clock.nowMs());
    d.lastSeenMs = maxDefined(d.lastSeenMs, t);
    // A message older than the last will (handed on after its connection had
    // closed: a connection that flapped) does not say the device is back.
    if (d.lastWillAtMs !== undefined && t < d.lastWillAtMs) {
      if (this.started) this.arm(d);
      return true;
    }
    d.lastWillAtMs = undefined;
    if (d.offline !== undefined) {
      const offline = d.offline;
      d.offline = undefined;
      this.settle(d, 'deviceOffline', offline, t, `back online after ${Math.round((t - offline.foundAtMs) / MINUTE_MS)} min reported offline`);
    }
    if (this.started) this.arm(d);
    return true;
  }

  /** Retained status: `online` is a sign of life; `offline` is the device's last will (sent by the broker, not the device). */
  presence(deviceId: string, online: boolean, atMs: number): boolean {
    if (online) return this.seen(deviceId, atMs);
    const d = this.devices.get(deviceId);
    if (d === undefined) return false;
    d.lastWillAtMs ??= Math.min(atMs, this.clock.nowMs());
    if (this.started) this.arm(d);
    return true;
  }

  /** A battery level in % (telemetry batteryPct or status batteryPct); counts as seen. */
  battery(deviceId: string, pct: number, atMs: number): boolean {
    if (!this.seen(deviceId, atMs)) return false;
    const d = this.devices.get(deviceId);
    if (d === undefined) return false;
    const t = Math.min(atMs, this.clock.nowMs());
    if (d.lowBattery === undefined && pct <= this.settings.lowBatteryPct) {
      const eventId = derivedEventId('lowBattery', deviceId, t);
      d.lowBattery = { eventId, raised: false, foundAtMs: t, pct };
      const finding = this.finding(d, 'lowBattery', eventId, t, `battery at ${pct} % (low at ≤ ${this.settings.lowBatteryPct} %)`, {
        batteryPct: pct,
        lowBatteryPct: this.settings.lowBatteryPct,
      });
      this.report(d, 'lowBattery', d.lowBattery, finding);
    } else if (d.lowBattery !== undefined && pct >= this.settings.batteryClearPct) {
      const low = d.lowBattery;
      d.lowBattery = undefined;
      this.settle(d, 'lowBattery', low, t, `battery at ${pct} % (replaced or recovered)`);
    }
    return true;
  }

  /** The last message time to persist per device and pass back to register() after a restart. */
  lastSeenMs(deviceId: string): number | undefined {
    return this.devices.get(deviceId)?.lastSeenMs;
  }

  /**
   * What is wrong with the device now, for the map (held or raised alike):
   * offline (reported, or its last will arrived), a low battery, or never
   * heard from since installation; null when fine or unknown.
   */
  problemOf(deviceId: string): 'offline' | 'lowBattery' | 'neverSeen' | null {
    const d = this.devices.get(deviceId);
    if (d === undefined) return null;
    if (d.lastSeenMs === undefined) return 'neverSeen';
    if (d.offline !== undefined || d.lastWillAtMs !== undefined) return 'offline';
    return d.lowBattery !== undefined ? 'lowBattery' : null;
  }

  private disarm(d: Device): void {
    this.clock.clearTimeout(d.timer);
    d.timer = undefined;
  }

  /** The one timer per device: the moment it becomes offline if nothing is heard. */
  private arm(d: Device): void {
    this.disarm(d);
    if (!this.started || d.offline !== undefined) return;
    let deadlineMs: number;
    if (d.lastSeenMs === undefined) {
      deadlineMs = d.options.installedAtMs + this.settings.neverSeenAfterMs;
    } else {
      deadlineMs = d.lastSeenMs + d.heartbeatTimeoutMs;
      if (d.lastWillAtMs !== undefined) deadlineMs = Math.min(deadlineMs, d.lastWillAtMs + this.settings.offlineGraceMs);
    }
    d.timer = this.clock.setTimeout(() => this.onSilent(d), deadlineMs - this.clock.nowMs());
  }

  private onSilent(d: Device): void {
    d.timer = undefined;
    const now = this.clock.nowMs();
    const id = d.options.deviceId;
    const neverSeen = d.lastSeenMs === undefined;
    const viaLastWill = !neverSeen && d.lastWillAtMs !== undefined;
    const eventId = derivedEventId('deviceOffline', id, neverSeen ? `installed:${d.options.installedAtMs}` : `${d.lastSeenMs}`);
    const silentMin = Math.round((now - (d.lastSeenMs ?? d.options.installedAtMs)) / MINUTE_MS);
    const reason = neverSeen
      ? `never seen since installation ${Math.round(silentMin / 60)} h ago`
      : viaLastWill
        ? `offline (last will) and not back within ${Math.round(this.settings.offlineGraceMs / MINUTE_MS)} min`
        : `no message for ${silentMin} min (heartbeat timeout ${Math.round(d.heartbeatTimeoutMs / MINUTE_MS)} min)`;
    const details: NonNullable<Finding['details']> = {
      neverSeen,
      viaLastWill,
      silentMin,
      heartbeatTimeoutMin: Math.round(d.heartbeatTimeoutMs / MINUTE_MS),
    };
    if (d.lastSeenMs !== undefined) details.lastSeenMs = d.lastSeenMs;
    else details.installedAtMs = d.options.installedAtMs;
    d.offline = { eventId, raised: false, foundAtMs: now };
    this.report(d, 'deviceOffline', d.offline, this.finding(d, 'deviceOffline', eventId, now, reason, details));
  }

  private finding(d: Device, kind: HealthKind, eventId: string, atMs: number, reason: string, extra: NonNullable<Finding['details']>): Finding {
    const severity = deviceHealthSeverity(kind, d.options.isOnlyEmergencyButton);
    const urgent = severity === 'urgent';
    return {
      kind,
      deviceId: d.options.deviceId,
      subjectId: d.options.subjectId,
      eventId,
      eventTs: atMs,
      reason: urgent ? `${reason}; the resident's only emergency button` : reason,
      details: { ...extra, deviceKind: d.options.kind, isOnlyEmergencyButton: d.options.isOnlyEmergencyButton, severity, urgent },
    };
  }

  /** Raises now, or holds a maintenance finding found at night until the duty room opens. */
  private report(d: Device, kind: HealthKind, problem: Problem, finding: Finding): void {
    const now = this.clock.nowMs();
    const urgent = finding.details?.urgent === true;
    const dayStartMin = parseHhMm(this.settings.dayStart) ?? 8 * 60;
    const nightStartMin = parseHhMm(this.settings.nightStart) ?? 20 * 60;
    if (urgent || isDaytime(localMinuteOfDay(now, d.options.timeZone), dayStartMin, nightStartMin)) {
      problem.raised = true;
      this.emit({ type: 'alarm', finding });
      return;
    }
    const releaseAtMs = nextLocalTime(now, dayStartMin, d.options.timeZone);
    const heldFinding: Finding = {
      ...finding,
      details: { ...finding.details, heldUntil: formatMinuteOfDay(dayStartMin), foundAtMs: now },
    };
    this.held.set(problem.eventId, { deviceId: d.options.deviceId, kind, releaseAtMs, finding: heldFinding });
    this.armRelease();
  }

  /** The problem is over: `cleared` if it was raised, silently dropped if still held for the morning. */
  private settle(d: Device, kind: HealthKind, problem: Problem, atMs: number, reason: string): void {
    if (problem.raised) {
      this.emit({ type: 'cleared', kind, deviceId: d.options.deviceId, subjectId: d.options.subjectId, atMs, reason });
    } else if (this.held.delete(problem.eventId)) {
      this.armRelease();
    }
  }

  /** One timer for all held findings: the earliest morning release. */
  private armRelease(): void {
    this.clock.clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
    if (!this.started || this.held.size === 0) return;
    let earliest = Infinity;
    for (const h of this.held.values()) earliest = Math.min(earliest, h.releaseAtMs);
    this.releaseTimer = this.clock.setTimeout(() => this.release(), earliest - this.clock.nowMs());
  }

  private release(): void {
    this.releaseTimer = undefined;
    const now = this.clock.nowMs();
    for (const [eventId, h] of [...this.held]) {
      if (h.releaseAtMs > now) continue;
      this.held.delete(eventId);
      const d = this.devices.get(h.deviceId);
      const problem = h.kind === 'deviceOffline' ? d?.offline : d?.lowBattery;
      if (problem === undefined || problem.eventId !== eventId) continue;
      problem.raised = true;
      this.emit({ type: 'alarm', finding: h.finding });
    }
    this.armRelease();
  }
}

/** Working hours [dayStart, nightStart) in minutes of the local day; handles a day that wraps midnight. */
function isDaytime(minuteOfDay: number, dayStartMin: number, nightStartMin: number): boolean {
  return dayStartMin <= nightStartMin
    ? minuteOfDay >= dayStartMin && minuteOfDay < nightStartMin
    : minuteOfDay >= dayStartMin || minuteOfDay < nightStartMin;
}

function maxDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.max(a, b);
}
