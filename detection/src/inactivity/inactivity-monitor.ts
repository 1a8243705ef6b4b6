/**
 * Inactivity against a learned routine: one timer per person, reset whenever
 * they show a sign of life (zigbee2mqtt availability style). When the silence
 * outlasts what this person's routine allows at this time of day, the person's
 * devices are asked to remind ("are you all right? press the button"); if
 * nothing comes within the grace period, an `inactivity` alarm is raised; any
 * sign of life after the alarm clears it. The policy is described in index.ts.
 */
import type { Clock, TimerHandle } from '@kanjia/protocol';
import type { Activity, ActivitySource, Emit } from '../types.js';
import { InactivityError, resolveInactivityConfig, type InactivityConfig } from './config.js';
import { formatLocalDateTime, formatLocalTime, formatMinuteOfDay, isValidTimeZone, localDayMinute, nextLocalMinute, weekdayOfDay } from '@kanjia/protocol';
import { emptyRoutineState, RoutineModel, SLOT_MIN, type RoutineLimits, type RoutineState, type SilenceContext } from './routine-model.js';

const MIN = 60_000;
/** A non-door sign of life this soon after an exit-door event belongs to the passage (a PIR set off by the door itself). */
const PASSAGE_TAIL_MS = 15_000;
/**
 * A door opening this soon after a departure, with nothing in between, is
 * taken for another departure (a visitor left, then the person), not a
 * return: mistaking an absence for presence would raise a false alarm.
 */
const MIN_TRIP_MS = 5 * 60_000;
/**
 * A PIR that keeps seeing movement repeats "on" about once a minute (Zigbee
 * sensors: every 60–90 s); a repeat after a longer pause without an "off"
 * in between is not a re-trigger.
 */
const REPEAT_WINDOW_MS = 3 * 60_000;
/** A departure within this many minutes of the time of day of a past night away may be another one. */
const OVERNIGHT_DEPARTURE_SLACK_MIN = 60;
/** Minutes between two times of day, across midnight. */
const minutesApart = (a: number, b: number): number => Math.min(Math.abs(a - b), 1440 - Math.abs(a - b));
/** Leaving the house this soon after getting up from sleep is a night trip (the toilet outside), judged by the night-trip limit. */
const JUST_UP_MS = 20 * 60_000;

export const INACTIVITY_STATE_VERSION = 1;

/** What the monitor persists per person (JSON). */
export interface InactivityState {
  version: typeof INACTIVITY_STATE_VERSION;
  subjectId: string;
  timeZone: string;
  /** Last sign of life (server receive time), null before the first. */
  lastActivityMs: number | null;
  /** Start of the silence being watched (the last sign of life, or when away mode ended / monitoring began). */
  silenceSinceMs: number;
  /** Last value of every sensor seen, when it last changed and when it last reported. */
  sensors: Record<string, { source: ActivitySource; value: 0 | 1; edgeMs: number; lastMs: number; reportsOff?: true }>;
  /** The last passage through an exit door: `departure` while the person is taken to be out. */
  passage: { firstMs: number; lastMs: number; kind: 'departure' | 'return' } | null;
  /** Away mode set by the resident or the duty staff. */
  away: { sinceMs: number } | null;
  /** Where the current silence stands. */
  phase:
    | { kind: 'watch' }
    | { kind: 'reminded'; atMs: number }
    | { kind: 'alarmed'; atMs: number; eventId: string }
    /** A not-back-home notice was raised for the current absence. */
    | { kind: 'noticed'; atMs: number; eventId: string };
  /** A bed sensor has reported. */
  bedSeen: boolean;
  /** When the person last got up from a silence taken for sleep lasting at least `sleepPieceMinMs` (null: not yet). */
  lastSleepEndMs: number | null;
  /** The sensor of the last sign of life (sensor id, or the source without one). */
  lastActivityKey?: string;
  routine: RoutineState;
}

export interface InactivityRegistration {
  subjectId: string;
  /** IANA zone of the person's home, e.g. `Asia/Shanghai`. */
  timeZone: string;
  /** Devices to remind and to name in findings; `deviceIds[0]` is the person's button. */
  deviceIds: string[];
  /**
   * A state from exportState() (typically parsed from storage, hence
   * `unknown`), to continue after a restart. Checked here: an unusable state
   * throws INVALID_STATE.
   */
  state?: unknown;
}

