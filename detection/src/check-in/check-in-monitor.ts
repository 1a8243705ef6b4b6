/**
 * Missed daily check-in (平安打卡): the resident presses the "平安" button once
 * every morning in a window of village time (default 07:00–10:00). No press by
 * the end of the window → a `remind` on the resident's devices; still none
 * after the grace period (default 30 min) → a `missedCheckIn` alarm to the
 * helper. A press after the alarm → `cleared`.
 *
 * Decisions (issue 3 leaves them open):
 * - An early press counts. Rural old people often get up at 5 for the fields;
 *   a press from `earlyPressMs` (default 2 h, i.e. 05:00) before the window
 *   start settles the day, so a resident who pressed at 06:30 and went out is
 *   not reminded at 10:00 in the field and alarmed at 10:30. A press earlier
 *   than that (a 01:00 toilet visit, the evening before) is too far from the
 *   morning to vouch for it and does not count. `earlyPressMs: 0` gives a
 *   strict window (06:59 does not count).
 * - A late press (after the window, before the alarm) settles the day: that is
 *   what the reminder is for. The window end itself is in the window.
 * - Several days in a row: the first missed day waits for the grace period
 *   after the reminder; from the 2nd consecutive day the alarm goes out at the
 *   window end together with the reminder, because yesterday's reminder
 *   already went unanswered and the silence is now more than 24 hours long.
 *   `details.daysMissed` counts the days (1, 2, 3, …) for the SMS and for
 *   the alerts side to escalate on. A press or away mode resets the count.
 * - A day is expected only if the monitor was watching (registered, not away)
 *   when its window opened: a resident registered or back from away at 08:00
 *   is first expected tomorrow, so nobody is alarmed on day one.
 * - Time is the pipeline's `atMs` (server receive time), never the device's
 *   `ts`: a device clock that is wrong cannot move a press to another day. An
 *   `atMs` ahead of the monitor's clock is taken as now (it cannot be later).
 *
 * One timer per resident (the next window end or alarm), re-armed on every
 * press — the zigbee2mqtt availability pattern.
 */
import type { Clock, TimerHandle } from '@kanjia/protocol';
import type { DetectorContext, Emit, Finding } from '../types.js';
import { derivedEventId } from './event-id.js';
import { MonitorConfigError } from './monitor-config-error.js';
import { addDays, formatMinuteOfDay, isValidTimeZone, localDateOf, parseHhMm, zonedTimeToUtc } from './zoned-time.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
/** A reminder later than this after the window end (a restart in the afternoon) is not sent. */
const LATE_REMINDER_LIMIT_MS = 10 * MINUTE_MS;

/** Defaults of issue 3: window 07:00–10:00 village time, 30 min grace after the reminder. */
export const CHECK_IN_DEFAULTS = Object.freeze({
  windowStart: '07:00',
  windowEnd: '10:00',
  graceMs: 30 * MINUTE_MS,
  /** How long before the window start a press still counts for the day (05:00 with the default window). */
  earlyPressMs: 2 * HOUR_MS,
});

export interface CheckInSubjectOptions {
  subjectId: string;
  /** IANA zone of the village (VillageInput.timezone), e.g. `Asia/Shanghai`. */
  timeZone: string;
  /** Devices to remind, first the one the alarm is about (the check-in or SOS button). At least one. */
  deviceIds: readonly string[];
  /** Local `HH:MM` at which the window opens. Default 07:00. */
  windowStart?: string;
  /** Local `HH:MM` at which the window closes, after windowStart on the same day. Default 10:00. */
  windowEnd?: string;
  /** Wait after the reminder before the alarm, on the first missed day. Default 30 min. */
  graceMs?: number;
  /** How long before windowStart a press still counts; 0 = strict window. Default 2 h. */
  earlyPressMs?: number;
  /** Restart: the last press the server recorded (receive time). */
  lastCheckInMs?: number;
  /** Restart: when this resident was first watched (registration or back from away). Default: now. */
  watchingSinceMs?: number;
  /** Restart: resident is away (no expectation). Default false. */
  away?: boolean;
  /** Restart: days missed in a row before today (CheckInSnapshot.consecutiveMissedDays). Default 0. */
  consecutiveMissedDays?: number;
}

/** What the server persists per resident so that a restart continues where it stopped. */
export interface CheckInSnapshot {
  subjectId: string;
  lastCheckInMs?: number;
  watchingSinceMs: number;
  away: boolean;
  consecutiveMissedDays: number;
}

interface Subject {
  subjectId: string;
  timeZone: string;
  deviceIds: string[];
  startMin: number;
  endMin: number;
  graceMs: number;
  earlyPressMs: number;
  lastCheckInMs: number | undefined;
  watchingSinceMs: number;
  away: boolean;
  consecutiveMissedDays: number;
  /** Local date (YYYY-MM-DD) being watched. */
  day: string;
  /** waiting: before the window end; reminded: reminder sent, grace running. */
  phase: 'waiting' | 'reminded';
  /** The alarm raised and not yet followed by a press, for `cleared`. */
  openAlarm: { eventId: string; deviceId: string; atMs: number } | undefined;
  timer: TimerHandle | undefined;
}

