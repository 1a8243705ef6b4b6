/**
 * The alarm case's state machine, as pure functions: which moves a case may
 * make, what each records and tells the device, and how a repeated trigger
 * of a case is folded into it. The store (server/src/alarms/alarm-store.ts)
 * keeps the rows; the rules are here.
 */
import { ACTIVE_STATUSES, type AlarmAction, type AlarmStatus, type DeviceCommand } from '@kanjia/protocol';

export type TransitionAction = 'take' | 'onTheWay' | 'onSite' | 'resolve' | 'cancel';

export interface Transition {
  from: readonly AlarmStatus[];
  to: AlarmStatus;
  /** The history entry the move writes. */
  history: AlarmAction;
  /** Command that tells the device (beep) what happened; null: the device hears nothing. */
  command: DeviceCommand['type'] | null;
}

export const TRANSITIONS: Readonly<Record<TransitionAction, Transition>> = {
  take: { from: ['open'], to: 'taken', history: 'taken', command: 'taken' },
  // A helper who says "on my way" or arrives has taken the case, even if they skipped "take".
  onTheWay: { from: ['open', 'taken'], to: 'onTheWay', history: 'onTheWay', command: 'onTheWay' },
  onSite: { from: ['open', 'taken', 'onTheWay'], to: 'onSite', history: 'onSite', command: null },
  resolve: { from: ACTIVE_STATUSES, to: 'resolved', history: 'resolved', command: 'resolved' },
  cancel: { from: ACTIVE_STATUSES, to: 'cancelled', history: 'cancelled', command: 'cancelled' },
};

/** Why a move was refused, as the API's error codes say it. */
export type TransitionRefusal = 'ALARM_CLOSED' | 'ALARM_ALREADY_TAKEN' | 'ALARM_WRONG_STATE';

export type TransitionDecision =
  /** Nothing to do: the same person taking a case twice (a double click). */
  | { kind: 'unchanged' }
  | { kind: 'refused'; code: TransitionRefusal; message: string }
  | {
      kind: 'move';
      to: AlarmStatus;
      history: AlarmAction;
      command: DeviceCommand['type'] | null;
      /** The mover becomes the case's taker (nobody had taken it, and this is not a cancel). */
      takes: boolean;
      /** The case closes: resolved or cancelled. */
      closes: boolean;
    };

/** The case as the state machine needs it. */
export interface CaseState {
  id: string;
  status: AlarmStatus;
  takenBy: string | null;
}

/** What `action` by `by` does to a case, or why it may not. */
export function decideTransition(state: CaseState, action: TransitionAction, by: string): TransitionDecision {
  const t = TRANSITIONS[action];
  if (action === 'take' && state.status === 'taken' && state.takenBy === by) return { kind: 'unchanged' };
  if (!t.from.includes(state.status)) {
    if (isClosed(state.status)) return { kind: 'refused', code: 'ALARM_CLOSED', message: `alarm ${state.id} is already ${state.status}` };
    if (action === 'take') return { kind: 'refused', code: 'ALARM_ALREADY_TAKEN', message: `alarm ${state.id} was already taken by ${state.takenBy ?? 'someone'}` };
    return { kind: 'refused', code: 'ALARM_WRONG_STATE', message: `alarm ${state.id} is ${state.status}; it cannot go to ${t.to}` };
  }
  return { kind: 'move', to: t.to, history: t.history, command: t.command, takes: state.takenBy === null && t.to !== 'cancelled', closes: isClosed(t.to) };
}

/** Resolved or cancelled: nobody has anything left to do. */
export function isClosed(status: AlarmStatus): boolean {
  return status === 'resolved' || status === 'cancelled';
}

// ---- repeated triggers --------------------------------------------------------

/**
 * The status of the case a repeated trigger (another press, another CO
 * finding) joins. Only a case nobody has taken yet absorbs a repeat: once
 * somebody has taken it, a new press may mean things got worse (or the case
 * was forgotten), so it opens a new case that rings and texts again.
 */
export const ABSORBS_REPEATS: AlarmStatus = 'open';

/**
 * A repeated trigger of an open case after this long since the one before is
 * a new line in the history ("she pressed again 40 minutes later" is news for
 * the officer); repeats closer together only count (a stuck button: one line).
 */
export const REPEAT_NOTE_AFTER_MS = 10 * 60_000;

/** What the case keeps of its repeats. */
export interface RepeatState {
  openedAt: number;
  /** Triggers in all, the first included. */
  repeatCount: number;
  /** The latest repeated trigger; null when triggered once. */
  repeatLastAt: number | null;
}

export interface FoldedRepeat {
  repeatCount: number;
  repeatLastAt: number;
  /** Write a history line for this repeat: the first repeat, or one after a pause. */
  noteInHistory: boolean;
}

/**
 * A repeat folded into the case's count: a stuck button pressing 20 times a
 * second is one history line and a number, not a line per press.
 */
export function foldRepeat(state: RepeatState, nowMs: number): FoldedRepeat {
  const previousAt = state.repeatLastAt ?? state.openedAt;
  return {
    repeatCount: state.repeatCount + 1,
    repeatLastAt: Math.max(nowMs, previousAt),
    noteInHistory: state.repeatCount === 1 || nowMs - previousAt >= REPEAT_NOTE_AFTER_MS,
  };
}

// ---- history ------------------------------------------------------------------

/**
 * The most history entries a case keeps. Beyond it the oldest system entries
 * (repeats, escalations, notes nobody signed) are dropped and counted; what a
 * person did (opened, took, went, arrived, resolved, cancelled, the resident's
 * cancel press) is never dropped.
 */
export const HISTORY_CAP = 200;

/** A history entry HISTORY_CAP may drop: written by the system (nobody signed it), and not the opening. */
export function isDroppableHistory(entry: { action: AlarmAction; by: string | null }): boolean {
  return entry.by === null && entry.action !== 'opened';
}