/** The rule the monitor applies to the current silence. */
export interface InactivityWatch {
  context: SilenceContext;
  /** Start of the silence. */
  sinceMs: number;
  /** When the reminder is due; null: no limit (away mode). */
  remindAtMs: number | null;
  /** remindAtMs − sinceMs. */
  limitMs: number | null;
  /** The limit comes from this person's learned routine (false: the fixed limits for a new installation). */
  learned: boolean;
  /** Why this limit, in words (for the finding's reason). */
  basis: string;
  /** For `out`: when the person left. */
  departureMs?: number;
  departedAtNight?: boolean;
  /** The bed sensor said "occupied" when the silence began. */
  inBed: boolean;
  /**
   * Out of the house, not a silent house: at `remindAtMs` a not-back-home
   * (`notBack`) notice is raised, without a reminder on the devices at home,
   * instead of the inactivity alarm.
   */
  notice?: boolean;
  /**
   * The alarm after an unanswered reminder comes no earlier than this (the
   * silence must also outlast the longest ordinary one of this home).
   */
  alarmNotBeforeMs?: number;
}

/** What the rules need to know of a person. */
interface PersonCore {
  timeZone: string;
  state: InactivityState;
  routine: RoutineModel;
}

interface Person extends PersonCore {
  subjectId: string;
  deviceIds: string[];
  watch: InactivityWatch;
  timer: TimerHandle | undefined;
}

/** Sources whose "off" is often automatic (a PIR timing out, a rice cooker finishing): only "on" is a sign of life. */
const ON_ONLY: ReadonlySet<ActivitySource> = new Set(['motion', 'appliance', 'water']);

function inWindow(minute: number, startMin: number, endMin: number): boolean {
  return startMin <= endMin ? minute >= startMin && minute < endMin : minute >= startMin || minute < endMin;
}

const fmtMin = (ms: number) => Math.round(ms / MIN);

/** Watches every registered person for a silence their routine does not explain. */
export class InactivityMonitor {
  private readonly clock: Clock;
  private readonly emit: Emit;
  private readonly config: Readonly<InactivityConfig>;
  private readonly persons = new Map<string, Person>();
  private started = false;

  constructor(options: { clock: Clock; emit: Emit; config?: Partial<InactivityConfig> }) {
    this.clock = options.clock;
    this.emit = options.emit;
    this.config = resolveInactivityConfig(options.config);
  }

  /** Arms a timer for every registered person. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const p of this.persons.values()) this.arm(p);
  }

  /** Clears every timer; idempotent. State is kept (exportState still works). */
  stop(): void {
    this.started = false;
    for (const p of this.persons.values()) this.disarm(p);
  }

  /** Adds a person (or replaces their devices/zone; a given state replaces the learned one). */
  register(reg: InactivityRegistration): void {
    if (!isValidTimeZone(reg.timeZone)) throw new InactivityError('INVALID_TIME_ZONE', `unknown IANA time zone "${reg.timeZone}" for ${reg.subjectId}`);
    if (reg.deviceIds.length === 0) throw new InactivityError('NO_DEVICES', `${reg.subjectId}: at least one device (the button) is needed to remind and to raise the alarm on`);
    const existing = this.persons.get(reg.subjectId);
    let state: InactivityState;
    if (reg.state !== undefined) state = checkState(reg.state, reg.subjectId);
    else if (existing !== undefined) state = existing.state;
    else state = newState(reg.subjectId, reg.timeZone, this.clock.nowMs());
    state.timeZone = reg.timeZone;
    if (existing !== undefined) this.disarm(existing);
    const core: PersonCore = { timeZone: reg.timeZone, state, routine: new RoutineModel(this.config, reg.timeZone, state.routine) };
    const p: Person = { ...core, subjectId: reg.subjectId, deviceIds: [...reg.deviceIds], watch: this.computeWatch(core), timer: undefined };
    this.persons.set(reg.subjectId, p);
    if (this.started) this.arm(p);
  }

  /** Forgets a person and clears their timer. */
  unregister(subjectId: string): void {
    const p = this.persons.get(subjectId);
    if (p === undefined) return;
    this.disarm(p);
    this.persons.delete(subjectId);
  }