interface DayWindow {
  startMs: number;
  endMs: number;
  /** Earliest press that counts for the day. */
  earliestMs: number;
}

/** Watches the daily "平安" press of each registered resident. */
export class CheckInMonitor {
  private readonly clock: Clock;
  private readonly emit: Emit;
  private readonly subjects = new Map<string, Subject>();
  private started = false;

  constructor(context: DetectorContext) {
    this.clock = context.clock;
    this.emit = context.emit;
  }

  /** Arms a timer for every registered resident. Idempotent. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const s of this.subjects.values()) this.plan(s);
  }

  /** Clears every timer. Idempotent; start() resumes from the recorded state. */
  stop(): void {
    this.started = false;
    for (const s of this.subjects.values()) this.disarm(s);
  }

  /** Starts (or updates) watching a resident; throws MonitorConfigError on unusable options. */
  register(options: CheckInSubjectOptions): void {
    const startMin = parseHhMm(options.windowStart ?? CHECK_IN_DEFAULTS.windowStart);
    const endMin = parseHhMm(options.windowEnd ?? CHECK_IN_DEFAULTS.windowEnd);
    if (startMin === undefined || endMin === undefined) {
      throw new MonitorConfigError('MONITOR_BAD_TIME_OF_DAY', `check-in ${options.subjectId}: windowStart and windowEnd are HH:MM, 00:00–23:59`);
    }
    if (endMin <= startMin) {
      throw new MonitorConfigError('MONITOR_BAD_WINDOW', `check-in ${options.subjectId}: windowEnd must be after windowStart on the same day`);
    }
    if (!isValidTimeZone(options.timeZone)) {
      throw new MonitorConfigError('MONITOR_BAD_TIME_ZONE', `check-in ${options.subjectId}: unknown IANA time zone "${options.timeZone}"`);
    }
    if (options.deviceIds.length === 0) {
      throw new MonitorConfigError('MONITOR_NO_DEVICES', `check-in ${options.subjectId}: at least one device to remind is required`);
    }
    const graceMs = options.graceMs ?? CHECK_IN_DEFAULTS.graceMs;
    const earlyPressMs = options.earlyPressMs ?? CHECK_IN_DEFAULTS.earlyPressMs;
    if (!(graceMs >= 0) || !(earlyPressMs >= 0)) {
      throw new MonitorConfigError('MONITOR_BAD_DURATION', `check-in ${options.subjectId}: graceMs and earlyPressMs are ≥ 0`);
    }

    const now = this.clock.nowMs();
    const previous = this.subjects.get(options.subjectId);
    if (previous !== undefined) this.disarm(previous);
    const s: Subject = {
      subjectId: options.subjectId,
      timeZone: options.timeZone,
      deviceIds: [...options.deviceIds],
      startMin,
      endMin,
      graceMs,
      earlyPressMs,
      lastCheckInMs: maxDefined(previous?.lastCheckInMs, options.lastCheckInMs),
      watchingSinceMs: options.watchingSinceMs ?? previous?.watchingSinceMs ?? now,
      away: options.away ?? previous?.away ?? false,
      consecutiveMissedDays: options.consecutiveMissedDays ?? previous?.consecutiveMissedDays ?? 0,
      day: previous?.day ?? localDateOf(now, options.timeZone),
      phase: previous?.phase ?? 'waiting',
      openAlarm: previous?.openAlarm,
      timer: undefined,
    };
    this.subjects.set(s.subjectId, s);
    if (this.started) this.plan(s);
  }

  /** Stops watching a resident and clears its timer. */
  unregister(subjectId: string): void {
    const s = this.subjects.get(subjectId);
    if (s === undefined) return;
    this.disarm(s);
    this.subjects.delete(subjectId);
  }

  /** A "平安" press, at the server's receive time `atMs`. Returns false for an unknown resident. */
  checkIn(subjectId: string, atMs: number): boolean {
    const s = this.subjects.get(subjectId);
    if (s === undefined) return false;
    const t = Math.min(atMs, this.clock.nowMs());
    s.lastCheckInMs = maxDefined(s.lastCheckInMs, t);
    s.consecutiveMissedDays = 0;
    if (s.openAlarm !== undefined) {
      const minutes = Math.max(0, Math.round((t - s.openAlarm.atMs) / MINUTE_MS));
      this.emit({ type: 'cleared', kind: 'missedCheckIn', deviceId: s.openAlarm.deviceId, subjectId, atMs: t, reason: `check-in press ${minutes} min after the missed check-in alarm` });
      s.openAlarm = undefined;
    }
    if (this.started) this.plan(s);
    return true;
  }

