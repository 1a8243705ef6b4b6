/**
 * Running the live InactivityMonitor over a stream of sensor events in
 * accelerated time (FakeClock), and the baseline it is judged against: the
 * programmes' rule of an alarm after 12 h without a sensor firing.
 */
import { InactivityMonitor, type DetectorOutput, type InactivityConfig, type InactivityState } from '@kanjia/detection';
import { firstIndexAtOrAfter, toActivity, type SensorEvent } from '@kanjia/firmware-sim';
import { FakeClock } from '@kanjia/protocol';
import { isNoticeKind } from './statistics.js';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;
/** The programmes' rule: an alarm after this long without a sensor firing. */
export const BASELINE_SILENCE_MS = 12 * HOUR;
const SUBJECT = 'p';
const BUTTON = 'btn';

/** The monitor's state at a moment (a cut or an injected incapacitation). */
export interface Snapshot {
  atMs: number;
  state: InactivityState;
}

/** A finding the monitor raised: an alarm, or a notice (a not-back-home kind, counted apart). */
export interface RaisedFinding {
  atMs: number;
  kind: string;
  reason: string;
  context: string;
}

/** How a reminder on the device ended: the button, another sign of life from a sensor, or nothing (the alarm). */
export type ReminderAnswer = 'button' | 'sensor' | 'none';

/** One reminder: the monitor's context of the silence it was for (`sleep`, `day`, `seated`…) and how it ended. */
export interface ReminderOutcome {
  atMs: number;
  context: string;
  answer: ReminderAnswer;
}

export interface RunResult {
  /** Findings of alarm kinds (in an ordinary life, every one is a false alarm). */
  alarms: RaisedFinding[];
  /** Findings of notice kinds (`notBack`). */
  notices: RaisedFinding[];
  reminds: number[];
  /** Every reminder with its outcome (one still open at the end of the run counts as unanswered). */
  reminderOutcomes: ReminderOutcome[];
  snapshots: Snapshot[];
}

/**
 * Feeds events through a new monitor in accelerated time. `answer` may return
 * the time of a button press answering a reminder; `snapshotAt` (sorted) are
 * moments at which the monitor's state is exported.
 */
export function runMonitor(opts: {
  events: readonly SensorEvent[];
  timeZone: string;
  startMs: number;
  endMs: number;
  answer?: (remindAtMs: number) => number | undefined;
  snapshotAt?: readonly number[];
  onOutput?: (o: DetectorOutput) => void;
  config: Partial<InactivityConfig>;
}): RunResult {
  const clock = new FakeClock(opts.startMs);
  const result: RunResult = { alarms: [], notices: [], reminds: [], reminderOutcomes: [], snapshots: [] };
  // The reminder waiting for an answer: the first sign of life after it (or the alarm) says how it ended.
  let open: ReminderOutcome | undefined;
  const close = (answer: ReminderAnswer) => {
    if (open !== undefined) open.answer = answer;
    open = undefined;
  };
  const monitor: InactivityMonitor = new InactivityMonitor({
    clock,
    config: opts.config,
    emit: (o) => {
      opts.onOutput?.(o);
      if (o.type === 'remind') {
        result.reminds.push(o.atMs);
        open = { atMs: o.atMs, context: monitor.watchOf(SUBJECT)?.context ?? '', answer: 'none' };
        result.reminderOutcomes.push(open);
        const at = opts.answer?.(o.atMs);
        // The person answers on the same clock, so the answer lands inside the grace period.
        if (at !== undefined) {
          clock.setTimeout(() => {
            const pending = open !== undefined;
            if (monitor.observe(SUBJECT, { atMs: at, source: 'button', sensorId: BUTTON }) && pending) close('button');
          }, at - o.atMs);
        }
      } else if (o.type === 'alarm') {
        const raised = { atMs: o.finding.eventTs, kind: o.finding.kind, reason: o.finding.reason, context: String(o.finding.details?.context ?? '') };
        (isNoticeKind(raised.kind) ? result.notices : result.alarms).push(raised);
        if (o.finding.kind === 'inactivity') close('none');
      }
    },
  });
  monitor.register({ subjectId: SUBJECT, timeZone: opts.timeZone, deviceIds: [BUTTON] });
  monitor.start();
  const snaps = opts.snapshotAt ?? [];
  let si = 0;
  const snapshot = (at: number) => {
    clock.set(at);
    const state = monitor.exportState(SUBJECT);
    if (state !== undefined) result.snapshots.push({ atMs: at, state });
  };
  for (const e of opts.events) {
    if (e.atMs >= opts.endMs) break;
    // Snapshots due before this event.
    while (si < snaps.length && (snaps[si] ?? Infinity) <= e.atMs) snapshot(snaps[si++] ?? 0);
    clock.set(e.atMs);
    if (monitor.observe(SUBJECT, toActivity(e))) close('sensor');
  }
  for (; si < snaps.length && (snaps[si] ?? Infinity) < opts.endMs; si++) snapshot(snaps[si] ?? 0);
  clock.set(opts.endMs);
  monitor.stop();
  return result;
}