  /**
   * One sensor event of the person's home. `activity.atMs` must be the
   * server's receive time (a device clock may be wrong); times in the future
   * of the monitor's clock are taken as now. Returns whether it counted as a
   * sign of life (false for a person not registered).
   */
  observe(subjectId: string, activity: Activity): boolean {
    const p = this.persons.get(subjectId);
    if (p === undefined) return false; // not watched (no devices yet): nothing to learn or to alarm on
    const now = this.clock.nowMs();
    const atMs = Math.min(activity.atMs, now);
    if (!Number.isFinite(atMs)) return false;
    const s = p.state;
    if (!this.isSignOfLife(p, activity, atMs)) return false;
    if (s.lastActivityMs !== null && atMs < s.lastActivityMs) return true; // late arrival: already covered by a later sign of life

    // Learn from the silence that just ended, as it was judged when it began.
    const w = p.watch;
    if (s.lastActivityMs !== null && w.sinceMs === s.lastActivityMs) {
      p.routine.recordGap(w.sinceMs, atMs, w.context, {
        inBed: w.inBed,
        ...(s.lastActivityKey !== undefined ? { by: s.lastActivityKey } : {}),
        ...(w.departureMs !== undefined ? { departureMs: w.departureMs } : {}),
        ...(w.departedAtNight !== undefined ? { departedAtNight: w.departedAtNight } : {}),
      });
    }
    if (w.context === 'sleep' && s.lastActivityMs !== null && w.sinceMs === s.lastActivityMs && atMs - w.sinceMs >= this.config.sleepPieceMinMs) s.lastSleepEndMs = atMs;
    this.updatePassage(p, activity, atMs);
    s.lastActivityMs = atMs;
    s.lastActivityKey = activity.sensorId ?? activity.source;
    s.silenceSinceMs = Math.max(s.silenceSinceMs, atMs);
    p.routine.markActive(atMs);
    p.routine.noteEveningSensor(s.lastActivityKey, atMs);
    p.routine.closeNights(atMs);

    const phase = s.phase;
    s.phase = { kind: 'watch' };
    p.watch = this.computeWatch(p);
    this.arm(p);
    if (phase.kind === 'alarmed') {
      this.emit({
        type: 'cleared',
        kind: 'inactivity',
        deviceId: this.buttonOf(p),
        subjectId,
        atMs,
        reason: `sign of life (${activity.source}) after ${fmtMin(atMs - phase.atMs)} min of alarm`,
      });
    } else if (phase.kind === 'noticed') {
      this.emit({ type: 'cleared', kind: 'notBack', deviceId: this.buttonOf(p), subjectId, atMs, reason: `back home (${activity.source}) ${fmtMin(atMs - phase.atMs)} min after the notice` });
    }
    return true;
  }

  /** Away mode, set or cleared by the resident or the duty staff at `atMs`. Returns false for a person not registered. */
  setAway(subjectId: string, away: boolean, atMs: number): boolean {
    const p = this.persons.get(subjectId);
    if (p === undefined) return false;
    const s = p.state;
    const at = Math.min(atMs, this.clock.nowMs());
    const phase = s.phase;
    if (away) {
      if (s.away !== null) return true;
      s.away = { sinceMs: at };
    } else {
      if (s.away === null) return true;
      s.away = null;
      // Whoever cleared it knows the person is back: watch the silence from now, home.
      s.passage = null;
      s.silenceSinceMs = Math.max(s.silenceSinceMs, at);
    }
    s.phase = { kind: 'watch' };
    p.watch = this.computeWatch(p);
    this.arm(p);
    if (phase.kind === 'alarmed' || phase.kind === 'noticed') {
      this.emit({ type: 'cleared', kind: phase.kind === 'alarmed' ? 'inactivity' : 'notBack', deviceId: this.buttonOf(p), subjectId, atMs: at, reason: away ? 'away mode set' : 'away mode ended' });
    }
    return true;
  }

  /** The person's state as JSON-serialisable data (learned routine, last activity, away flag, phase); undefined if not registered. */
  exportState(subjectId: string): InactivityState | undefined {
    const p = this.persons.get(subjectId);
    return p === undefined ? undefined : structuredClone(p.state);
  }

  /** The rule applied to the person's current silence (for dashboards, logs and tests). */
  watchOf(subjectId: string): InactivityWatch | undefined {
    const p = this.persons.get(subjectId);
    return p === undefined ? undefined : { ...p.watch };
  }

  /** The learned figures for the person, as of now. */
  routineOf(subjectId: string): RoutineLimits | undefined {
    const p = this.persons.get(subjectId);
    return p === undefined ? undefined : p.routine.limitsAt(this.clock.nowMs(), p.state.bedSeen);
  }

  private buttonOf(p: Person): string {
    return p.deviceIds[0] ?? p.subjectId;
  }

  /**
   * Whether an event says someone is alive and moving. A change of a door,
   * cupboard, bed or chair counts both ways; motion, power and water count only
   * when they switch on (the off is a timeout or a machine finishing). A
   * repeated "on" counts only as a PIR re-triggering does: within
   * REPEAT_WINDOW_MS of the sensor's previous report and less than `stuckOnMs`
   * after it switched on; otherwise the sensor is stuck (a pet, a fan, a
   * fault) until it reports "off". A repeated door/bed state is a heartbeat.
   */
  private isSignOfLife(p: Person, a: Activity, atMs: number): boolean {
    if (a.source === 'bed' && !p.state.bedSeen) {
      p.state.bedSeen = true;
      p.routine.invalidate();
    }
    if (a.value === undefined || a.source === 'button') return true;
    const key = a.sensorId ?? a.source;
    const prev = p.state.sensors[key];
    const next = prev === undefined || prev.value !== a.value ? { source: a.source, value: a.value, edgeMs: atMs, lastMs: atMs } : { ...prev, lastMs: atMs };
    // A sensor that has reported an "off" is one whose "on" still held means it still sees motion.
    p.state.sensors[key] = a.value === 0 || prev?.reportsOff === true ? { ...next, reportsOff: true } : next;
    if (ON_ONLY.has(a.source)) {
      if (a.value === 0) return false;
      if (prev?.value === 1) return atMs - prev.lastMs <= REPEAT_WINDOW_MS && atMs - prev.edgeMs < this.config.stuckOnMs;
      return true;
    }
    return prev === undefined || prev.value !== a.value;
  }