  /**
   * Away mode (set by the resident or the duty staff): no check-in is expected
   * while away; an open missed-check-in alarm is noted as cleared. Back from
   * away, the next window that opens after `atMs` is expected.
   */
  setAway(subjectId: string, away: boolean, atMs: number): boolean {
    const s = this.subjects.get(subjectId);
    if (s === undefined) return false;
    const t = Math.min(atMs, this.clock.nowMs());
    if (away) {
      s.away = true;
      s.consecutiveMissedDays = 0;
      this.disarm(s);
      if (s.openAlarm !== undefined) {
        this.emit({ type: 'cleared', kind: 'missedCheckIn', deviceId: s.openAlarm.deviceId, subjectId, atMs: t, reason: 'away mode set: no check-in expected' });
        s.openAlarm = undefined;
      }
      return true;
    }
    if (s.away) {
      s.away = false;
      s.watchingSinceMs = Math.max(s.watchingSinceMs, t);
      s.day = localDateOf(this.clock.nowMs(), s.timeZone);
      s.phase = 'waiting';
    }
    if (this.started) this.plan(s);
    return true;
  }

  /** State to persist (on every press, away change and alarm) and pass back to register() after a restart. */
  snapshot(subjectId: string): CheckInSnapshot | undefined {
    const s = this.subjects.get(subjectId);
    if (s === undefined) return undefined;
    return {
      subjectId,
      ...(s.lastCheckInMs === undefined ? {} : { lastCheckInMs: s.lastCheckInMs }),
      watchingSinceMs: s.watchingSinceMs,
      away: s.away,
      consecutiveMissedDays: s.consecutiveMissedDays,
    };
  }

  private windowOf(s: Subject, day: string): DayWindow {
    const startMs = zonedTimeToUtc(day, s.startMin, s.timeZone);
    return { startMs, endMs: zonedTimeToUtc(day, s.endMin, s.timeZone), earliestMs: startMs - s.earlyPressMs };
  }

  private disarm(s: Subject): void {
    this.clock.clearTimeout(s.timer);
    s.timer = undefined;
  }

  /** Moves past settled or unexpected days and arms the one timer for the next due moment. */
  private plan(s: Subject): void {
    this.disarm(s);
    if (!this.started || s.away) return;
    // Bounded: every pass moves one day forward and windows move forward past watchingSinceMs.
    for (let guard = 0; guard < 1000; guard++) {
      const w = this.windowOf(s, s.day);
      const notExpected = w.startMs < s.watchingSinceMs;
      const settled = s.lastCheckInMs !== undefined && s.lastCheckInMs >= w.earliestMs;
      if (notExpected || settled) {
        s.day = addDays(s.day, 1);
        s.phase = 'waiting';
        continue;
      }
      const dueMs = s.phase === 'waiting' ? w.endMs : w.endMs + s.graceMs;
      s.timer = this.clock.setTimeout(() => this.onDue(s), dueMs - this.clock.nowMs());
      return;
    }
  }

  private onDue(s: Subject): void {
    s.timer = undefined;
    const now = this.clock.nowMs();
    const day = s.day;
    const w = this.windowOf(s, day);
    const alarmAtMs = s.consecutiveMissedDays >= 1 ? w.endMs : w.endMs + s.graceMs;
    // After a restart the window end may be long past: a reminder beeping in
    // the evening helps nobody, only the (deduplicated) alarm goes out.
    if (s.phase === 'waiting' && now - w.endMs < Math.max(s.graceMs, LATE_REMINDER_LIMIT_MS)) {
      this.emit({ type: 'remind', subjectId: s.subjectId, deviceIds: [...s.deviceIds], reason: 'checkIn', atMs: now });
    }
    if (now >= alarmAtMs) this.raise(s, day, now);
    else s.phase = 'reminded';
    this.plan(s);
  }

  private raise(s: Subject, day: string, now: number): void {
    s.consecutiveMissedDays += 1;
    const daysMissed = s.consecutiveMissedDays;
    const deviceId = s.deviceIds[0] ?? s.subjectId;
    const window = `${formatMinuteOfDay(s.startMin)}–${formatMinuteOfDay(s.endMin)}`;
    const graceMin = Math.round(s.graceMs / MINUTE_MS);
    const reason =
      daysMissed === 1
        ? `no check-in press in the ${window} window (${s.timeZone}) and none ${graceMin} min after the reminder`
        : `no check-in press for ${daysMissed} days in a row (window ${window}, ${s.timeZone}); raised at the window end without waiting for the grace period`;
    const details: NonNullable<Finding['details']> = {
      localDate: day,
      windowStart: formatMinuteOfDay(s.startMin),
      windowEnd: formatMinuteOfDay(s.endMin),
      timeZone: s.timeZone,
      daysMissed,
      escalated: daysMissed >= 2,
      graceMin: daysMissed === 1 ? graceMin : 0,
    };
    if (s.lastCheckInMs !== undefined) {
      details.lastCheckInMs = s.lastCheckInMs;
      details.hoursSinceLastCheckIn = Math.round(((now - s.lastCheckInMs) / HOUR_MS) * 10) / 10;
    }
    const eventId = derivedEventId('missedCheckIn', s.subjectId, day);
    this.emit({ type: 'alarm', finding: { kind: 'missedCheckIn', deviceId, subjectId: s.subjectId, eventId, eventTs: now, reason, details } });
    s.openAlarm = { eventId, deviceId, atMs: now };
    // The day is done: the next plan() moves on to tomorrow.
    s.day = addDays(day, 1);
    s.phase = 'waiting';
  }
}

function maxDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.max(a, b);
}