/** What the monitor raised first after an incapacitation (alarm or notice); nothing within `giveUpMs` leaves it undefined. */
export interface Detection {
  alarmAtMs?: number;
  kind?: string;
  context?: string;
}

/** From a snapshot, with only `tail` happening afterwards: when the first alarm or notice comes (undefined: not within `giveUpMs`). */
export function detect(snapshot: Snapshot, tail: readonly SensorEvent[], timeZone: string, config: Partial<InactivityConfig>, giveUpMs: number): Detection {
  const clock = new FakeClock(snapshot.atMs);
  let found: Detection = {};
  const monitor = new InactivityMonitor({
    clock,
    config,
    emit: (o) => {
      if (o.type === 'alarm' && found.alarmAtMs === undefined) found = { alarmAtMs: o.finding.eventTs, kind: o.finding.kind, context: String(o.finding.details?.context ?? '') };
    },
  });
  monitor.register({ subjectId: SUBJECT, timeZone, deviceIds: [BUTTON], state: snapshot.state });
  monitor.start();
  const giveUp = snapshot.atMs + giveUpMs;
  for (const e of tail) {
    if (found.alarmAtMs !== undefined || e.atMs > giveUp) break;
    clock.set(Math.max(e.atMs, snapshot.atMs));
    monitor.observe(SUBJECT, toActivity(e));
  }
  if (found.alarmAtMs === undefined) clock.set(giveUp);
  monitor.stop();
  return found;
}

/** The baseline's false alarms: every stretch of 12 h without a sensor firing between `fromMs` and `toMs`. */
export function baselineSilences(events: readonly SensorEvent[], fromMs: number, toMs: number): { alarms: number } {
  let last = fromMs;
  let alarms = 0;
  for (const e of events) {
    if (e.atMs >= toMs) break;
    if (!isBaselineActivity(e)) continue;
    if (e.atMs - last >= BASELINE_SILENCE_MS) alarms++;
    last = e.atMs;
  }
  if (toMs - last >= BASELINE_SILENCE_MS) alarms++;
  return { alarms };
}

/** A sensor firing as the baseline counts it: any "on", any door, bed, chair or cupboard change. */
export function isBaselineActivity(e: SensorEvent): boolean {
  return e.value === 1 || e.kind === 'door' || e.kind === 'bed' || e.kind === 'chair' || e.kind === 'cupboard';
}

/** When the baseline finds an incident at `t`: 12 h after the last sensor firing (before or after t, stuck sensors included). */
export function baselineDetect(events: readonly SensorEvent[], t: number, tail: readonly SensorEvent[], giveUpMs: number): number | undefined {
  let last = t;
  for (let k = firstIndexAtOrAfter(events, t) - 1; k >= 0; k--) {
    const e = events[k];
    if (e !== undefined && isBaselineActivity(e)) {
      last = e.atMs;
      break;
    }
  }
  for (const e of tail) {
    if (e.atMs - last >= BASELINE_SILENCE_MS) break;
    if (isBaselineActivity(e)) last = e.atMs;
  }
  const alarm = last + BASELINE_SILENCE_MS;
  return alarm - t <= giveUpMs ? alarm : undefined;
}