  private inBed(p: PersonCore): boolean {
    for (const v of Object.values(p.state.sensors)) if (v.source === 'bed' && v.value === 1) return true;
    return false;
  }

  /** Until when a motion sensor held "on" since the silence began counts as motion (null: none is). */
  private motionHeldUntil(p: PersonCore, sinceMs: number): number | null {
    let until: number | null = null;
    for (const v of Object.values(p.state.sensors)) {
      if (v.source !== 'motion' || v.value !== 1 || v.lastMs !== v.edgeMs || v.reportsOff !== true) continue;
      const end = v.edgeMs + this.config.heldMotionMaxMs;
      if (end > sinceMs && (until === null || end > until)) until = end;
    }
    return until;
  }

  /** A seat sensor says someone sits. */
  private seated(p: PersonCore): boolean {
    for (const v of Object.values(p.state.sensors)) if (v.source === 'chair' && v.value === 1) return true;
    return false;
  }

  /** `dueMs`, or the end of the quiet hours of the village if it falls in them (a notice is not texted at night). */
  private decentHour(tz: string, dueMs: number): number {
    const c = this.config;
    const { minute } = localDayMinute(tz, dueMs);
    return inWindow(minute, c.noticeQuietStartMin, c.noticeQuietEndMin) ? nextLocalMinute(tz, dueMs, c.noticeQuietEndMin) : dueMs;
  }

  /**
   * Going out: a passage through an exit door is a departure when the person
   * was taken to be home, and a return when they were taken to be out (for
   * at least MIN_TRIP_MS). Each
   * opening of the door begins a passage; its closing (or a momentary door
   * event) within `passageMs` belongs to it. Any other sign of life after the
   * passage's last minute (someone walking past a motion sensor) means
   * someone is home.
   */
  private updatePassage(p: Person, a: Activity, atMs: number): void {
    const s = p.state;
    const passage = s.passage;
    if (a.exit === true && a.source === 'door') {
      if (passage !== null && a.value !== 1 && atMs - passage.lastMs <= this.config.passageMs) passage.lastMs = atMs;
      else s.passage = { firstMs: atMs, lastMs: atMs, kind: passage?.kind === 'departure' && atMs - passage.lastMs >= MIN_TRIP_MS ? 'return' : 'departure' };
      return;
    }
    if (passage !== null && atMs <= passage.lastMs + PASSAGE_TAIL_MS) return;
    s.passage = null;
  }

  /** The rule for the silence that began at `state.silenceSinceMs`. */
  private computeWatch(p: PersonCore): InactivityWatch {
    const c = this.config;
    const s = p.state;
    const t0 = s.silenceSinceMs;
    const tz = p.timeZone;
    const L = p.routine.limitsAt(Math.max(t0, this.clock.nowMs()), s.bedSeen);
    const sleep = L.sleep;
    const windowStart = sleep?.windowStartMin ?? c.unlearnedSleepStartMin;
    const { day: t0Day, minute } = localDayMinute(tz, t0);
    // The morning this silence leads to (today's if it began before noon): a weekly lie-in has its own getting-up time.
    const lieIn = sleep?.lateMornings[weekdayOfDay(t0Day + (minute < 720 ? 0 : 1))] ?? null;
    const usualWake = lieIn?.usualWakeMin ?? sleep?.usualWakeMin ?? c.unlearnedWakeMin;
    const wakeRemind = lieIn?.wakeRemindMin ?? sleep?.wakeRemindMin ?? c.unlearnedWakeRemindMin;
    const core = sleep === null ? { startMin: c.unlearnedCoreNightStartMin, endMin: c.unlearnedCoreNightEndMin } : sleep.coreNight;
    const inCoreNight = (m: number) => core !== null && inWindow(m, core.startMin, core.endMin);
    const departure = s.passage?.kind === 'departure' ? s.passage : null;
    const inBed = this.inBed(p);
    const noActivitySinceAway = s.away !== null && (s.lastActivityMs === null || s.lastActivityMs < s.away.sinceMs);

    if (s.away !== null && (noActivitySinceAway || departure !== null)) {
      return { context: 'away', sinceMs: t0, remindAtMs: null, limitMs: null, learned: L.learned, basis: 'away mode', inBed };
    }
    const at = (remindAtMs: number) => ({ remindAtMs, limitMs: remindAtMs - t0 });

    if (departure !== null) {
      const dep = departure.firstMs;
      const depMinute = localDayMinute(tz, dep).minute;
      // Leaving in the core of the night, or straight out of bed before the usual getting-up time (the toilet
      // outside): an urgent matter if not back. Getting up at 12:25 and going out at 12:44 is a day out.
      const justUp = s.lastSleepEndMs !== null && dep - s.lastSleepEndMs <= JUST_UP_MS && inWindow(localDayMinute(tz, s.lastSleepEndMs).minute, windowStart, usualWake);
      const night = inCoreNight(depMinute) || justUp;
      const base = { context: 'out' as const, sinceMs: t0, learned: L.learned, departureMs: dep, departedAtNight: night, inBed };
      const left = `went out at ${formatLocalTime(tz, dep)}`;
      if (night) {
        const limit = L.nightOutLimitMs ?? c.unlearnedNightOutLimitMs;
        return { ...base, ...at(dep + limit), basis: `${left}, during the night, and not back after ${fmtMin(limit)} min` };
      }
      // Out by day: not a silent house. Not back well past their own longest trips is a not-back-home notice,
      // held until a decent hour, never the urgent alarm.
      const notice = (dueMs: number, basis: string): InactivityWatch => {
        const remindAtMs = this.decentHour(tz, dueMs);
        const held = remindAtMs > dueMs ? `; held until ${formatLocalTime(tz, remindAtMs)}` : '';
        return { ...base, remindAtMs, limitMs: remindAtMs - t0, notice: true, basis: `${basis}${held}` };
      };
      // A night away begins at the hours this person has left for one before (±1 h); leaving at another hour
      // (after a visitor has gone, say) is judged as an ordinary trip out.
      const likeOvernight = L.overnightDepartureMins.some((m) => minutesApart(m, depMinute) <= OVERNIGHT_DEPARTURE_SLACK_MIN);
      if (L.overnightUsual && likeOvernight) {
        const limit = Math.max(c.overnightAwayMaxMs, L.longestOvernightMs * 1.25);
        return notice(dep + limit, `${left} and not back after ${Math.round(limit / 3_600_000)} h (stays away overnight at times)`);
      }
      const limit = L.outLimitMs ?? c.unlearnedOutLimitMs;
      const backByMin = sleep !== null ? (sleep.lateBedMin + c.backByAfterLateBedMs / MIN) % 1440 : c.unlearnedBackByMin;
      const backBy = Math.max(nextLocalMinute(tz, dep, backByMin), dep + 60 * MIN);
      if (backBy < dep + limit) return notice(backBy, `${left} and not back by ${formatMinuteOfDay(backByMin)} (never stays away overnight)`);
      return notice(dep + limit, `${left} and not back after ${(limit / 3_600_000).toFixed(1)} h`);
    }

    // States: a seat or a bed occupied is someone sitting or lying, not a silent house.
    const seated = !inBed && this.seated(p);
    if (seated) {
      // By the hour the sitting began (after lunch is not the evening in front of the television); but a sitting that
      // reaches the hours this person ordinarily spends seated is not unusual by its length alone: the longest sitting.
      const ownSlot = L.seatedSlotLimitMs[Math.floor(minute / SLOT_MIN)] ?? null;
      const dueMinute = ownSlot === null ? 0 : localDayMinute(tz, t0 + ownSlot).minute;
      const reachesUsual = ownSlot !== null && L.seatedUsually[Math.floor(dueMinute / SLOT_MIN)] === true && L.seatedLimitMs !== null && L.seatedLimitMs > ownSlot;
      const bySlot = reachesUsual ? null : ownSlot;
      const learnedSeat = bySlot ?? L.seatedLimitMs;
      const limit = learnedSeat ?? c.unlearnedSeatedLimitMs;
      const why = bySlot !== null ? `, the longest this person ordinarily sits when sitting down around ${formatMinuteOfDay(minute)}` : learnedSeat !== null ? ', the longest this person ordinarily sits' : ' (fixed limit while the routine is learned)';
      return { context: 'seated', sinceMs: t0, ...at(t0 + limit), learned: learnedSeat !== null, inBed, basis: `seated and silent beyond ${fmtMin(limit)} min${why}` };
    }

    // The half hour's own learned limit, else (daytime) the home's floor: no silence is judged below how long this home's ordinary silences are.
    const slotOwn = L.learned ? L.slotLimitMs[Math.floor(minute / SLOT_MIN)] ?? null : null;
    // ... and never below what ordinarily follows a sign of life from this sensor (a door-frame PIR that does not see the sofa).
    const keyFloor = s.lastActivityKey !== undefined ? L.keyFloorMs[s.lastActivityKey] ?? null : null;
    const slotBase = slotOwn ?? L.homeFloorMs;
    const slotLimit = keyFloor !== null && (slotBase === null || keyFloor > slotBase) ? keyFloor : slotBase;
    const byKey = keyFloor !== null && slotLimit === keyFloor ? `, the longest ordinary silence after ${s.lastActivityKey ?? ''}` : '';
    const inSleepWindow = inWindow(minute, windowStart, usualWake);
    // This morning's "not up by" reminder, while it is still ahead (the silence began after the usual getting-up time);
    // only once the mornings are learned (until then a late riser is not woken by a fixed time).
    const morningRemindMs = sleep !== null && inWindow(minute, usualWake, wakeRemind) ? nextLocalMinute(tz, t0, wakeRemind) : null;
    if (inBed && !inWindow(minute, (windowStart + 1440 - 180) % 1440, usualWake)) {
      // Lying on the bed in the daytime: a lie-down, judged by what this person does at this hour (a nap after lunch,
      // not at 08:00) and never beyond their longest lie-down.
      const learnedRest = L.restLimitMs === null ? null : slotOwn === null ? L.restLimitMs : Math.min(L.restLimitMs, Math.max(slotOwn, c.restLimitMinMs));
      const limit = learnedRest ?? c.unlearnedRestLimitMs;
      // Still in bed after the night, not up since (a stir, a reminder answered from bed): a lie-in, not an afternoon
      // nap. It is judged by this morning's reminder while that is ahead, then asked again after the shortest lie-down.
      const lyingIn = s.lastSleepEndMs !== null && t0 - s.lastSleepEndMs <= JUST_UP_MS && minute < 720;
      const lieInAt = lyingIn && sleep !== null ? morningRemindMs ?? t0 + c.restLimitMinMs : null;
      if (lieInAt !== null && lieInAt < t0 + limit) {
        return { context: 'rest', sinceMs: t0, ...at(lieInAt), learned: true, inBed, basis: `still in bed after the night, not up since ${formatLocalTime(tz, s.lastSleepEndMs ?? t0)}, and silent beyond ${fmtMin(lieInAt - t0)} min` };
      }
      return { context: 'rest', sinceMs: t0, ...at(t0 + limit), learned: learnedRest !== null, inBed, basis: `lying on the bed in the daytime and silent beyond ${fmtMin(limit)} min` };
    }
    if (sleep?.bedReliable === true) {
      // A bed sensor that has proved itself tells sleep from silence: in bed in the evening or at night is sleep ...
      if (inBed && inWindow(minute, (windowStart + 1440 - 180) % 1440, usualWake)) return this.sleepWatch(p, t0, wakeRemind, usualWake, sleep !== null, inBed);
      // ... out of bed in the core of the night and silent is not.
      if (!inBed && inCoreNight(minute)) {
        const limit = slotOwn ?? c.nightAwakeLimitMs;
        return { context: 'nightAwake', sinceMs: t0, ...at(t0 + limit), learned: slotOwn !== null, inBed, basis: `out of bed in the night and silent beyond ${fmtMin(limit)} min` };
      }
      if (!inBed && inSleepWindow) {
        const limit = slotLimit ?? c.unlearnedDayLimitMs;
        return { context: 'day', sinceMs: t0, ...at(t0 + limit), learned: slotLimit !== null, inBed, basis: `up (not in bed) and silent beyond ${fmtMin(limit)} min` };
      }
    } else if (inSleepWindow || (inBed && inWindow(minute, (windowStart + 1440 - 180) % 1440, usualWake))) {
      // Silent in the evening, but not after the way to bed (the bedroom, the bed): dozing in the chair, or a collapse.
      const notToBed = !inBed && sleep?.bedGoingKeys != null && s.lastActivityKey !== undefined && !sleep.bedGoingKeys.includes(s.lastActivityKey);
      if (notToBed && !inCoreNight(minute)) {
        const limit = slotLimit ?? c.eveningNotToBedLimitMs;
        return { context: 'day', sinceMs: t0, inBed, ...at(t0 + limit), learned: slotLimit !== null, basis: `silent in the evening beyond ${fmtMin(limit)} min, and not after going to bed` };
      }
      return this.sleepWatch(p, t0, wakeRemind, usualWake, sleep !== null, inBed);
    }
    const limit = slotLimit ?? c.unlearnedDayLimitMs;
    // One sign of life ended the night and none followed (out of bed and down at once, or a sensor that came on by
    // itself): not a day begun. This morning's "not up by" reminder still stands when it comes before the daytime limit.
    if (!inBed && s.lastSleepEndMs === t0 && morningRemindMs !== null && morningRemindMs < t0 + limit) {
      return { context: 'day', sinceMs: t0, inBed, ...at(morningRemindMs), learned: true, basis: `one sign of life at ${formatLocalTime(tz, t0)} after the night and none since: not up by ${formatMinuteOfDay(wakeRemind)} (usually up at ${formatMinuteOfDay(usualWake)})` };
    }
    // Up and about by day: an SMS only once the silence outlasts any this home has had in ordinary life lately.
    const longest = slotLimit !== null && L.longestFreeMs !== null ? Math.min(L.longestFreeMs + c.gapMarginMs, c.alarmAfterLongestMaxMs) : null;
    const alarmNotBefore = longest !== null && longest > limit + c.remindGraceMs ? { alarmNotBeforeMs: t0 + longest } : {};
    const longer = longest !== null && longest > limit + c.remindGraceMs ? ` and beyond ${fmtMin(longest)} min, longer than any ordinary silence of the last ${c.historyDays} days` : '';
    return {
      context: 'day',
      sinceMs: t0,
      inBed,
      ...at(t0 + limit),
      ...alarmNotBefore,
      learned: slotLimit !== null,
      basis:
        slotLimit !== null
          ? `silent beyond ${fmtMin(limit)} min, the most this person's routine allows after ${formatMinuteOfDay(minute)}${byKey}${longer}`
          : `silent beyond ${fmtMin(limit)} min (fixed daytime limit while the routine is learned)`,
    };
  }

  private sleepWatch(p: PersonCore, t0: number, wakeRemind: number, usualWake: number, learned: boolean, inBed: boolean): InactivityWatch {
    // Until learned, a late riser (in bed at 02:00, up at 12:00) is not woken by the fixed getting-up time.
    const remindAt = Math.max(nextLocalMinute(p.timeZone, t0, wakeRemind), learned ? 0 : t0 + this.config.unlearnedSleepMaxMs);
    if (!learned && remindAt > nextLocalMinute(p.timeZone, t0, wakeRemind)) {
      return { context: 'sleep', sinceMs: t0, inBed, remindAtMs: remindAt, limitMs: remindAt - t0, learned, basis: `asleep for ${fmtMin(remindAt - t0)} min and not up (fixed limit while the routine is learned)` };
    }
    return {
      context: 'sleep',
      sinceMs: t0,
      inBed,
      remindAtMs: remindAt,
      limitMs: remindAt - t0,
      learned,
      basis: learned ? `not up by ${formatMinuteOfDay(wakeRemind)} (usually up at ${formatMinuteOfDay(usualWake)})` : `not up by ${formatMinuteOfDay(wakeRemind)} (fixed limit while the routine is learned)`,
    };
  }

  private disarm(p: Person): void {
    if (p.timer !== undefined) this.clock.clearTimeout(p.timer);
    p.timer = undefined;
  }

  /** The one timer of a person: the reminder, or the alarm after a reminder. */
  private arm(p: Person): void {
    this.disarm(p);
    if (!this.started) return;
    const phase = p.state.phase;
    const now = this.clock.nowMs();
    if (phase.kind === 'alarmed' || phase.kind === 'noticed') return;
    if (phase.kind === 'reminded') {
      const dueMs = Math.max(phase.atMs + this.config.remindGraceMs, p.watch.alarmNotBeforeMs ?? 0);
      p.timer = this.clock.setTimeout(() => this.fireAlarm(p), dueMs - now);
      return;
    }
    const remindAt = p.watch.remindAtMs;
    if (remindAt === null) return;
    p.timer = this.clock.setTimeout(() => (p.watch.notice === true ? this.fireNotice(p) : this.fireRemind(p)), remindAt - now);
  }

  /** Not back home: one notice (no reminder at an empty home, no alarm). */
  private fireNotice(p: Person): void {
    p.timer = undefined;
    const now = this.clock.nowMs();
    const w = p.watch;
    const departureMs = w.departureMs ?? w.sinceMs;
    const eventId = `notBack:${p.subjectId}:${departureMs}`;
    p.state.phase = { kind: 'noticed', atMs: now, eventId };
    const silenceMin = fmtMin(now - departureMs);
    this.emit({
      type: 'alarm',
      finding: {
        kind: 'notBack',
        deviceId: this.buttonOf(p),
        subjectId: p.subjectId,
        eventId,
        eventTs: now,
        reason: `not back home ${silenceMin} min after leaving: ${w.basis}`,
        details: {
          silenceMin,
          limitMin: w.limitMs === null ? -1 : fmtMin(w.limitMs),
          context: 'out',
          learned: w.learned,
          lastActivity: formatLocalDateTime(p.timeZone, w.sinceMs),
          wentOut: formatLocalDateTime(p.timeZone, departureMs),
        },
      },
    });
  }

  private fireRemind(p: Person): void {
    p.timer = undefined;
    const now = this.clock.nowMs();
    // A PIR held "on" (a sensor that reports only changes: no repeats, no "off" yet) is motion still being seen, for
    // up to heldMotionMaxMs: the silence is counted from then. Only for the limits that are durations of silence up and
    // about (the night's limit is a time of the morning; a seat or bed is a state of its own).
    const w = p.watch;
    const heldUntil = w.context === 'day' || w.context === 'nightAwake' ? this.motionHeldUntil(p, w.sinceMs) : null;
    if (w.limitMs !== null && heldUntil !== null && heldUntil + w.limitMs > now) {
      p.timer = this.clock.setTimeout(() => this.fireRemind(p), heldUntil + w.limitMs - now);
      return;
    }
    p.state.phase = { kind: 'reminded', atMs: now };
    this.arm(p);
    this.emit({ type: 'remind', subjectId: p.subjectId, deviceIds: [...p.deviceIds], reason: 'inactivity', atMs: now });
  }

  private fireAlarm(p: Person): void {
    p.timer = undefined;
    const now = this.clock.nowMs();
    const s = p.state;
    const w = p.watch;
    const eventId = `inactivity:${p.subjectId}:${w.sinceMs}`;
    s.phase = { kind: 'alarmed', atMs: now, eventId };
    const silenceMin = fmtMin(now - w.sinceMs);
    const details: Record<string, number | string | boolean> = {
      silenceMin,
      limitMin: w.limitMs === null ? -1 : fmtMin(w.limitMs),
      graceMin: fmtMin(this.config.remindGraceMs),
      context: w.context,
      learned: w.learned,
      lastActivity: formatLocalDateTime(p.timeZone, w.sinceMs),
    };
    if (w.departureMs !== undefined) details.wentOut = formatLocalDateTime(p.timeZone, w.departureMs);
    this.emit({
      type: 'alarm',
      finding: {
        kind: 'inactivity',
        deviceId: this.buttonOf(p),
        subjectId: p.subjectId,
        eventId,
        eventTs: now,
        reason: `no sign of life for ${silenceMin} min since ${formatLocalTime(p.timeZone, w.sinceMs)}: ${w.basis}; no answer to the reminder`,
        details,
      },
    });
  }
}

function newState(subjectId: string, timeZone: string, nowMs: number): InactivityState {
  return {
    version: INACTIVITY_STATE_VERSION,
    subjectId,
    timeZone,
    lastActivityMs: null,
    silenceSinceMs: nowMs,
    sensors: {},
    passage: null,
    away: null,
    phase: { kind: 'watch' },
    bedSeen: false,
    lastSleepEndMs: null,
    routine: emptyRoutineState(),
  };
}

/** Light structural check of a persisted state (it crossed a process boundary). */
function checkState(raw: unknown, subjectId: string): InactivityState {
  const problems: string[] = [];
  const v = raw as Partial<InactivityState> | null;
  if (v === null || typeof v !== 'object') throw new InactivityError('INVALID_STATE', `${subjectId}: state must be an object`);
  if (v.version !== INACTIVITY_STATE_VERSION) problems.push(`version: expected ${INACTIVITY_STATE_VERSION}, got ${String(v.version)}`);
  if (v.subjectId !== subjectId) problems.push(`subjectId: the state is of ${String(v.subjectId)}`);
  if (!(v.lastActivityMs === null || Number.isFinite(v.lastActivityMs))) problems.push('lastActivityMs: number or null');
  if (!Number.isFinite(v.silenceSinceMs)) problems.push('silenceSinceMs: number');
  if (typeof v.sensors !== 'object' || v.sensors === null) problems.push('sensors: object');
  if (typeof v.phase !== 'object' || v.phase === null || !['watch', 'reminded', 'alarmed', 'noticed'].includes(v.phase.kind)) problems.push('phase: watch | reminded | alarmed | noticed');
  const r = v.routine;
  if (typeof r !== 'object' || r === null || !Array.isArray(r.activeDays) || !Array.isArray(r.nights) || !Array.isArray(r.trips) || !Array.isArray(r.pieces) || typeof r.dayGaps !== 'object') {
    problems.push('routine: activeDays, dayGaps, pieces, nights, trips');
  }
  if (typeof r === 'object' && r !== null && r.eveningKeys !== undefined && !Array.isArray(r.eveningKeys)) problems.push('routine.eveningKeys: array');
  if (problems.length > 0) throw new InactivityError('INVALID_STATE', `${subjectId}: unusable inactivity state: ${problems.join('; ')}`);
  const state = structuredClone(raw as InactivityState);
  state.lastSleepEndMs ??= null;
  state.bedSeen ??= false;
  state.passage ??= null;
  state.away ??= null;
  return state;
}
